import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.unsafe_secrets import unsafe_secrets

GOOD = "q7Vt0e9LwZrYp2Kc4mNs"


def test_a_random_secret_passes():
    assert unsafe_secrets({"a": GOOD, "b": "lab-shop-db-password-0001"}) == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "is empty"),
        (None, "is empty"),
        ("CHANGE-ME-replication-0000", "looks like a placeholder (contains 'CHANGE-ME')"),
        ("changeme-changeme-changeme", "looks like a placeholder (contains 'changeme')"),
        ("please_replace_me_0123456789", "looks like a placeholder (contains 'replace_me')"),
        ("<the admin password here>", "looks like a placeholder (contains '<the admin password here>')"),
        ("xxxxxxxxxxxxxxxxxxxxxx", "looks like a placeholder (contains 'xxxxxxxxxxxxxxxxxxxxxx')"),
        ("example-secret-0123456789", "looks like a placeholder (contains 'example')"),
        ("short-but-fine", "has 14 characters, fewer than 16"),
        ("abababababababababab", "uses fewer than 6 different characters"),
    ],
)
def test_unsafe_values_are_named_with_the_reason_and_never_quoted_whole(value, reason):
    assert unsafe_secrets({"pgbouncer_admin_password": value}) == [f"pgbouncer_admin_password {reason}"]


def test_the_minimum_length_is_a_parameter_and_order_is_kept():
    problems = unsafe_secrets({"backup_cipher_pass": "r4nd0m-but-19-chars", "other": ""}, 20)
    assert problems == ["backup_cipher_pass has 19 characters, fewer than 20", "other is empty"]


def test_names_can_be_shown_in_a_format():
    assert unsafe_secrets({"shop": ""}, 16, "the password of user {}") == ["the password of user shop is empty"]


def test_a_non_dict_is_an_error():
    with pytest.raises(AnsibleFilterError):
        unsafe_secrets(["x"])
