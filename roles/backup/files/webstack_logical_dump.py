"""Logical dumps to S3 (opsforge.webstack.backup), run as postgres by webstack-backup@logical.service.

For each database: pg_dump -Fc into a work file, upload it to <prefix>/<db>/<db>-<UTC>.dump, then
<key>.sha256 (written last: a dump without one is an upload that did not finish), then grandfather-
father-son retention of that database's prefix. The S3 client, the checksum format and the retention
decision are the collection's own (plugins/module_utils/s3.py and retention.py, installed beside this
file), the same code the s3_dump_object and s3_backup_retention modules run.

Usage: webstack_logical_dump.py SETTINGS.json  (exit 0 when every database was dumped and uploaded)
"""

import json
import os
import subprocess
import sys
import types
from datetime import datetime, timezone

# s3.py is a module_utils file: outside Ansible, give it the one name it imports from ansible.
_basic = types.ModuleType("ansible.module_utils.basic")
_basic.missing_required_lib = lambda library: f"{library} is required (install it into this virtualenv)"
for _name in ("ansible", "ansible.module_utils"):
    sys.modules.setdefault(_name, types.ModuleType(_name))
sys.modules["ansible.module_utils.basic"] = _basic
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import retention  # noqa: E402
import s3 as s3u  # noqa: E402


class Failed(Exception):
    pass


def s3_call(params, action, call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except s3u.boto_errors() as exc:
        kind, code, text = s3u.classify(exc)
        raise Failed(f"{action}: {s3u.explain_error(kind, code, text, params)}") from exc


def dump_one(settings, client, database, stamp):
    params = settings["s3"]
    name = f"{database}-{stamp}.dump"
    path = os.path.join(settings["work_dir"], name)
    key = f"{settings['prefix'].strip('/')}/{database}/{name}"
    try:
        subprocess.run(
            ["pg_dump", "-Fc", "-p", str(settings["port"]), "-d", database, "-f", path],
            check=True,
            stderr=subprocess.PIPE,
            text=True,
        )
        digest = s3u.sha256_file(path)
        s3_call(params, f"Uploading {key}", client.upload_file, path, params["bucket"], key)
        body = s3u.format_checksum_file(digest, name).encode()
        bucket = params["bucket"]
        s3_call(params, f"Writing {key}.sha256", client.put_object, Bucket=bucket, Key=f"{key}.sha256", Body=body)
    except subprocess.CalledProcessError as exc:
        raise Failed(f"pg_dump of {database} failed: {exc.stderr.strip()}") from exc
    finally:
        if os.path.exists(path):
            os.unlink(path)
    print(f"{database}: s3://{params['bucket']}/{key} sha256 {digest}")


def apply_retention(settings, client, database):
    params = settings["s3"]
    prefix = f"{settings['prefix'].strip('/')}/{database}/"
    objects = s3_call(params, f"Listing {prefix}", s3u.list_objects, client, params["bucket"], prefix)
    dumps, sidecars, _ignored = retention.dumps_from_listing(objects)
    limits = [int(settings[f"keep_{kind}"]) for kind in ("daily", "weekly", "monthly")]
    keep, delete = retention.select(dumps, *limits)
    for dump in delete:
        # the dump first, then its checksum: a checksum without a dump is never left to look like a good dump
        keys = [dump["key"], f"{dump['key']}.sha256"] if f"{dump['key']}.sha256" in sidecars else [dump["key"]]
        for key in keys:
            s3_call(params, f"Deleting {key}", client.delete_object, Bucket=params["bucket"], Key=key)
    print(f"{database}: retention keeps {len(keep)} dumps, deleted {len(delete)}")


def main(argv):
    with open(argv[1], encoding="utf-8") as handle:
        settings = json.load(handle)
    if s3u.BOTO3_IMP_ERR is not None:
        print(_basic.missing_required_lib("boto3"), file=sys.stderr)
        return 1

    class _Module:
        params = settings["s3"]

    client = s3u.client(_Module)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    failures = []
    for database in settings["databases"]:
        try:
            dump_one(settings, client, database, stamp)
            apply_retention(settings, client, database)
        except Failed as exc:
            failures.append(str(exc))
            print(f"{database}: {exc}", file=sys.stderr)
    if failures:
        print(f"{len(failures)} of {len(settings['databases'])} logical dumps failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
