# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

import boto3.exceptions
import botocore.config
import botocore.exceptions
import pytest
from ansible_collections.opsforge.webstack.plugins.module_utils import s3 as s3u

PARAMS = {
    "endpoint_url": "https://localhost:57900",
    "region": "us-east-1",
    "bucket": "lab-backups",
    "access_key": "labkey",
    "secret_key": "secret",
    "ca_bundle": "/etc/ssl/lab-ca.pem",
    "validate_certs": True,
    "checksum_mode": "when_required",
    "addressing_style": "path",
    "connect_timeout": 5,
}


def test_client_config_turns_off_crc32_trailers_by_default():
    kwargs = s3u.client_config_kwargs(PARAMS)
    assert kwargs["request_checksum_calculation"] == "when_required"
    assert kwargs["response_checksum_validation"] == "when_required"
    config = botocore.config.Config(**kwargs)  # the installed botocore knows these settings
    assert config.request_checksum_calculation == "when_required" and config.s3 == {"addressing_style": "path"}
    assert s3u.client_config_kwargs(dict(PARAMS, checksum_mode="when_supported"))["request_checksum_calculation"] == (
        "when_supported"
    )


def test_tls_verify():
    assert s3u.tls_verify(PARAMS) == "/etc/ssl/lab-ca.pem"
    assert s3u.tls_verify(dict(PARAMS, ca_bundle=None)) is None
    assert s3u.tls_verify(dict(PARAMS, validate_certs=False)) is False


def client_error(code, message="m", status=403):
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "ListObjectsV2"
    )


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (client_error("SignatureDoesNotMatch"), "refused the credentials"),
        (client_error("InvalidAccessKeyId"), "Check access_key and secret_key"),
        (client_error("NoSuchBucket", "The specified bucket does not exist", 404), "does not exist"),
        (client_error("MissingContentLength", "", 411), "checksum_mode=when_required"),
        (
            botocore.exceptions.SSLError(endpoint_url="https://localhost:57900", error="CERTIFICATE_VERIFY_FAILED"),
            "ca_bundle",
        ),
        (botocore.exceptions.EndpointConnectionError(endpoint_url="https://localhost:57999"), "Could not reach"),
        (client_error("InternalError", "boom", 500), "failed (InternalError): boom"),
        (
            boto3.exceptions.S3UploadFailedError(
                "Failed to upload f to b/k: An error occurred (MissingContentLength) when calling PutObject"
            ),
            "checksum_mode=when_required",
        ),
        (
            boto3.exceptions.S3UploadFailedError("Failed to upload f to b/k: something else"),
            "failed (S3UploadFailedError)",
        ),
    ],
)
def test_errors_say_what_is_wrong_and_what_to_do(exc, expected):
    message = s3u.explain_error(*s3u.classify(exc), PARAMS)
    assert expected in message and "'lab-backups' at https://localhost:57900" in message
    assert "secret" not in message.replace("secret_key", "")


def test_checksum_file_round_trip():
    digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    text = s3u.format_checksum_file(digest, "shop.dump")
    assert text == f"{digest}  shop.dump\n"
    assert s3u.parse_checksum_file(text) == digest
    assert s3u.parse_checksum_file(digest.upper()) == digest
    for bad in ("", "abc  shop.dump", "z" * 64):
        with pytest.raises(ValueError):
            s3u.parse_checksum_file(bad)


def test_sha256_file(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"test")
    assert s3u.sha256_file(path, chunk_size=3) == "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
