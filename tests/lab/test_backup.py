"""Backups that can be restored: pgBackRest to the lab's object store, point in time, and refusals.

Each test reads the cluster as it finds it (which member is primary, which backups exist) and leaves the
cluster serving; the scratch host drill1 is overwritten by every restore.
"""

import subprocess
import time

from conftest import failure, on_host, playbook, primary, psql, scratch_data_stamp, writes_through_pgbouncer

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): switches over and back, restores onto drill1,
# rewrites the store key.
LAB_USES = {"backup": "exclusive", "database": "shared", "drill": "exclusive", "primary": "exclusive"}

TABLE = "webstack_pitr_probe"
RESTORE_COMMAND_IN_AUTO_CONF = (
    "SELECT count(*) FROM pg_file_settings WHERE name = 'restore_command' AND sourcefile LIKE '%auto.conf'"
)


def archived(host):
    """Switch to a new WAL segment and wait until the one holding everything so far is archived."""
    segment = psql(host, "SELECT pg_walfile_name(pg_current_wal_lsn())")
    psql(host, "SELECT pg_switch_wal()")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if psql(host, "SELECT last_archived_wal FROM pg_stat_archiver") >= segment:
            return
        time.sleep(1)
    raise AssertionError(
        f"{host} did not archive {segment} within 90 s: {psql(host, 'SELECT * FROM pg_stat_archiver')}"
    )


def backup_labels(host):
    return on_host(
        host,
        'runuser -u postgres -- pgbackrest --stanza=webstack --output=json info | grep -o \'"label":"[^"]*"\' || true',
    )


def test_a_point_in_time_restore_onto_a_scratch_host_brings_back_exactly_the_rows_before_the_target():
    host = primary()
    psql(host, f"DROP TABLE IF EXISTS {TABLE}; CREATE TABLE {TABLE} (id int PRIMARY KEY)")
    rc, out = playbook("playbooks/backup.yml", "-e", "backup_type=incr")
    assert rc == 0, failure(out)
    psql(host, f"INSERT INTO {TABLE} SELECT generate_series(1, 50)")
    target = psql(host, "SELECT clock_timestamp()")
    time.sleep(1.5)
    psql(host, f"INSERT INTO {TABLE} SELECT generate_series(51, 100)")
    archived(host)

    # The store's container restarts (podman kills it after 10 s, as a crash would) with everything it holds:
    # a backup store that forgets is no backup store.
    subprocess.run(["podman", "restart", "lab-s3"], capture_output=True, check=True)
    deadline = time.monotonic() + 60
    while on_host("s3", "systemctl is-active rclone-s3 || true") != "active":
        assert time.monotonic() < deadline, "the object store did not come back within 60 s of its restart"
        time.sleep(1)
    rc, out = playbook("playbooks/restore.yml", "-e", "restore_host=drill1", "-e", f"restore_target_time='{target}'")
    assert rc == 0, failure(out)

    restored = on_host("drill1", f"runuser -u postgres -- psql -XAtqc 'SELECT id FROM {TABLE} ORDER BY id'")
    assert [int(row) for row in restored.split()] == list(range(1, 51))
    # A copy never archives into the production stanza.
    assert on_host("drill1", "runuser -u postgres -- psql -XAtqc 'SHOW archive_mode'") == "off"
    psql(host, f"DROP TABLE {TABLE}")


def test_a_target_time_in_the_future_is_refused_before_the_scratch_host_is_touched():
    before = scratch_data_stamp()
    rc, out = playbook(
        "playbooks/restore.yml", "-e", "restore_host=drill1", "-e", "restore_target_time='2999-01-01 00:00:00+00'"
    )
    assert rc != 0
    assert "future" in " ".join(out.split())
    assert scratch_data_stamp() == before


def test_a_running_member_is_refused_as_restore_target():
    host = primary()
    rc, out = playbook("playbooks/restore.yml", "-e", f"restore_host={host}")
    assert rc != 0
    assert "restore_force_member=true" in " ".join(out.split())
    assert psql(host, "SELECT pg_is_in_recovery()") == "f"


def test_a_wrong_store_key_is_refused_before_it_replaces_the_working_configuration():
    host = primary()
    labels = backup_labels(host)
    rc, out = playbook(
        "playbooks/site.yml",
        "--limit",
        "backup",
        "--tags",
        "backup",
        "-e",
        "backup_s3_secret_key=not-the-secret-key-000",
    )
    assert rc != 0
    message = " ".join(out.split())
    assert "SignatureDoesNotMatch" in message and "The live configuration was left as it was" in message, out[-3000:]
    # Archiving goes on with the configuration that works, and the refused run added no backup.
    on_host(host, "runuser -u postgres -- pgbackrest --stanza=webstack check")
    assert backup_labels(host) == labels
    rc, out = playbook("playbooks/site.yml", "--limit", "backup", "--tags", "backup")
    assert rc == 0, failure(out)


def test_a_switchover_there_and_back_under_writes_fails_none_loses_none_and_the_new_primary_archives_and_backs_up():
    # Writers through app1's PgBouncer all along, as the postgresql scenario's side effect does on its instances.
    with writes_through_pgbouncer() as writes:
        old = primary()
        rc, out = playbook("playbooks/switchover.yml")
        assert rc == 0, failure(out)
        assert "Check that its WAL reaches the repository" in out
        new = primary()
        assert new != old
        # The promotion set restore_command aside (no archive lookups inside the pause) and put it back.
        for host in (old, new):
            assert "archive-get" in psql(host, "SHOW restore_command")
            assert psql(host, RESTORE_COMMAND_IN_AUTO_CONF) == "0"
        labels = backup_labels(new)
        # The timers' own unit, on both members: the standby's exits 0 without backing up.
        on_host(old, "systemctl start webstack-backup@incr.service")
        assert backup_labels(new) == labels
        on_host(new, "systemctl start webstack-backup@incr.service")
        assert len(backup_labels(new).split()) == len(labels.split()) + 1
        archived(new)
        rc, out = playbook("playbooks/switchover.yml")
        assert rc == 0, failure(out)
        assert primary() == old
    assert writes.failed == 0, writes.errors[-3000:]
    assert writes.committed > 100, "the writers barely wrote"
    assert writes.rows == writes.committed
