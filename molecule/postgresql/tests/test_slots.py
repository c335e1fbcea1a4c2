"""Replication slots cannot fill the primary's disk: bounded WAL, former members' slots dropped, idle ones reported.

The role runs again (`tier.run_the_role`: the scenario's converge.yml, or site.yml's PostgreSQL role on the lab)
on the two members while the standby is stopped, with a slot left by a member that is no longer in the inventory
and a slot of another tool on the primary.
"""

import re


# The member's own major version (its Debian release's: 15 on bookworm, 17 on trixie), read from the host.
def version(host):
    return host.check_output("ls /etc/postgresql").split()[0]


def record(host):
    return f"/etc/postgresql/{version(host)}/main/webstack-member-slots"


# Slots the role did not make for a current member: one it recorded for a host that has left, and another tool's.
FORMER_MEMBER_SLOT = "former_member"
FOREIGN_SLOT = "barman_probe"


def sql(host, query, database="postgres"):
    return host.check_output(f'runuser -u postgres -- psql -XAtq -d {database} -c "{query}"')


def slots(host):
    return set(sql(host, "SELECT slot_name FROM pg_replication_slots").split())


def said(out):
    """The output without colours and with every run of white space made one space (long messages are wrapped)."""
    return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", out).split())


def test_slots_keep_a_bounded_amount_of_wal(tier):
    for host in (tier.primary, tier.standby):
        assert sql(host, "SHOW max_slot_wal_keep_size") == "8GB"
    # The role remembers the members whose slots it keeps, on every member.
    for host in (tier.primary, tier.standby):
        lines = host.file(record(host)).content_string.splitlines()
        assert [line for line in lines if not line.startswith("#")] == tier.member_slots


def test_former_members_slots_dropped_idle_ones_reported_others_left_alone(tier):
    primary, standby = tier.primary, tier.standby
    primary.check_output(f"echo {FORMER_MEMBER_SLOT} >> {record(primary)}")
    try:
        for slot in (FORMER_MEMBER_SLOT, FOREIGN_SLOT):
            sql(primary, f"SELECT pg_create_physical_replication_slot('{slot}', true)")
        sql(
            primary,
            "CREATE TABLE IF NOT EXISTS slot_probe (v text); INSERT INTO slot_probe SELECT repeat('x', 1000)",
            "shop",
        )
        sql(primary, "SELECT pg_switch_wal()")
        # The standby is down: its slot on the primary is not in use and keeps WAL.
        standby.check_output(f"systemctl stop postgresql@{version(standby)}-main")
        try:
            rc, out = tier.run_the_role()
        finally:
            standby.run(f"systemctl start postgresql@{version(standby)}-main")
        assert rc == 0, out
        text = said(out)
        assert (
            f"[WARNING]: replication slot {tier.standby_slot} is inactive: no standby streams from it, and it keeps"
            in text
        )
        assert f"dropping slot {FORMER_MEMBER_SLOT}: its host is no longer in group postgres, and it kept" in text
        assert FOREIGN_SLOT not in text

        assert FORMER_MEMBER_SLOT not in slots(primary)
        assert FOREIGN_SLOT in slots(primary), "a slot the role never made was dropped"
        assert FORMER_MEMBER_SLOT not in primary.file(record(primary)).content_string
        # The role started the standby again, and it streams through its slot.
        assert sql(standby, "SELECT status, slot_name FROM pg_stat_wal_receiver") == f"streaming|{tier.standby_slot}"
    finally:
        # Whatever failed: no slot left keeping WAL on the primary, no probe table, the record as the role wrote it.
        probe_slots = f"('{FORMER_MEMBER_SLOT}', '{FOREIGN_SLOT}')"
        sql(
            primary,
            f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN {probe_slots}",
        )
        sql(primary, "DROP TABLE IF EXISTS slot_probe", "shop")
        primary.check_output(f"sed -i '/^{FORMER_MEMBER_SLOT}$/d' {record(primary)}")


def test_unbounded_slot_wal_refused(tier):
    rc, out = tier.run_the_role({"postgresql_max_slot_wal_keep_size": "-1"})
    assert rc != 0
    assert "postgresql_max_slot_wal_keep_size must be a size with a unit" in said(out)
    assert sql(tier.primary, "SHOW max_slot_wal_keep_size") == "8GB"
