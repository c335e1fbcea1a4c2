"""playbooks/ha_mode.yml: its refusals change nothing; then the manual cluster moves to Patroni under a writer through
PgBouncer (the old primary leads, on its timeline, with the session defaults of Debian's postgresql.conf; the replica
keeps its data and streams; Debian's unit is disabled; PgBouncer follows the leader's watcher), a second run does
nothing, the cluster moves back (Debian's unit runs both servers, Patroni is gone, PgBouncer names the primary), a
second run does nothing, and every row whose commit the writer saw acknowledged, and every row written before, is on
the primary. Around the moves: the manual mode's playbooks refuse the cluster while Patroni runs it, a check-mode run
moves nothing, a paused Patroni is not moved back, the move back leaves no Patroni file, credential or etcd key, and
a scope that etcd already holds is refused. Then each way once more with the controller killed half-way (to Patroni
once Patroni adopted the primary, back once Debian's unit runs the leader again): the move the other way is refused,
the same move goes on under the writer and ends as a whole one does; and once killed inside the primary's handover,
after which the next run finds nothing to move and ends the move (PgBouncer resumed, its watcher). The tests run in
this order; the writer's failed attempts, its longest gap between two commits, PgBouncer's pause and the playbook's
time are printed."""

from __future__ import annotations

import re
import time

from conftest import playbook, playbook_stopped_when, wait_for

PRIMARY, REPLICA = "molecule-mig-db1", "molecule-mig-db2"
START_CONF = "/etc/postgresql/17/main/start.conf"
PATRONI_CONFIG = "/etc/patroni/17-main.yml"
DATA = "/var/lib/postgresql/17/main"
MARKER = f"{DATA}/webstack-migrate-marker"  # a clone (pg_basebackup) would remove it
# What Patroni leaves on a member, which the move back removes (patroni.dynamic.json would win over the inventory's
# timing at the next move; the passwords file and the etcd client key are credentials).
PATRONI_LEFTOVERS = (
    f"{DATA}/patroni.dynamic.json",
    f"{DATA}/postgresql.conf",
    f"{DATA}/postgresql.base.conf",
    "/var/lib/postgresql/.pgpass-patroni-17-main",
    "/etc/patroni/tls",
)
# etcdctl on an etcd member, with the member's certificate, at its own address.
ETCDCTL = (
    "etcdctl --endpoints=https://$(hostname -I | cut -d' ' -f1):2379 --cacert=/etc/etcd/tls/ca.crt "
    "--cert=/etc/etcd/tls/member.crt --key=/etc/etcd/tls/member.key"
)
PATRONICTL = f"runuser -u postgres -- patronictl -c {PATRONI_CONFIG}"
SEEN: dict = {}


def recap_changes(output: str) -> dict[str, int]:
    return {host: int(changed) for host, changed in re.findall(r"^(\S+)\s*: ok=\d+\s+changed=(\d+)", output, re.M)}


def identity(cluster, member) -> str:
    return cluster.sql(
        member, "SELECT system_identifier || '/' || timeline_id FROM pg_control_system(), pg_control_checkpoint()"
    ).stdout.strip()


def session_defaults(cluster, member) -> str:
    """What Debian's postgresql.conf sets and the role does not: Patroni's base configuration keeps them."""
    return cluster.sql(
        member,
        "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings WHERE name IN "
        "('DateStyle', 'TimeZone', 'lc_messages', 'lc_monetary', 'default_text_search_config')",
    ).stdout.strip()


def assert_unchanged_manual(cluster):
    for member in cluster.hosts:
        assert cluster.units(member)["postgresql"] == ("active", "enabled"), member
        assert cluster.units(member)["patroni"][0] != "active", member
    assert cluster.primary() == PRIMARY and cluster.streaming(REPLICA)


