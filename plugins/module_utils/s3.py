# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Shared helpers for the opsforge.webstack S3 modules (boto3).

One client builder (endpoint, credentials, TLS, the checksum setting) and one
place that turns boto3's exceptions into a message saying what is wrong and
what to do. The decisions are plain functions so that unit tests need no store.
"""

import hashlib
import re
import traceback

from ansible.module_utils.basic import missing_required_lib

try:
    import boto3
    import boto3.exceptions
    import botocore.config
    import botocore.exceptions
except ImportError:  # pragma: no cover - exercised only where boto3 is missing
    boto3 = None
    BOTO3_IMP_ERR = traceback.format_exc()
else:
    BOTO3_IMP_ERR = None

CHECKSUM_MODES = ["when_required", "when_supported"]
CREDENTIAL_ERRORS = {"SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "InvalidToken", "403"}
CHECKSUM_ERRORS = {"MissingContentLength", "XAmzContentSHA256Mismatch", "InvalidArgument", "NotImplemented"}


def s3_common_argument_spec():
    """Options every module that talks to S3 accepts (see the s3 doc fragment)."""
    return {
        "endpoint_url": {"type": "str"},
        "region": {"type": "str", "default": "us-east-1"},
        "bucket": {"type": "str", "required": True},
        "access_key": {"type": "str", "required": True, "no_log": False},
        "secret_key": {"type": "str", "required": True, "no_log": True},
        "ca_bundle": {"type": "path"},
        "validate_certs": {"type": "bool", "default": True},
        "checksum_mode": {"type": "str", "default": "when_required", "choices": CHECKSUM_MODES},
        "addressing_style": {"type": "str", "default": "path", "choices": ["path", "virtual", "auto"]},
        "connect_timeout": {"type": "int", "default": 10},
    }


def ensure_boto3(module):
    if BOTO3_IMP_ERR is not None:
        module.fail_json(msg=missing_required_lib("boto3"), exception=BOTO3_IMP_ERR)


def client_config_kwargs(params):
    """Keyword arguments for botocore.config.Config (pure).

    boto3 1.36 and later compute a CRC32 checksum of every upload and send it as
    a trailer of an aws-chunked body unless told otherwise; stores that do not
    know that encoding refuse the upload (rclone: MissingContentLength) or
    store the chunk framing as data. ``when_required`` sends checksums only for
    the operations whose API demands one (DeleteObjects still gets its
    Content-MD5 or CRC), which every S3 store understands.
    """
    return {
        "request_checksum_calculation": params["checksum_mode"],
        "response_checksum_validation": params["checksum_mode"],
        "s3": {"addressing_style": params["addressing_style"]},
        "connect_timeout": params["connect_timeout"],
        "read_timeout": max(60, params["connect_timeout"]),
        "retries": {"max_attempts": 2, "mode": "standard"},
    }


def tls_verify(params):
    """What boto3 takes as verify=: False, a CA bundle path, or None for the system's trust store (pure)."""
    if not params["validate_certs"]:
        return False
    return params.get("ca_bundle") or None


def client(module):
    """A boto3 S3 client for the module's options, or fail with the standard message when boto3 is missing."""
    ensure_boto3(module)
    params = module.params
    return boto3.client(
        "s3",
        endpoint_url=params.get("endpoint_url") or None,
        region_name=params["region"],
        aws_access_key_id=params["access_key"],
        aws_secret_access_key=params["secret_key"],
        verify=tls_verify(params),
        config=botocore.config.Config(**client_config_kwargs(params)),
    )


def describe_target(params):
    return "bucket {!r} at {}".format(
        params["bucket"], params.get("endpoint_url") or "AWS S3 ({})".format(params["region"])
    )


def explain_error(kind, code, text, params):
    """Message for one failed S3 call (pure): what happened, on which store, and what to do.

    kind is one of ``client`` (the store answered with an error code), ``tls``,
    ``connect`` (nothing answered) or ``other``.
    """
    where = describe_target(params)
    if kind == "tls":
        return (
            f"TLS verification of {where} failed: {text}. Set ca_bundle to the CA certificate that signed the "
            "store's certificate (and check that the certificate names the endpoint's host), or fix the endpoint_url."
        )
    if kind == "connect":
        return (
            f"Could not reach {where}: {text}. Check endpoint_url (scheme, host and port), that the store is "
            "running and that no firewall is in the way."
        )
    if kind == "client" and code in CREDENTIAL_ERRORS:
        return (
            f"The store refused the credentials for {where} ({code}): {text}. Check access_key and secret_key, "
            "and that this key may use the bucket."
        )
    if kind == "client" and code in ("NoSuchBucket", "404") and "bucket" in text.lower():
        return f"{where} does not exist ({code}). Create the bucket or fix the bucket option."
    if kind == "client" and code in CHECKSUM_ERRORS:
        return (
            f"{where} refused the request ({code}): {text}. If checksum_mode is when_supported, this store does not "
            "understand boto3's CRC32 checksum trailers: use checksum_mode=when_required."
        )
    return f"S3 request to {where} failed ({code or kind}): {text}"


def classify(exc):
    """(kind, code, text) of a boto3/botocore exception (see explain_error)."""
    if isinstance(exc, boto3.exceptions.Boto3Error):
        # upload_file wraps the ClientError in S3UploadFailedError, keeping only its text
        if isinstance(exc.__cause__, (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)):
            return classify(exc.__cause__)
        match = re.search(r"An error occurred \((\w+)\)", str(exc))
        return ("client", match.group(1), str(exc)) if match else ("other", type(exc).__name__, str(exc))
    if isinstance(exc, botocore.exceptions.SSLError):
        return "tls", None, str(exc)
    if isinstance(exc, (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError)):
        return "connect", None, str(exc)
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        return "client", code, error.get("Message") or str(exc)
    return "other", type(exc).__name__, str(exc)


def fail_on_error(module, exc, action):
    """Fail the module for an exception raised by boto3 while doing `action`."""
    kind, code, text = classify(exc)
    module.fail_json(msg=f"{action}: " + explain_error(kind, code, text, module.params))


def boto_errors():
    """The exceptions fail_on_error() understands, for `except` clauses."""
    return (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, boto3.exceptions.Boto3Error)


def list_objects(s3, bucket, prefix, page_size=1000):
    """Every object under prefix through ListObjectsV2, following continuation tokens."""
    paginator = s3.get_paginator("list_objects_v2")
    objects = []
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}):
        objects.extend(page.get("Contents", []))
    return objects


def sha256_file(path, chunk_size=1024 * 1024):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def format_checksum_file(hexdigest, name):
    """The text of a <key>.sha256 object: the format `sha256sum` writes and `sha256sum -c` reads."""
    return f"{hexdigest}  {name}\n"


def parse_checksum_file(text):
    """The hex digest in a <key>.sha256 object (sha256sum format, or a bare digest). Raises ValueError."""
    first = (text or "").strip().split()
    digest = first[0].lower() if first else ""
    if len(digest) != 64 or any(char not in "0123456789abcdef" for char in digest):
        raise ValueError(f"not a SHA-256 checksum file: {text[:80]!r}")
    return digest
