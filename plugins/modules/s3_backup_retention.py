#!/usr/bin/python
# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: s3_backup_retention
short_description: Apply grandfather-father-son retention to dumps under an S3 prefix
version_added: 0.1.0
description:
  - Lists every object under O(prefix) (ListObjectsV2, following continuation tokens), tells each dump's time from
    its name or its C(LastModified), and decides which dumps grandfather-father-son retention keeps.
  - For each of the most recent O(keep_daily) days, O(keep_weekly) ISO weeks and O(keep_monthly) months that hold a
    dump, the newest dump of that day, week or month is kept (all in UTC). The newest dump overall is always kept,
    whatever the limits.
  - Deletes the others together with their checksum objects (C(<key>.sha256), see
    M(opsforge.webstack.s3_dump_object)), and reports both lists.
  - Objects whose time cannot be told (the name does not match O(name_pattern)) are never deleted; they are
    reported in RV(ignored).
author:
  - opsforge developers (@opsforge)
extends_documentation_fragment:
  - opsforge.webstack.s3
options:
  prefix:
    description:
      - Only objects whose key starts with this are considered, for example V(logical/shop/).
      - Use one prefix per database so that one database's dumps never count for another's.
    type: str
    required: true
  keep_daily:
    description: Number of most recent days with a dump to keep one dump (the newest) of.
    type: int
    default: 30
  keep_weekly:
    description: Number of most recent ISO weeks with a dump to keep one dump (the newest) of.
    type: int
    default: 12
  keep_monthly:
    description: Number of most recent months with a dump to keep one dump (the newest) of.
    type: int
    default: 12
  timestamp_source:
    description:
      - V(name) reads the time from the key with O(name_pattern) and O(timestamp_format); copying or re-uploading
        an object does not change it.
      - V(last_modified) uses the object's C(LastModified), which is when it was written to this store.
    type: str
    default: name
    choices: [name, last_modified]
  name_pattern:
    description:
      - Python regular expression searched in the key; its named group C(ts) (or the whole match) is the time.
    type: str
    default: '(?P<ts>\d{8}T\d{6}Z)'
  timestamp_format:
    description:
      - C(strptime) format of the text matched by O(name_pattern). Times without a zone are taken as UTC.
    type: str
    default: '%Y%m%dT%H%M%SZ'
  checksum_suffix:
    description:
      - Objects whose key ends in this are checksums of the dump with the same key without it; they are deleted with
        their dump and never counted as dumps. Set to an empty string to treat every object as a dump.
    type: str
    default: .sha256
  page_size:
    description: Keys asked for per ListObjectsV2 page (the store may return fewer).
    type: int
    default: 1000
attributes:
  check_mode:
    support: full
    description: In check mode nothing is deleted; RV(delete) lists what would be.
  diff_mode:
    support: none
    description: Nothing is reported as a diff.
notes:
  - The module needs C(s3:ListBucket) on the bucket and C(s3:DeleteObject) on the prefix.
seealso:
  - module: opsforge.webstack.s3_dump_object
"""

EXAMPLES = r"""
- name: Keep 30 daily, 12 weekly and 12 monthly dumps of the shop database
  opsforge.webstack.s3_backup_retention:
    endpoint_url: https://s3.lab.internal:9000
    ca_bundle: /etc/ssl/certs/opsforge-lab-ca.pem
    bucket: webstack-backups
    access_key: "{{ backup_s3_access_key }}"
    secret_key: "{{ backup_s3_secret_key }}"
    prefix: logical/shop/
  register: __retention

- name: Show what a tighter policy would remove, without removing it
  opsforge.webstack.s3_backup_retention:
    bucket: webstack-backups
    access_key: "{{ backup_s3_access_key }}"
    secret_key: "{{ backup_s3_secret_key }}"
    prefix: logical/shop/
    keep_daily: 7
    keep_weekly: 4
    keep_monthly: 6
  check_mode: true

- name: Dumps named shop-2026-12-03.dump, dated by their name
  opsforge.webstack.s3_backup_retention:
    bucket: webstack-backups
    access_key: "{{ backup_s3_access_key }}"
    secret_key: "{{ backup_s3_secret_key }}"
    prefix: logical/shop/
    name_pattern: 'shop-(?P<ts>\d{4}-\d{2}-\d{2})\.dump$'
    timestamp_format: '%Y-%m-%d'
