# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

import pytest
from ansible_collections.opsforge.webstack.plugins.module_utils import auto_conf as ac
from ansible_collections.opsforge.webstack.plugins.module_utils import standby as sb
from ansible_collections.opsforge.webstack.plugins.modules import pg_standby as mod

SYSID = "7310000000000000001"
HISTORY_2 = "1\t0/3000148\tno recovery target specified\n"


def params(**overrides):
    base = {
        "primary_host": "db1",
        "primary_port": 5432,
        "replication_user": "replicator",
        "replication_password": "r-secret",
        "slot_name": "db2",
        "application_name": "db2",
        "data_directory": "/var/lib/postgresql/15/main",
        "os_user": "postgres",
        "rewind_user": None,
        "rewind_password": None,
        "rewind_dbname": "postgres",
        "checkpoint": "fast",
        "reclone": False,
        "stop_running_primary": False,
        "wait_timeout": 120,
        "start_command": None,
        "stop_command": None,
    }
    base.update(overrides)
    return base


WANTED_CONNINFO = "user=replicator password=r-secret host=db1 port=5432 application_name=db2 sslmode=prefer"


def local(**overrides):
    """A running standby streaming from db1 with the wanted settings."""
    base = {
        "path": "/var/lib/postgresql/15/main",
        "exists": True,
        "empty": False,
        "has_pg_version": True,
        "standby_signal": True,
        "running": True,
        "in_recovery": True,
        "system_identifier": SYSID,
        "timeline": 1,
        "lsn": "0/3000000",
        "primary_conninfo": WANTED_CONNINFO,
        "primary_slot_name": "db2",
        "wal_receiver": {"status": "streaming", "sender_host": "db1", "sender_port": 5432},
    }
    base.update(overrides)
    return base


PRIMARY = {"system_identifier": SYSID, "timeline": 1, "lsn": "0/3000100", "history": ""}


# ---------------------------------------------------------------- decide_action


def test_none_when_streaming_with_wanted_settings():
    assert sb.decide_action(local(), params())[0] == sb.NONE


@pytest.mark.parametrize(
    "where",
    [
        {"exists": False, "empty": True, "has_pg_version": False, "running": False},
        {"empty": True, "has_pg_version": False, "running": False},
    ],
)
def test_clone_when_missing_or_empty(where):
    assert sb.decide_action(local(**where), params())[0] == sb.CLONE


def test_clone_when_reclone_even_over_a_running_primary():
    action, reason = sb.decide_action(local(in_recovery=False), params(reclone=True))
    assert (action, reason) == (sb.CLONE, "reclone=true")


def test_refuses_a_running_primary():
    with pytest.raises(sb.Refused, match=r"running primary.*stop_running_primary=true.*reclone=true"):
        sb.decide_action(local(in_recovery=False, wal_receiver=None), params(), PRIMARY)


def test_rewinds_a_running_primary_when_allowed_and_the_target_is_newer():
    newer = dict(PRIMARY, timeline=2, history=HISTORY_2)
    action, _reason = sb.decide_action(local(in_recovery=False), params(stop_running_primary=True), newer)
    assert action == sb.REWIND


def test_never_stops_a_running_primary_without_proof_of_a_newer_primary():
    allowed = params(stop_running_primary=True)
    with pytest.raises(sb.Refused, match="could not be asked for its timeline"):
        sb.decide_action(local(in_recovery=False), allowed, None)
    with pytest.raises(sb.Refused, match="not newer than this running primary"):
        sb.decide_action(local(in_recovery=False), allowed, PRIMARY)


def test_rewinds_a_stopped_former_primary():
    stopped = local(running=False, in_recovery=False, standby_signal=False, wal_receiver=None)
    action, reason = sb.decide_action(stopped, params(), PRIMARY)
    assert action == sb.REWIND and "former primary" in reason


def test_refuses_a_non_data_directory():
    with pytest.raises(sb.Refused, match="not a PostgreSQL data directory"):
        sb.decide_action(local(has_pg_version=False, running=False), params())


