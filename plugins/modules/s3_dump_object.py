#!/usr/bin/python
# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: s3_dump_object
short_description: Upload or download a dump with a SHA-256 checksum stored beside it
version_added: 0.1.0
description:
  - O(mode=put) computes the SHA-256 of O(src), uploads it to O(key) (multipart for large files) and then writes
    C(<key>.sha256) in the format C(sha256sum) writes. The checksum is written last, so a dump without one is an
    upload that did not finish.
  - O(mode=get) reads C(<key>.sha256), downloads O(key) into a temporary file beside O(dest), checks its SHA-256 and
    only then renames it to O(dest). On a mismatch the module fails and leaves no file (an existing O(dest) is not
    touched).
  - Both are idempotent. C(put) does nothing when the stored checksum already matches O(src); C(get) does nothing
    when O(dest) already has the stored checksum.
  - Why not M(amazon.aws.s3_object) - it compares ETags (an MD5, or for multipart uploads an MD5 of MD5s that depends
    on the part size), stores no checksum that outlives a copy to another store, does not check a download against
    a checksum written at upload time, and in amazon.aws 10 does not expose botocore's checksum setting, which
    boto3 1.36 and later need for most stores that are not AWS (see O(checksum_mode)).
author:
  - opsforge developers (@opsforge)
extends_documentation_fragment:
  - opsforge.webstack.s3
options:
  mode:
    description: V(put) uploads O(src) to O(key); V(get) downloads O(key) to O(dest).
    type: str
    required: true
    choices: [put, get]
  key:
    description: The object's key, for example V(logical/shop/shop-20261203T020000Z.dump).
    type: str
    required: true
  src:
    description: The file to upload. Required with O(mode=put).
    type: path
  dest:
    description: Where to download to. Required with O(mode=get). Its directory must exist.
    type: path
  checksum_suffix:
    description: Suffix of the checksum object's key.
    type: str
    default: .sha256
  mode_bits:
    description: Permissions of the downloaded file, as an octal string.
    type: str
    default: '0600'
attributes:
  check_mode:
    support: full
    description: In check mode the checksums are computed and compared, and nothing is uploaded or written.
  diff_mode:
    support: none
    description: Nothing is reported as a diff.
seealso:
  - module: opsforge.webstack.s3_backup_retention
"""

EXAMPLES = r"""
- name: Upload tonight's dump of shop, and fetch it back checked against the checksum written at upload time
  module_defaults:
    group/opsforge.webstack.webstack:
      endpoint_url: https://s3.lab.internal:9000
      ca_bundle: /etc/ssl/certs/opsforge-lab-ca.pem
      bucket: webstack-backups
      access_key: "{{ backup_s3_access_key }}"
      secret_key: "{{ backup_s3_secret_key }}"
  block:
    - name: Upload
      opsforge.webstack.s3_dump_object:
        mode: put
        src: /var/backups/postgresql/shop-20261203T020000Z.dump
        key: logical/shop/shop-20261203T020000Z.dump

    - name: Download
      opsforge.webstack.s3_dump_object:
        mode: get
        key: logical/shop/shop-20261203T020000Z.dump
        dest: /var/tmp/restore/shop.dump
"""

RETURN = r"""
sha256:
  description: The SHA-256 of the dump (of O(src) for put; the stored and verified one for get).
  returned: always
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
size:
  description: Size of the dump in bytes.
  returned: always
  type: int
  sample: 104857600
checksum_key:
  description: The key of the checksum object.
  returned: always
  type: str
  sample: logical/shop/shop-20261203T020000Z.dump.sha256
msg:
  description: What was done or, in check mode, would be.
  returned: always
  type: str
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opsforge.webstack.plugins.module_utils import s3 as s3u


def stored_checksum(module, s3, checksum_key, required):
    """The digest in the checksum object, or None when there is none and required is False."""
    try:
        body = s3.get_object(Bucket=module.params["bucket"], Key=checksum_key)["Body"].read()
    except s3u.boto_errors() as exc:
        kind, code, _text = s3u.classify(exc)
        if kind == "client" and code in ("NoSuchKey", "404") and not required:
            return None
        if kind == "client" and code in ("NoSuchKey", "404"):
            module.fail_json(
                msg=f"{checksum_key} does not exist in bucket {module.params['bucket']!r}: the dump has no checksum "
                "(its upload did not finish, or it was not written by this module). "
                "Refusing to download an unchecked dump."
            )
        s3u.fail_on_error(module, exc, f"Reading {checksum_key}")
    try:
        return s3u.parse_checksum_file(body.decode("utf-8", "replace"))
    except ValueError as exc:
        module.fail_json(msg=f"{checksum_key} is not a checksum file: {exc}")


