# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site's CSP headers: enforcing or report-only (never both), report address, and refused inputs."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.nginx_csp_headers import csp_headers

POLICY = "default-src 'self'; frame-ancestors 'none'"


def test_enforcing_by_default():
    assert csp_headers(POLICY) == {"Content-Security-Policy": POLICY}


def test_report_only_sends_the_report_only_header_instead():
    assert csp_headers(POLICY, report_only=True) == {"Content-Security-Policy-Report-Only": POLICY}


@pytest.mark.parametrize("report_only", [False, True])
def test_report_address_gives_report_uri_report_to_and_the_endpoint(report_only):
    headers = csp_headers(POLICY, report_only=report_only, report_uri="https://csp.example.com/r")
    name = "Content-Security-Policy-Report-Only" if report_only else "Content-Security-Policy"
    assert headers == {
        name: f"{POLICY}; report-uri https://csp.example.com/r; report-to webstack-csp",
        "Reporting-Endpoints": 'webstack-csp="https://csp.example.com/r"',
    }


def test_spacing_and_empty_directives_are_normalised():
    assert csp_headers("  default-src  'self' ;; upgrade-insecure-requests ; ") == {
        "Content-Security-Policy": "default-src 'self'; upgrade-insecure-requests"
    }


def test_empty_policy_sends_nothing():
    assert csp_headers("") == {}
    assert csp_headers(" ; ") == {}


@pytest.mark.parametrize("options", [{"report_only": True}, {"report_uri": "/csp"}])
def test_empty_policy_with_report_options_refused(options):
    with pytest.raises(AnsibleFilterError, match="is empty: set a policy"):
        csp_headers("", **options)


@pytest.mark.parametrize(
    ("policy", "what"),
    [
        ("default-src 'self'\nX-Injected: 1", "a line break"),
        ("default-src 'self'\r\n", "a line break"),
        ('default-src "self"', "a double quote"),
        ("default-src 'self' \\", "a backslash"),
        ("default-src $host", "a dollar sign"),
    ],
)
def test_injection_refused(policy, what):
    with pytest.raises(AnsibleFilterError, match=f"nginx_content_security_policy contains {what}"):
        csp_headers(policy)


def test_injection_in_the_report_address_refused():
    with pytest.raises(AnsibleFilterError, match="nginx_content_security_policy_report_uri contains a line break"):
        csp_headers(POLICY, report_uri="/r\nSet-Cookie: a=b")


@pytest.mark.parametrize("uri", ["http://csp.example.com/r", "csp.example.com/r", "/r r", "/r;x", "/r,x"])
def test_report_address_that_is_not_https_or_a_path_refused(uri):
    with pytest.raises(AnsibleFilterError, match="must be an https:// URL or a path"):
        csp_headers(POLICY, report_uri=uri)


@pytest.mark.parametrize("policy", [f"{POLICY}; report-uri /a", f"{POLICY}; Report-To g"])
def test_report_directives_given_twice_refused(policy):
    with pytest.raises(AnsibleFilterError, match="give the report address once"):
        csp_headers(policy, report_uri="/r")


def test_report_directive_in_the_policy_alone_is_kept():
    assert csp_headers(f"{POLICY}; report-uri /a") == {"Content-Security-Policy": f"{POLICY}; report-uri /a"}


@pytest.mark.parametrize("policy", ["'self'", "default_src 'self'", "1src x"])
def test_what_is_not_a_directive_name_refused(policy):
    with pytest.raises(AnsibleFilterError, match="is not a directive name"):
        csp_headers(policy)


def test_non_strings_refused():
    with pytest.raises(AnsibleFilterError, match="must be strings"):
        csp_headers(["default-src 'self'"])