"""

RETURN = r"""
keep:
  description: The dumps kept, newest first, each with the reasons (V(newest), V(daily), V(weekly), V(monthly)).
  returned: always
  type: list
  elements: dict
  sample: [{"key": "logical/shop/shop-20261203T020000Z.dump", "timestamp": "2026-12-03T02:00:00Z",
            "reasons": ["newest", "daily", "weekly", "monthly"]}]
delete:
  description: The dumps deleted (or, in check mode, that would be), newest first.
  returned: always
  type: list
  elements: dict
  sample: [{"key": "logical/shop/shop-20250101T020000Z.dump", "timestamp": "2025-01-01T02:00:00Z"}]
deleted_keys:
  description: Every key deleted, checksum objects included. Empty in check mode.
  returned: always
  type: list
  elements: str
ignored:
  description: Keys under the prefix whose time could not be told; they are left alone.
  returned: always
  type: list
  elements: str
objects_listed:
  description: How many objects ListObjectsV2 returned under the prefix.
  returned: always
  type: int
  sample: 57
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opsforge.webstack.plugins.module_utils import retention
from ansible_collections.opsforge.webstack.plugins.module_utils import s3 as s3u


def delete_keys(module, s3, keys):
    """DeleteObjects in batches of 1000; fail naming the keys the store refused."""
    deleted = []
    for start in range(0, len(keys), 1000):
        batch = keys[start : start + 1000]
        try:
            answer = s3.delete_objects(
                Bucket=module.params["bucket"], Delete={"Objects": [{"Key": key} for key in batch], "Quiet": False}
            )
        except s3u.boto_errors() as exc:
            s3u.fail_on_error(module, exc, f"Deleting {len(batch)} objects")
        deleted.extend(item["Key"] for item in answer.get("Deleted", []))
        errors = answer.get("Errors", [])
        if errors:
            shown = ", ".join("{} ({})".format(err.get("Key"), err.get("Code")) for err in errors[:5])
            module.fail_json(msg=f"The store refused to delete {len(errors)} objects: {shown}", deleted_keys=deleted)
    return deleted


def main():
    argument_spec = s3u.s3_common_argument_spec()
    argument_spec.update(
        prefix={"type": "str", "required": True},
        keep_daily={"type": "int", "default": 30},
        keep_weekly={"type": "int", "default": 12},
        keep_monthly={"type": "int", "default": 12},
        timestamp_source={"type": "str", "default": "name", "choices": ["name", "last_modified"]},
        name_pattern={"type": "str", "default": retention.DEFAULT_NAME_PATTERN},
        timestamp_format={"type": "str", "default": retention.DEFAULT_TIMESTAMP_FORMAT},
        checksum_suffix={"type": "str", "default": ".sha256"},
        page_size={"type": "int", "default": 1000},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    for name in ("keep_daily", "keep_weekly", "keep_monthly"):
        if params[name] < 0:
            module.fail_json(msg=f"{name} must be 0 or more, not {params[name]}")
    if not 1 <= params["page_size"] <= 1000:
        module.fail_json(msg=f"page_size must be between 1 and 1000, not {params['page_size']}")

    s3 = s3u.client(module)
    try:
        objects = s3u.list_objects(s3, params["bucket"], params["prefix"], params["page_size"])
    except s3u.boto_errors() as exc:
        s3u.fail_on_error(module, exc, "Listing prefix {!r}".format(params["prefix"]))

    try:
        dumps, sidecars, ignored = retention.dumps_from_listing(
            objects,
            params["timestamp_source"],
            params["name_pattern"],
            params["timestamp_format"],
            params["checksum_suffix"],
        )
    except Exception as exc:  # a bad name_pattern (re.error) or timestamp_format
        module.fail_json(msg=f"Cannot read the time from the keys with name_pattern/timestamp_format: {exc}")
    keep, delete = retention.select(dumps, params["keep_daily"], params["keep_weekly"], params["keep_monthly"])

    to_delete = []
    for item in delete:
        to_delete.append(item["key"])
        sidecar = item["key"] + params["checksum_suffix"] if params["checksum_suffix"] else None
        if sidecar in sidecars:
            to_delete.append(sidecar)
    deleted = [] if module.check_mode or not to_delete else delete_keys(module, s3, to_delete)

    module.exit_json(
        changed=bool(delete),
        keep=keep,
        delete=delete,
        deleted_keys=deleted,
        ignored=ignored,
        objects_listed=len(objects),
    )


if __name__ == "__main__":
    main()