def put(module, s3, checksum_key):
    params = module.params
    src = params["src"]
    if not os.path.isfile(src):
        module.fail_json(msg=f"src {src} is not a file")
    digest = s3u.sha256_file(src)
    size = os.path.getsize(src)
    result = {"sha256": digest, "size": size, "checksum_key": checksum_key}
    if stored_checksum(module, s3, checksum_key, required=False) == digest:
        module.exit_json(changed=False, msg=f"{params['key']} already holds this file", **result)
    if module.check_mode:
        module.exit_json(changed=True, msg=f"would upload {src} to {params['key']} and its checksum", **result)
    try:
        s3.upload_file(src, params["bucket"], params["key"], ExtraArgs={"Metadata": {"sha256": digest}})
        s3.put_object(
            Bucket=params["bucket"],
            Key=checksum_key,
            Body=s3u.format_checksum_file(digest, os.path.basename(params["key"])).encode(),
            ContentType="text/plain",
        )
    except s3u.boto_errors() as exc:
        s3u.fail_on_error(module, exc, f"Uploading {src} to {params['key']}")
    module.exit_json(changed=True, msg=f"uploaded {src} to {params['key']} and its checksum", **result)


def get(module, s3, checksum_key):
    params = module.params
    dest = params["dest"]
    directory = os.path.dirname(dest) or "."
    if not os.path.isdir(directory):
        module.fail_json(msg=f"the directory of dest, {directory}, does not exist")
    digest = stored_checksum(module, s3, checksum_key, required=True)
    if os.path.isfile(dest) and s3u.sha256_file(dest) == digest:
        module.exit_json(
            changed=False,
            msg=f"{dest} already matches",
            sha256=digest,
            size=os.path.getsize(dest),
            checksum_key=checksum_key,
        )
    if module.check_mode:
        module.exit_json(
            changed=True,
            msg=f"would download {params['key']} to {dest}",
            sha256=digest,
            size=0,
            checksum_key=checksum_key,
        )
    handle, partial = tempfile.mkstemp(prefix=".s3_dump_object.", dir=directory)
    os.close(handle)
    try:
        try:
            s3.download_file(params["bucket"], params["key"], partial)
        except s3u.boto_errors() as exc:
            s3u.fail_on_error(module, exc, f"Downloading {params['key']}")
        got = s3u.sha256_file(partial)
        if got != digest:
            module.fail_json(
                msg=f"SHA-256 of the downloaded {params['key']} is {got} but {checksum_key} says {digest}: the dump is "
                f"corrupt or was replaced without its checksum. Nothing was written to {dest}; fetch an older dump.",
                sha256=digest,
                actual_sha256=got,
            )
        os.chmod(partial, int(params["mode_bits"], 8))
        size = os.path.getsize(partial)
        os.rename(partial, dest)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    module.exit_json(
        changed=True, msg=f"downloaded {params['key']} to {dest}", sha256=digest, size=size, checksum_key=checksum_key
    )


def main():
    argument_spec = s3u.s3_common_argument_spec()
    argument_spec.update(
        mode={"type": "str", "required": True, "choices": ["put", "get"]},
        key={"type": "str", "required": True, "no_log": False},
        src={"type": "path"},
        dest={"type": "path"},
        checksum_suffix={"type": "str", "default": ".sha256"},
        mode_bits={"type": "str", "default": "0600"},
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_if=[("mode", "put", ["src"]), ("mode", "get", ["dest"])],
        supports_check_mode=True,
    )
    params = module.params
    if not params["checksum_suffix"]:
        module.fail_json(msg="checksum_suffix must not be empty: the checksum would overwrite the dump")
    try:
        int(params["mode_bits"], 8)
    except ValueError:
        module.fail_json(msg=f"mode_bits must be an octal string like '0600', not {params['mode_bits']!r}")
    s3 = s3u.client(module)
    checksum_key = params["key"] + params["checksum_suffix"]
    if params["mode"] == "put":
        put(module, s3, checksum_key)
    get(module, s3, checksum_key)


if __name__ == "__main__":
    main()