def test_refuses_another_cluster():
    other = dict(PRIMARY, system_identifier="999")
    with pytest.raises(sb.Refused, match="another cluster"):
        sb.decide_action(local(running=False, standby_signal=True), params(), other)


def test_rewinds_a_standby_on_a_diverged_timeline():
    diverged = local(timeline=1, lsn="0/3000200", wal_receiver={"status": "waiting"})
    primary = dict(PRIMARY, timeline=2, history=HISTORY_2)
    action, reason = sb.decide_action(diverged, params(), primary)
    assert action == sb.REWIND and "left the history" in reason


def test_standby_behind_the_switch_point_just_follows():
    behind = local(timeline=1, lsn="0/3000000", wal_receiver={"status": "waiting"})
    primary = dict(PRIMARY, timeline=2, history=HISTORY_2)
    assert sb.decide_action(behind, params(), primary)[0] == sb.NONE


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"primary_host": "db3"}, "host"),
        ({"primary_port": 5433}, "port"),
        ({"application_name": "other"}, "application_name"),
        ({"replication_password": "new"}, "password"),
        ({"slot_name": "other"}, "primary_slot_name"),
        ({"slot_name": None}, "primary_slot_name"),
    ],
)
def test_configure_when_settings_differ(change, named):
    action, reason = sb.decide_action(local(), params(**change), PRIMARY)
    assert action == sb.CONFIGURE and named in reason


def test_unset_optional_values_are_not_compared():
    assert sb.decide_action(local(), params(application_name=None, replication_password=None))[0] == sb.NONE


def test_start_when_configured_but_stopped():
    stopped = local(running=False, in_recovery=False, wal_receiver=None)
    assert sb.decide_action(stopped, params(), PRIMARY)[0] == sb.START


# ---------------------------------------------------------------- probing, plan and commands


def test_needs_primary_probe():
    assert sb.needs_primary_probe(local(), params()) is False
    assert sb.needs_primary_probe(local(wal_receiver={"status": "waiting"}), params()) is True
    assert sb.needs_primary_probe(local(exists=False, empty=True), params()) is False
    assert sb.needs_primary_probe(local(running=False), params()) is True
    assert sb.needs_primary_probe(local(), params(reclone=True)) is False


def test_default_commands():
    start, stop = sb.default_commands(15, "main")
    assert start == ["pg_ctlcluster", "15", "main", "start"]
    assert stop == ["pg_ctlcluster", "15", "main", "stop", "-m", "fast"]


def test_as_user_only_wraps_for_root():
    assert sb.as_user(["pg_rewind"], "postgres", 0) == ["runuser", "-u", "postgres", "--", "pg_rewind"]
    assert sb.as_user(["pg_rewind"], "postgres", 101) == ["pg_rewind"]


def test_basebackup_command_has_no_password():
    cmd = sb.basebackup_command("/usr/lib/postgresql/15/bin", "/data", params())
    assert cmd[0] == "/usr/lib/postgresql/15/bin/pg_basebackup"
    assert cmd[cmd.index("-S") + 1] == "db2" and cmd[cmd.index("-X") + 1] == "stream" and "-w" in cmd
    assert "r-secret" not in " ".join(cmd)
    assert "-S" not in sb.basebackup_command("/b", "/data", params(slot_name=None))


def test_rewind_command_and_credentials():
    cmd = sb.rewind_command("/b", "/data", params(), "/etc/postgresql/15/main/postgresql.conf")
    assert "--source-server=host=db1 port=5432 user=replicator dbname=postgres sslmode=prefer" in cmd
    assert "--config-file=/etc/postgresql/15/main/postgresql.conf" in cmd
    assert "--restore-target-wal" not in cmd
    assert "--restore-target-wal" in sb.rewind_command("/b", "/data", params(restore_target_wal=True))
    assert sb.rewind_credentials(params()) == ("replicator", "r-secret")
    assert sb.rewind_credentials(params(rewind_user="rw", rewind_password="w")) == ("rw", "w")


