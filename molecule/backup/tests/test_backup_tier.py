"""The backup tier archives WAL to the object store, backs up from the primary only, and the store is real.

The checks take the tier they look at from the `tier` fixture: the scenario's instances (conftest.py here), or
the lab's backup tier (tests/lab/test_backup_tier.py runs these same checks in the lab phase of `./dev test`).
"""

import json
import shlex

BUCKET = "webstack-backups"
BUCKET_DIR = f"/var/lib/rclone-s3/{BUCKET}"
STORE_CA = "/usr/local/share/ca-certificates/webstack-backup-s3-ca.crt"


def sql(host, query):
    return host.check_output(f'runuser -u postgres -- psql -XAtq -d postgres -c "{query}"')


def backups(tier):
    command = f"runuser -u postgres -- pgbackrest --stanza={tier.stanza} --output=json info"
    return json.loads(tier.primary.check_output(command))[0]


def start(host, unit):
    """Start a oneshot unit as the timer would and return (exit code, its journal)."""
    result = host.run(f"systemctl start {unit}")
    journal = host.check_output(f"journalctl -u {unit} --no-pager -n 30 -o cat")
    return result.rc, journal


def test_the_stanza_exists_and_check_passes_on_the_primary(tier):
    assert sql(tier.primary, "SELECT pg_is_in_recovery()") == "f"
    assert backups(tier)["status"]["code"] in (0, 2)
    result = tier.primary.run(f"runuser -u postgres -- pgbackrest --stanza={tier.stanza} check")
    assert result.rc == 0, result.stdout + result.stderr


def test_the_repository_is_encrypted_and_bundled(tier):
    assert backups(tier)["cipher"] == "aes-256-cbc"
    assert "repo1-bundle=y" in tier.primary.file("/etc/pgbackrest/pgbackrest.conf").content_string
    assert tier.primary.file("/etc/pgbackrest/pgbackrest.conf").mode == 0o640


def test_wal_is_archived_without_failures(tier):
    sql(tier.primary, "SELECT pg_switch_wal()")
    tier.primary.run(f"runuser -u postgres -- pgbackrest --stanza={tier.stanza} check")
    row = sql(tier.primary, "SELECT last_archived_time IS NOT NULL, failed_count FROM pg_stat_archiver")
    assert row == "t|0"


def test_the_timer_service_makes_a_full_backup_on_the_primary(tier):
    before = [b["label"] for b in backups(tier).get("backup", [])]
    rc, journal = start(tier.primary, "webstack-backup@full.service")
    assert rc == 0, journal
    new = [b for b in backups(tier)["backup"] if b["label"] not in before]
    assert [b["type"] for b in new] == ["full"], journal


def test_the_same_service_on_the_standby_exits_0_without_backing_up(tier):
    assert sql(tier.standby, "SELECT pg_is_in_recovery()") == "t"
    count = len(backups(tier).get("backup", []))
    rc, journal = start(tier.standby, "webstack-backup@full.service")
    assert rc == 0, journal
    assert "standby" in journal
    assert len(backups(tier).get("backup", [])) == count


def test_the_timers_are_active_on_every_member(tier):
    for host in (tier.primary, tier.standby):
        for kind in ("full", "diff", "logical"):
            assert host.service(f"webstack-backup-{kind}.timer").is_enabled
            assert host.run(f"systemctl is-active webstack-backup-{kind}.timer").stdout.strip() == "active"


def test_a_logical_dump_and_its_checksum_land_in_the_bucket(tier):
    rc, journal = start(tier.primary, "webstack-backup@logical.service")
    assert rc == 0, journal
    dumps = tier.s3.check_output(f"ls {BUCKET_DIR}/logical/shop").split()
    dump = sorted(name for name in dumps if name.endswith(".dump"))[-1]
    assert f"{dump}.sha256" in dumps
    stored = tier.s3.file(f"{BUCKET_DIR}/logical/shop/{dump}.sha256").content_string.split()[0]
    actual = tier.s3.check_output(f"sha256sum {BUCKET_DIR}/logical/shop/{dump}").split()[0]
    assert stored == actual


def test_the_store_keeps_its_files_on_disk_under_var_lib(tier):
    assert tier.s3.file(BUCKET_DIR).is_directory
    assert tier.s3.file(BUCKET_DIR).user == "rclone-s3"
    assert tier.s3.check_output(f"find {BUCKET_DIR}/pgbackrest -type f | wc -l") != "0"
    assert tier.s3.file("/etc/rclone-s3/env").mode == 0o600
    assert tier.s3.service("rclone-s3").is_running


def test_the_store_listens_on_its_private_address_only(tier):
    address = tier.s3.interface("eth0").addresses[0]
    assert tier.s3.socket(f"tcp://{address}:9000").is_listening
    assert not tier.s3.socket("tcp://0.0.0.0:9000").is_listening


def list_bucket(tier, secret):
    """List the bucket from the primary with boto3 (the backup role's dump uploader), checking the store's TLS."""
    script = (
        "import boto3, botocore.config, sys;"
        f"c = boto3.client('s3', endpoint_url='https://{tier.endpoint}', region_name='us-east-1',"
        f"aws_access_key_id='{tier.access_key}', aws_secret_access_key='{secret}', verify='{STORE_CA}',"
        "config=botocore.config.Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}));"
        f"print(c.list_objects_v2(Bucket='{BUCKET}', MaxKeys=1)['KeyCount'])"
    )
    return tier.primary.run(f"/opt/webstack-backup/bin/python -c {shlex.quote(script)}")


def test_the_store_verifies_tls_and_accepts_the_right_key(tier):
    result = list_bucket(tier, tier.secret_key)
    assert result.rc == 0, result.stderr


def test_a_wrong_secret_key_is_refused(tier):
    result = list_bucket(tier, "not-the-secret-key-00000")
    assert result.rc != 0
    assert "SignatureDoesNotMatch" in result.stderr
