# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A client's CA follows the service's TLS settings: the user's CA, else the collection's, else none."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.tls_ca_src import tls_ca_src


@pytest.mark.parametrize(
    ("tls", "ca_cert_src", "ca_dir", "expected"),
    [
        (True, "", "/inv/pki", "/inv/pki/ca.crt"),
        (True, "", "/inv/pki/", "/inv/pki/ca.crt"),
        (True, "/inv/my-ca.crt", "/inv/pki", "/inv/my-ca.crt"),
        (True, "", "", ""),
        (False, "/inv/my-ca.crt", "/inv/pki", ""),
        ("true", "", "/inv/pki", "/inv/pki/ca.crt"),
        ("False", "", "/inv/pki", ""),
    ],
)
def test_the_ca_clients_verify_with(tls, ca_cert_src, ca_dir, expected):
    assert tls_ca_src(tls, ca_cert_src, ca_dir) == expected


def test_not_a_boolean_refused():
    with pytest.raises(AnsibleFilterError, match="speaks TLS"):
        tls_ca_src("sometimes", "", "/inv/pki")