def test_plan_for_clone_over_a_running_node():
    plan = sb.build_plan(sb.CLONE, local(), params(reclone=True), "/b", ["start"], ["stop"], 0)
    kinds = [step.kind for step in plan]
    assert kinds == ["run", "clear", "run_as", "write_settings", "signal", "run"]
    assert plan[0].argv == ["stop"] and plan[-1].argv == ["start"]
    assert plan[2].argv[:4] == ["runuser", "-u", "postgres", "--"]


def test_plan_for_clone_into_a_missing_directory():
    plan = sb.build_plan(sb.CLONE, local(exists=False, running=False), params(), "/b", ["start"], ["stop"], 101)
    assert [step.kind for step in plan] == ["mkdir", "run_as", "write_settings", "signal", "run"]


def test_plan_for_configure_reloads_a_running_server():
    plan = sb.build_plan(sb.CONFIGURE, local(), params(), "/b", ["start"], ["stop"], 0)
    assert [step.kind for step in plan] == ["write_settings", "signal", "reload"]
    assert sb.build_plan(sb.NONE, local(), params(), "/b", ["start"], ["stop"], 0) == []


def test_describe_plan_masks_passwords():
    plan = sb.build_plan(sb.CLONE, local(exists=False, running=False), params(), "/b", ["start"], ["stop"], 0)
    lines = sb.describe_plan(plan, ["r-secret", None], "/data")
    text = "\n".join(lines)
    assert "r-secret" not in text and "********" in text and "pg_basebackup" in text


# ---------------------------------------------------------------- postgresql.auto.conf


def test_update_auto_conf_replaces_only_our_keys():
    current = (
        "# Do not edit this file manually!\n"
        "max_connections = '200'\n"
        "primary_conninfo = 'host=old'\n"
        "PRIMARY_SLOT_NAME = 'old'\n"
    )
    new = ac.update_auto_conf(current, {"primary_conninfo": "host=db1 password='x'", "primary_slot_name": None})
    settings = ac.parse_auto_conf(new)
    assert settings == {"max_connections": "200", "primary_conninfo": "host=db1 password='x'"}
    assert new.startswith("# Do not edit this file manually!")


def test_update_auto_conf_on_empty_file_adds_header():
    new = ac.update_auto_conf("", {"primary_slot_name": "db2"})
    assert new.splitlines()[0].startswith("#") and ac.parse_auto_conf(new) == {"primary_slot_name": "db2"}


def test_parse_auto_conf_escapes():
    text = "a = 'it''s'\nb = 'back\\\\slash'\nc = 5 # comment\n"
    assert ac.parse_auto_conf(text) == {"a": "it's", "b": "back\\slash", "c": "5"}


def test_quote_guc_round_trip():
    for value in ["plain", "it's", "back\\slash", "user=r password='p w'"]:
        assert ac.parse_auto_conf("k = " + ac.quote_guc(value))["k"] == value


def test_conninfo_differences():
    pairs = sb.desired_conninfo_pairs(params())
    assert sb.conninfo_differences(WANTED_CONNINFO, pairs) == []
    assert sb.conninfo_differences("host=db1", pairs) == ["user", "password", "port", "application_name", "sslmode"]
    assert sb.conninfo_differences("password='broken", pairs) == ["primary_conninfo (unparseable)"]


def test_every_connection_to_the_primary_verifies_it_with_tls():
    tls = params(ssl_mode="verify-full", ca_cert="/etc/postgresql/15/main/tls/ca.crt")
    wanted = "sslmode=verify-full sslrootcert=/etc/postgresql/15/main/tls/ca.crt"
    assert sb.standby_settings(tls)["primary_conninfo"].endswith(wanted)
    assert sb.basebackup_command("/b", "/data", tls)[4].endswith(wanted)
    assert sb.rewind_command("/b", "/data", tls)[3].endswith(wanted)
    # A standby that streams without TLS is reconfigured (a reload), and so is one that must stop verifying.
    assert sb.conninfo_differences(WANTED_CONNINFO, sb.desired_conninfo_pairs(tls)) == ["sslmode", "sslrootcert"]
    assert sb.conninfo_differences(
        WANTED_CONNINFO.replace("prefer", "verify-full"), sb.desired_conninfo_pairs(params())
    ) == ["sslmode"]


