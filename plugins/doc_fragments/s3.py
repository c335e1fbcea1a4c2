# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # Options for talking to an S3-compatible store (see s3_common_argument_spec()).
    DOCUMENTATION = r"""
options:
  endpoint_url:
    description:
      - URL of the S3 endpoint, for example V(https://s3.lab.internal:9000). Leave unset for AWS S3.
    type: str
  region:
    description:
      - Region the request is signed for (SigV4). Stores other than AWS usually accept any value.
    type: str
    default: us-east-1
  bucket:
    description:
      - The bucket.
    type: str
    required: true
  access_key:
    description:
      - The access key ID.
    type: str
    required: true
  secret_key:
    description:
      - The secret access key.
    type: str
    required: true
  ca_bundle:
    description:
      - A PEM file with the CA certificate(s) that signed the store's certificate, for a private CA.
      - When unset the system's trust store is used.
    type: path
  validate_certs:
    description:
      - Verify the store's TLS certificate. Only set V(false) for a throwaway test store.
    type: bool
    default: true
  checksum_mode:
    description:
      - When boto3 computes and checks checksums (C(request_checksum_calculation) and
        C(response_checksum_validation) of botocore's Config).
      - boto3 1.36 and later default to V(when_supported), which sends a CRC32 checksum as a trailer of an
        C(aws-chunked) body on every upload. Many S3-compatible stores (rclone, older MinIO and Ceph, s3rver) refuse
        that or store the framing as data, so the default here is V(when_required), the behaviour of boto3 before
        1.36. Use V(when_supported) against AWS S3 if you want the extra checksum.
    type: str
    default: when_required
    choices: [when_required, when_supported]
  addressing_style:
    description:
      - V(path) puts the bucket in the URL path (C(https://host/bucket/key)), which works with every store and with
        any host name; V(virtual) puts it in the host name.
    type: str
    default: path
    choices: [path, virtual, auto]
  connect_timeout:
    description:
      - Seconds to wait for a connection to the store.
    type: int
    default: 10
requirements:
  - boto3 >= 1.36 on the host that runs the module
"""