def run_under_writer(cluster, writer, table, mode):
    before = {m: identity(cluster, m) for m in cluster.hosts}
    defaults = {m: session_defaults(cluster, m) for m in cluster.hosts}
    load = writer(table)
    time.sleep(3)
    start = time.monotonic()
    rc, out = playbook("ha_mode.yml", "-e", f"ha_mode={mode}", timeout=1500)
    took = time.monotonic() - start
    time.sleep(3)
    result = load.stop()
    assert rc == 0, out[-6000:]
    paused = re.search(r"PgBouncer was paused for (\S+) s", out)
    print(
        f"\nha_mode.yml -e ha_mode={mode}: {took:.0f} s; writer through PgBouncer: {len(result.acks)} commits, "
        f"{len(result.errors)} failed attempts {result.errors[:5]}, longest gap between two commits "
        f"{result.longest_gap:.2f} s; PgBouncer paused {paused[1] if paused else '?'} s"
    )
    SEEN[table] = result.acks
    assert not result.errors
    assert {m: identity(cluster, m) for m in cluster.hosts} == before  # same cluster, same timeline: no promotion
    assert {m: session_defaults(cluster, m) for m in cluster.hosts} == defaults
    return out


def test_refusals_change_nothing(cluster):
    marker = cluster.hosts[REPLICA].run(f"runuser -u postgres -- touch {MARKER}")
    assert marker.rc == 0
    rc, out = playbook("ha_mode.yml", "-e", "ha_mode=auto")
    assert rc != 0 and "ha_mode must be patroni or manual, not 'auto'" in out
    rc, out = playbook("ha_mode.yml", "-e", "ha_mode=patroni", "-e", "ha_mode_max_lag_bytes=-1")
    assert rc != 0 and re.search(r"molecule-mig-db2 is \d+ bytes behind \(ha_mode_max_lag_bytes=-1\)", out), out[-3000:]
    cluster.hosts[REPLICA].check_output(f"mkdir -p /etc/patroni && touch {PATRONI_CONFIG}")
    rc, out = playbook("ha_mode.yml", "-e", "ha_mode=patroni")
    cluster.hosts[REPLICA].check_output(f"rm -f {PATRONI_CONFIG}")
    assert rc != 0 and "mid-way" in out and "molecule-mig-db2 manual+config" in out, out[-3000:]
    assert_unchanged_manual(cluster)
    assert cluster.hosts[PRIMARY].run("systemctl is-active etcd").stdout.strip() != "active"


def test_a_manual_cluster_asked_for_the_manual_mode_changes_nothing():
    rc, out = playbook("ha_mode.yml", "-e", "ha_mode=manual")
    assert rc == 0 and "Nothing to do: every member of postgres runs in the manual mode already" in out
    assert set(recap_changes(out).values()) == {0}, out[-3000:]


def test_rows_written_before(cluster):
    create = cluster.sql(
        PRIMARY,
        "CREATE TABLE before_move AS SELECT g AS id, md5(g::text) AS payload FROM generate_series(1, 10000) g; "
        "ALTER TABLE before_move OWNER TO shop",
    )
    assert create.rc == 0, create.stderr
    SEEN["before_move"] = cluster.sql(
        PRIMARY, "SELECT md5(string_agg(payload, ',' ORDER BY id)) FROM before_move"
    ).stdout


def assert_patroni_runs_the_cluster(cluster):
    members = {m["Member"]: m for m in cluster.patroni_members(PRIMARY)}
    assert members["molecule_mig_db1"]["Role"] == "Leader" and members["molecule_mig_db1"]["State"] == "running"
    assert members["molecule_mig_db2"]["State"] == "streaming"
    for member, host in cluster.hosts.items():
        assert cluster.units(member) == {"postgresql": ("inactive", "disabled"), "patroni": ("active", "enabled")}
        assert "disabled" in host.file(START_CONF).content_string
    assert cluster.primary() == PRIMARY and cluster.streaming(REPLICA)
    assert cluster.hosts[REPLICA].file(MARKER).exists  # the replica kept its data directory: no clone
    assert cluster.bouncer.run("systemctl is-active webstack-pgbouncer-follow").stdout.strip() == "active"