def test_is_streaming_from():
    assert sb.is_streaming_from({"status": "streaming", "sender_host": "db1", "sender_port": 5432}, "db1", 5432)
    assert not sb.is_streaming_from({"status": "streaming", "sender_host": "db1", "sender_port": 5433}, "db1", 5432)
    assert not sb.is_streaming_from({"status": "waiting", "sender_host": "db1", "sender_port": 5432}, "db1", 5432)
    assert not sb.is_streaming_from(None, "db1", 5432)


# ---------------------------------------------------------------- arguments


def test_validate_params():
    assert "absolute path" in mod.validate_params(params(data_directory="rel"))
    assert "wait_timeout" in mod.validate_params(params(wait_timeout=0))
    assert "start_command must not be an empty list" in mod.validate_params(params(start_command=[]))
    assert mod.validate_params(params()) is None


def test_main_requires_primary_host(run_module_main):
    code, result = run_module_main(mod.main, {"data_directory": "/tmp/x"})
    assert code == 1 and "missing required arguments: primary_host" in result["msg"]


def test_main_rejects_bad_checkpoint_mode(run_module_main):
    args = {"primary_host": "db1", "data_directory": "/tmp/x", "checkpoint": "slow"}
    code, result = run_module_main(mod.main, args)
    assert code == 1 and "checkpoint" in result["msg"]


def test_main_check_mode_on_a_missing_directory(run_module_main, tmp_path):
    args = {
        "primary_host": "db1",
        "replication_password": "r-secret",
        "data_directory": str(tmp_path / "new"),
        "pg_version": 15,
        "_ansible_check_mode": True,
    }
    code, result = run_module_main(mod.main, args)
    assert code == 0, result
    assert result["decision"] == sb.CLONE and result["changed"] is True
    assert "r-secret" not in str(result)
    assert result["commands"][-1] == "pg_ctlcluster 15 main start"
    assert not (tmp_path / "new").exists()


def test_main_needs_a_version_for_default_commands(run_module_main, tmp_path):
    args = {"primary_host": "db1", "data_directory": str(tmp_path / "new"), "_ansible_check_mode": True}
    code, result = run_module_main(mod.main, args)
    assert code == 1 and "set pg_version" in result["msg"].lower()


def test_every_step_of_every_plan_describes_itself():
    for action in (sb.CLONE, sb.REWIND, sb.CONFIGURE, sb.START):
        plan = sb.build_plan(action, local(), params(), "/b", ["start"], ["stop"], 0)
        lines = sb.describe_plan(plan, [], "/data")
        assert len(lines) == len(plan) and all(lines)
    reload_plan = sb.build_plan(sb.CONFIGURE, local(), params(), "/b", ["start"], ["stop"], 0)
    assert sb.describe_plan(reload_plan, [], "/data")[-1] == "SELECT pg_reload_conf()"
    assert sb.describe_plan([sb.Run(["pg_ctl", "start"])], [], "/data") == ["pg_ctl start"]


def test_password_env_gives_the_source_password_only_to_clone_and_rewind():
    assert sb.password_env(sb.CLONE, params()) == {"PGPASSWORD": "r-secret"}
    assert sb.password_env(sb.REWIND, params()) == {"PGPASSWORD": "r-secret"}
    assert sb.password_env(sb.REWIND, params(rewind_user="rw", rewind_password="w-secret")) == {
        "PGPASSWORD": "w-secret"
    }
    assert sb.password_env(sb.CONFIGURE, params()) == {}
    assert sb.password_env(sb.CLONE, params(replication_password=None)) == {}


def test_read_auto_conf_is_empty_only_when_the_file_is_missing(tmp_path):
    assert ac.read_auto_conf(str(tmp_path)) == ""
    (tmp_path / "postgresql.auto.conf").mkdir()
    with pytest.raises(OSError):
        ac.read_auto_conf(str(tmp_path))
