# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Content-Security-Policy headers nginx sends for a site, from the operator's policy and mode."""

DOCUMENTATION = r"""
name: nginx_csp_headers
short_description: The Content-Security-Policy response headers of the nginx site
version_added: 0.1.0
author: opsforge developers (@opsforge)
description:
  - Turns the nginx role's policy, mode and report address into the response headers nginx adds, as a mapping
    of header name to value.
  - Enforcing mode gives C(Content-Security-Policy); report-only mode gives C(Content-Security-Policy-Report-Only)
    instead (browsers report violations and block nothing), never both.
  - With a report address the policy gets C(report-uri <address>) (browsers without the Reporting API) and
    C(report-to webstack-csp), and a C(Reporting-Endpoints) header names that group's address.
  - Refuses, with the fix, what would break the nginx configuration or inject headers (a line break, a double
    quote, a backslash, a C($)), a directive name that is not one, report directives both in the policy and as
    the report address, an address that is not an https URL or a path, and report-only mode without a policy.
options:
  _input:
    description: The policy, directives separated by C(;) (C(nginx_content_security_policy)); empty sends no header.
    type: str
    required: true
  report_only:
    description: Send the policy as C(Content-Security-Policy-Report-Only).
    type: bool
    default: false
  report_uri:
    description: Where browsers send violation reports (an https URL or a path on the site); empty for none.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: The site's CSP headers
  ansible.builtin.debug:
    msg: >-
      {{ nginx_content_security_policy
         | opsforge.webstack.nginx_csp_headers(report_only=true, report_uri='/csp-report') }}
"""

RETURN = r"""
_value:
  description: Header name to value, in the order nginx adds them; empty when the policy is empty.
  type: dict
  sample: {"Content-Security-Policy-Report-Only": "default-src 'self'; report-uri /csp-report; report-to webstack-csp",
           "Reporting-Endpoints": "webstack-csp=\"/csp-report\""}
"""

import re

from ansible.errors import AnsibleFilterError

REPORT_GROUP = "webstack-csp"
# Characters that would end nginx's quoted header value, start a variable, or start another header line.
_FORBIDDEN = {
    '"': "a double quote",
    "\\": "a backslash",
    "$": "a dollar sign",
    "\n": "a line break",
    "\r": "a line break",
}
_DIRECTIVE_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_REPORT_URI = re.compile(r"^(https://[^\s;,\"'\\$]+|/[^\s;,\"'\\$]*)$")


def _refuse_forbidden(value, variable):
    for char, what in _FORBIDDEN.items():
        if char in value:
            raise AnsibleFilterError(
                f"{variable} contains {what}: nginx would not take it in a header value (or it would start another "
                "header). Write CSP sources with single quotes ('self', 'nonce-...') and remove the character"
            )


def _directives(policy):
    """The policy's directives as (name, rest) pairs; refuses a name that is not a CSP directive name."""
    directives = []
    for part in policy.split(";"):
        words = part.split()
        if not words:
            continue
        name = words[0].lower()
        if not _DIRECTIVE_NAME.match(name):
            raise AnsibleFilterError(
                f"nginx_content_security_policy: {words[0]!r} is not a directive name (directives are separated by "
                "';' and start with a name such as default-src or script-src)"
            )
        directives.append((name, " ".join(words[1:])))
    return directives


def csp_headers(policy, report_only=False, report_uri=""):
    """{header name: value} for the policy (pure)."""
    if not isinstance(policy, str) or not isinstance(report_uri, str):
        raise AnsibleFilterError(
            "nginx_content_security_policy and nginx_content_security_policy_report_uri must be strings"
        )
    _refuse_forbidden(policy, "nginx_content_security_policy")
    _refuse_forbidden(report_uri, "nginx_content_security_policy_report_uri")
    directives = _directives(policy)
    if not directives:
        if report_only or report_uri:
            raise AnsibleFilterError(
                "nginx_content_security_policy is empty: set a policy to report on, or leave "
                "nginx_content_security_policy_report_only false and nginx_content_security_policy_report_uri empty"
            )
        return {}
    if report_uri:
        if not _REPORT_URI.match(report_uri):
            raise AnsibleFilterError(
                f"nginx_content_security_policy_report_uri {report_uri!r} must be an https:// URL or a path of the "
                "site starting with '/', without spaces, ';' or ','"
            )
        given = sorted({name for name, _rest in directives if name in ("report-uri", "report-to")})
        if given:
            raise AnsibleFilterError(
                f"nginx_content_security_policy has {' and '.join(given)} and nginx_content_security_policy_report_uri "
                "is set: give the report address once, in nginx_content_security_policy_report_uri"
            )
        directives += [("report-uri", report_uri), ("report-to", REPORT_GROUP)]
    value = "; ".join(f"{name} {rest}".rstrip() for name, rest in directives)
    headers = {"Content-Security-Policy-Report-Only" if report_only else "Content-Security-Policy": value}
    if report_uri:
        headers["Reporting-Endpoints"] = f'{REPORT_GROUP}="{report_uri}"'
    return headers


class FilterModule:
    """Content-Security-Policy headers of the nginx site."""

    def filters(self):
        return {"nginx_csp_headers": csp_headers}