def assert_the_manual_mode_runs_the_cluster(cluster):
    for member, host in cluster.hosts.items():
        assert cluster.units(member)["postgresql"] == ("active", "enabled")
        assert cluster.units(member)["patroni"][0] != "active"
        assert not host.file(PATRONI_CONFIG).exists
        assert "auto" in host.file(START_CONF).content_string
    assert cluster.primary() == PRIMARY and cluster.streaming(REPLICA)
    assert cluster.hosts[REPLICA].file(MARKER).exists
    assert cluster.bouncer.run("systemctl is-active webstack-pgbouncer-follow").stdout.strip() != "active"
    for host in cluster.hosts.values():
        assert [path for path in PATRONI_LEFTOVERS if host.file(path).exists] == []


def unit_active(cluster, member, unit) -> bool:
    return cluster.hosts[member].run(f"systemctl is-active {unit}").stdout.strip() == "active"


def test_to_patroni_under_a_writer(cluster, writer):
    run_under_writer(cluster, writer, "to_patroni", "patroni")
    assert_patroni_runs_the_cluster(cluster)


def test_the_manual_modes_playbooks_refuse_the_cluster_patroni_now_runs(cluster):
    # The inventory still says postgresql_ha: none (the report asks the operator to change it): a failover by hand
    # would promote a replica behind Patroni's back.
    rc, out = playbook("failover.yml")
    assert rc != 0
    assert f"{PRIMARY}'s server runs under patroni@17-main.service but postgresql_ha is none for it" in out, out[-3000:]
    assert cluster.primary() == PRIMARY and cluster.streaming(REPLICA)


def test_a_second_run_to_patroni_changes_nothing():
    rc, out = playbook("ha_mode.yml", "-e", "ha_mode=patroni")
    assert rc == 0 and "Nothing to do: every member of postgres runs in the patroni mode already" in out
    assert set(recap_changes(out).values()) == {0}, out[-3000:]


def test_a_check_mode_run_checks_and_moves_nothing(cluster):
    rc, out = playbook("ha_mode.yml", "--check", "-e", "ha_mode=manual")
    assert rc == 0, out[-3000:]
    assert "Check mode: the checks passed; a run would move cluster postgres from the patroni mode" in " ".join(
        out.split()
    )
    for member in cluster.hosts:
        assert cluster.units(member) == {"postgresql": ("inactive", "disabled"), "patroni": ("active", "enabled")}


def test_a_paused_patroni_is_not_moved_back(cluster):
    cluster.hosts[PRIMARY].check_output(f"{PATRONICTL} pause --wait")
    try:
        rc, out = playbook("ha_mode.yml", "-e", "ha_mode=manual")
    finally:
        cluster.hosts[PRIMARY].check_output(f"{PATRONICTL} resume --wait")
    assert rc != 0
    assert "cannot be moved back: Patroni's cluster is paused" in " ".join(out.split()), out[-3000:]
    assert set(recap_changes(out).values()) == {0}, out[-3000:]
    assert cluster.units(PRIMARY)["patroni"] == ("active", "enabled")


def test_back_to_manual_under_a_writer(cluster, writer):
    run_under_writer(cluster, writer, "to_manual", "manual")
    assert_the_manual_mode_runs_the_cluster(cluster)


def test_after_the_move_back_etcd_holds_nothing_of_the_cluster_and_a_scope_in_use_is_refused(cluster):
    etcd = cluster.bouncer
    assert etcd.check_output(f"{ETCDCTL} get --prefix --keys-only /service/postgres/").strip() == ""
    etcd.check_output(f"{ETCDCTL} put /service/postgres/initialize 7400000000000000000")
    try:
        rc, out = playbook("ha_mode.yml", "-e", "ha_mode=patroni")
    finally:
        etcd.check_output(f"{ETCDCTL} del --prefix /service/postgres/")
    assert rc != 0
    assert "etcd already holds 1 key(s) under /service/postgres/ (/service/postgres/initialize)" in " ".join(
        out.split()
    ), out[-3000:]
    assert set(recap_changes(out).values()) == {0}, out[-3000:]
    assert_unchanged_manual(cluster)


def test_a_second_run_to_manual_changes_nothing():
    rc, out = playbook("ha_mode.yml", "-e", "ha_mode=manual")
    assert rc == 0 and "Nothing to do: every member of postgres runs in the manual mode already" in out
    assert set(recap_changes(out).values()) == {0}, out[-3000:]


