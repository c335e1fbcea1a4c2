"""Monitoring on the lab: an object store that refuses the primary fires WebstackWalArchiveFailing, which clears
once the archive has caught up. (The other faults are test_monitoring.py's; this one waits mostly on the archiver,
so it has a module of its own, which runs beside the app tier's tests.)
"""

import shlex

from alerts import firing, wait_for
from conftest import on_host, primary

# For the tests beside it (conftest.LAB_PARTS): makes archiving fail on the primary and waits for the alert.
LAB_USES = {"backup": "exclusive", "database": "shared", "monitoring": "exclusive", "primary": "shared"}

# A WAL record, then a switch to the next segment: one more segment for the archiver. The query returns the name of
# the segment it completed.
NEW_WAL = (
    "SELECT pg_walfile_name(lsn) FROM "
    "(SELECT pg_logical_emit_message(false, 'webstack-test', 'x'), pg_switch_wal() AS lsn) AS switched"
)
ARCHIVE_FAILING = (
    "SELECT coalesce(last_failed_time > coalesce(last_archived_time, 'epoch'), false) FROM pg_stat_archiver"
)


def psql_row(host, query):
    return on_host(host, f"runuser -u postgres -- psql -XAtqc {shlex.quote(query)}")


def test_an_object_store_that_refuses_the_primary_fires_wal_archive_failing():
    database = primary()
    address = on_host(database, "hostname -I").split()[0]

    def export_archive_state():
        # It fails while pgBackRest cannot read the store, after it has written the archive's state.
        on_host(database, "systemctl start webstack-backup-metrics.service || true")

    def archiving_fails():
        psql_row(database, NEW_WAL)
        return psql_row(database, ARCHIVE_FAILING) == "t"

    # The store answers the primary with resets (a rule put first in s3's firewall): archive-push fails at once, where
    # a silent drop would first wait out pgBackRest's timeouts. Reloading the firewall takes the rule out again.
    on_host(
        "s3", f"nft insert rule inet webstack_firewall input ip saddr {address} tcp dport 9000 reject with tcp reset"
    )
    try:
        wait_for("archive_command failing", archiving_fails, timeout=120)
        export_archive_state()
        wait_for("WebstackWalArchiveFailing", lambda: firing("WebstackWalArchiveFailing"), timeout=180)
    finally:
        on_host("s3", "systemctl reload nftables.service")
    # The archiver takes the segments in order: once this one is archived, every failed one is. A new segment wakes
    # an archiver that sleeps after its failures (up to a minute).
    newest = psql_row(database, NEW_WAL)

    def archive_caught_up():
        if psql_row(database, f"SELECT last_archived_wal >= '{newest}' FROM pg_stat_archiver") == "t":
            return True
        psql_row(database, NEW_WAL)
        return False

    wait_for("the archive caught up", archive_caught_up, timeout=180)
    export_archive_state()
    wait_for("WebstackWalArchiveFailing cleared", lambda: not firing("WebstackWalArchiveFailing"), timeout=180)
    # Later tests count archive failures from here.
    psql_row(database, "SELECT pg_stat_reset_shared('archiver')")
    on_host(database, "systemctl start webstack-backup-metrics.service")
