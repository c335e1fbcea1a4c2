"""The backup tier archives WAL to the object store, backs up from the primary only, and the store is real."""

import json

import testinfra

S3 = testinfra.get_host("podman://molecule-backup-s3")
DB1 = testinfra.get_host("podman://molecule-backup-db1")
DB2 = testinfra.get_host("podman://molecule-backup-db2")
STANZA = "molecule"
BUCKET_DIR = "/var/lib/rclone-s3/webstack-backups"

testinfra_hosts = ["podman://molecule-backup-db1"]


def sql(host, query):
    return host.check_output(f'runuser -u postgres -- psql -XAtq -d postgres -c "{query}"')


def backups(host):
    info = json.loads(host.check_output(f"runuser -u postgres -- pgbackrest --stanza={STANZA} --output=json info"))
    return info[0]


def start(host, unit):
    """Start a oneshot unit as the timer would and return (exit code, its journal)."""
    result = host.run(f"systemctl start {unit}")
    journal = host.check_output(f"journalctl -u {unit} --no-pager -n 30 -o cat")
    return result.rc, journal


def test_the_stanza_exists_and_check_passes_on_the_primary():
    assert sql(DB1, "SELECT pg_is_in_recovery()") == "f"
    assert backups(DB1)["status"]["code"] in (0, 2)
    result = DB1.run(f"runuser -u postgres -- pgbackrest --stanza={STANZA} check")
    assert result.rc == 0, result.stdout + result.stderr


def test_the_repository_is_encrypted_and_bundled():
    assert backups(DB1)["cipher"] == "aes-256-cbc"
    assert "repo1-bundle=y" in DB1.file("/etc/pgbackrest/pgbackrest.conf").content_string
    assert DB1.file("/etc/pgbackrest/pgbackrest.conf").mode == 0o640


def test_wal_is_archived_without_failures():
    sql(DB1, "SELECT pg_switch_wal()")
    DB1.run(f"runuser -u postgres -- pgbackrest --stanza={STANZA} check")
    row = sql(DB1, "SELECT last_archived_time IS NOT NULL, failed_count FROM pg_stat_archiver")
    assert row == "t|0"


def test_the_timer_service_makes_a_full_backup_on_the_primary():
    before = [b["label"] for b in backups(DB1).get("backup", [])]
    rc, journal = start(DB1, "webstack-backup@full.service")
    assert rc == 0, journal
    after = backups(DB1)["backup"]
    new = [b for b in after if b["label"] not in before]
    assert [b["type"] for b in new] == ["full"], journal


def test_the_same_service_on_the_standby_exits_0_without_backing_up():
    assert sql(DB2, "SELECT pg_is_in_recovery()") == "t"
    count = len(backups(DB1).get("backup", []))
    rc, journal = start(DB2, "webstack-backup@full.service")
    assert rc == 0, journal
    assert "standby" in journal
    assert len(backups(DB1).get("backup", [])) == count


def test_the_timers_are_active_on_every_member():
    for host in (DB1, DB2):
        for kind in ("full", "diff", "logical"):
            assert host.service(f"webstack-backup-{kind}.timer").is_enabled
            assert host.run(f"systemctl is-active webstack-backup-{kind}.timer").stdout.strip() == "active"


def test_a_logical_dump_and_its_checksum_land_in_the_bucket():
    rc, journal = start(DB1, "webstack-backup@logical.service")
    assert rc == 0, journal
    dumps = S3.check_output(f"ls {BUCKET_DIR}/logical/shop").split()
    dump = sorted(name for name in dumps if name.endswith(".dump"))[-1]
    assert f"{dump}.sha256" in dumps
    stored = S3.file(f"{BUCKET_DIR}/logical/shop/{dump}.sha256").content_string.split()[0]
    actual = S3.check_output(f"sha256sum {BUCKET_DIR}/logical/shop/{dump}").split()[0]
    assert stored == actual


def test_the_store_keeps_its_files_on_disk_under_var_lib():
    assert S3.file(BUCKET_DIR).is_directory
    assert S3.file(BUCKET_DIR).user == "rclone-s3"
    assert S3.check_output(f"find {BUCKET_DIR}/pgbackrest -type f | wc -l") != "0"
    assert S3.file("/etc/rclone-s3/env").mode == 0o600
    assert S3.service("rclone-s3").is_running


def test_the_store_listens_on_its_private_address_only():
    address = S3.interface("eth0").addresses[0]
    assert S3.socket(f"tcp://{address}:9000").is_listening
    assert not S3.socket("tcp://0.0.0.0:9000").is_listening


def _list_bucket(secret):
    script = (
        "import boto3, botocore.config, sys;"
        "c = boto3.client('s3', endpoint_url='https://molecule-backup-s3:9000', region_name='us-east-1',"
        f"aws_access_key_id='molecule-access-key', aws_secret_access_key='{secret}',"
        "verify='/usr/local/share/ca-certificates/webstack-backup-s3-ca.crt',"
        "config=botocore.config.Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}));"
        "print(c.list_objects_v2(Bucket='webstack-backups', MaxKeys=1)['KeyCount'])"
    )
    return DB1.run(f'/opt/webstack-backup/bin/python -c "{script}"')


def test_the_store_verifies_tls_and_accepts_the_right_key():
    result = _list_bucket("molecule-s3-secret-key-0001")
    assert result.rc == 0, result.stderr


def test_a_wrong_secret_key_is_refused():
    result = _list_bucket("not-the-secret-key-00000")
    assert result.rc != 0
    assert "SignatureDoesNotMatch" in result.stderr