def test_a_move_to_patroni_that_stopped_half_way_is_not_turned_back_and_goes_on(cluster, writer):
    # The controller gone as soon as Patroni runs beside the primary's server (the adopt step; the replica untouched).
    playbook_stopped_when(
        lambda: unit_active(cluster, PRIMARY, "patroni@17-main"), "ha_mode.yml", "-e", "ha_mode=patroni"
    )
    assert cluster.units(PRIMARY)["postgresql"][0] == "active" and cluster.units(REPLICA)["patroni"][0] != "active"
    rc, out = playbook("ha_mode.yml", "-e", "ha_mode=manual")
    assert rc != 0, out[-3000:]
    assert "as a move to the patroni mode leaves it when it stops half-way" in " ".join(out.split()), out[-3000:]
    assert set(recap_changes(out).values()) == {0}, out[-3000:]
    out = run_under_writer(cluster, writer, "resumed_to_patroni", "patroni")
    assert "A move that stopped half-way goes on" in " ".join(out.split()), out[-3000:]
    assert_patroni_runs_the_cluster(cluster)


def test_a_move_back_that_stopped_after_the_leader_goes_on(cluster, writer):
    # The controller gone as soon as Debian's unit runs the leader's server again: perhaps inside PgBouncer's pause,
    # before the replica's step.
    playbook_stopped_when(
        lambda: unit_active(cluster, PRIMARY, "postgresql@17-main"), "ha_mode.yml", "-e", "ha_mode=manual"
    )
    assert cluster.units(REPLICA)["patroni"][0] == "active"
    rc, out = playbook("ha_mode.yml", "-e", "ha_mode=patroni")
    assert rc != 0, out[-3000:]
    assert "as a move to the manual mode leaves it when it stops half-way" in " ".join(out.split()), out[-3000:]
    out = run_under_writer(cluster, writer, "resumed_to_manual", "manual")
    assert "A move that stopped half-way goes on" in " ".join(out.split()), out[-3000:]
    assert_the_manual_mode_runs_the_cluster(cluster)


def test_a_move_to_patroni_that_stopped_in_the_primarys_handover_ends_on_the_next_run(cluster, writer):
    # Stopped inside PgBouncer's pause, once Debian's unit stopped the primary's server (Patroni starts it again):
    # every member runs under Patroni, PgBouncer is paused and its watcher is not there yet.
    def handing_over() -> bool:
        return unit_active(cluster, PRIMARY, "patroni@17-main") and not unit_active(
            cluster, PRIMARY, "postgresql@17-main"
        )

    playbook_stopped_when(handing_over, "ha_mode.yml", "-e", "ha_mode=patroni")
    assert wait_for(lambda: cluster.primary() == PRIMARY, 60)
    out = run_under_writer(cluster, writer, "finished_to_patroni", "patroni")
    assert "Nothing to do: every member of postgres runs in the patroni mode already" in " ".join(out.split())
    assert_patroni_runs_the_cluster(cluster)
    rc, out = playbook("ha_mode.yml", "-e", "ha_mode=manual", timeout=1500)
    assert rc == 0, out[-6000:]
    assert_the_manual_mode_runs_the_cluster(cluster)


def test_every_committed_row_is_there(cluster):
    checksum = cluster.sql(PRIMARY, "SELECT md5(string_agg(payload, ',' ORDER BY id)) FROM before_move").stdout
    assert checksum == SEEN["before_move"]
    for table in ("to_patroni", "to_manual", "resumed_to_patroni", "resumed_to_manual", "finished_to_patroni"):
        stored = set(map(int, cluster.sql(PRIMARY, f"SELECT id FROM {table}").stdout.split()))
        acked = set(SEEN[table])
        print(f"\n{table}: {len(acked)} commits acknowledged, {len(stored)} rows stored, missing {len(acked - stored)}")
        assert acked <= stored
        # The replica streams them too.
        count, rows = f"SELECT count(*) FROM {table}", len(stored)
        assert wait_for(lambda q=count, n=rows: int(cluster.sql(REPLICA, q).stdout or 0) == n, 30)
