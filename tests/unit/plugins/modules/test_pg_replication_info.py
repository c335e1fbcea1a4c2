# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from ansible_collections.opsforge.webstack.plugins.modules import pg_replication_info as mod


def test_summarize_wal_receiver_drops_the_password():
    row = {
        "status": "streaming",
        "sender_host": "10.0.0.11",
        "sender_port": 5432,
        "slot_name": "db2",
        "received_tli": "3",
        "flushed_lsn": "0/3000148",
        "conninfo": "user=replicator password=******** host=10.0.0.11 port=5432",
    }
    shaped = mod.summarize_wal_receiver(row)
    assert shaped["conninfo"] == "user=replicator host=10.0.0.11 port=5432"
    assert shaped["received_tli"] == 3
    assert row["conninfo"].startswith("user=replicator password")  # input left alone
    assert mod.summarize_wal_receiver(None) is None


def test_retained_bytes():
    slots = [
        {"name": "a", "restart_lsn": "0/1000000"},
        {"name": "b", "restart_lsn": None},
        {"name": "c", "restart_lsn": "0/3000000"},
    ]
    shaped = mod.retained_bytes(slots, "0/2000000")
    assert [s["retained_bytes"] for s in shaped] == [0x1000000, None, 0]
    assert "retained_bytes" not in slots[0]
    assert mod.retained_bytes(slots, None)[0]["retained_bytes"] is None


def test_standby_replay_lag_bytes():
    assert mod.standby_replay_lag_bytes("0/3000100", "0/3000000") == 0x100
    assert mod.standby_replay_lag_bytes("0/3000000", "0/3000100") == 0
    assert mod.standby_replay_lag_bytes(None, "0/1") is None


def test_main_fails_cleanly_when_nothing_listens(run_module_main):
    code, result = run_module_main(mod.main, {"login_host": "127.0.0.1", "login_port": 1, "connect_timeout": 2})
    assert code == 1 and result["msg"].startswith("Could not connect to PostgreSQL as postgres@127.0.0.1:1")


def test_main_rejects_unknown_options(run_module_main):
    code, result = run_module_main(mod.main, {"role": "primary"})
    assert code == 1 and "Unsupported parameters" in result["msg"]


def test_inactive_slot_warnings_name_the_slot_and_its_wal():
    slots = [
        {"name": "db2", "active": False, "retained_bytes": 50331648, "wal_status": "reserved"},
        {"name": "db3", "active": True, "retained_bytes": 0, "wal_status": "reserved"},
        {"name": "barman", "active": False, "retained_bytes": 1, "wal_status": "reserved"},
        {"name": "db4", "active": False, "retained_bytes": None, "wal_status": None},
    ]
    warnings = mod.inactive_slot_warnings(slots, ["db2", "db3", "db4", "db5"])
    assert len(warnings) == 2
    assert warnings[0].startswith("replication slot db2 is inactive")
    assert "50331648 bytes (48.0 MiB) of WAL" in warnings[0]
    assert "an unknown amount of WAL" in warnings[1]
    assert mod.inactive_slot_warnings(slots, []) == []
