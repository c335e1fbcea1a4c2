# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CA file on the controller that a service's clients verify it with."""

DOCUMENTATION = r"""
name: tls_ca_src
short_description: The CA file on the controller that a service's clients verify it with
version_added: 0.1.0
author: opsforge developers (@opsforge)
description:
  - A client role's default CA follows the service role's inventory variables (for example C(redis_tls),
    C(redis_tls_ca_cert_src), C(redis_tls_ca_dir)), the way common's C(tls_certificate) picks the CA that signs.
  - Returns the user's CA certificate when it is set, else C(ca.crt) in the collection's CA directory, else an empty
    string; an empty string too when the service speaks no TLS.
options:
  _input:
    description: Whether the service speaks TLS.
    type: bool
    required: true
  ca_cert_src:
    description: The user's CA certificate on the controller (wins).
    type: str
    default: ""
  ca_dir:
    description: The controller's directory of the collection's CA.
    type: str
    default: ""
"""

EXAMPLES = r"""
uvicorn_app_tls_ca_src: >-
  {{ redis_tls | default(true)
     | opsforge.webstack.tls_ca_src(redis_tls_ca_cert_src | default(''), redis_tls_ca_dir | default('')) }}
"""

RETURN = r"""
_value:
  description: A path on the controller, or an empty string.
  type: str
  sample: /home/me/inventory/pki/ca.crt
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean


def tls_ca_src(tls, ca_cert_src="", ca_dir=""):
    """The CA certificate on the controller, or "" (pure)."""
    try:
        speaks_tls = boolean(tls, strict=True)
    except TypeError as err:
        raise AnsibleFilterError(f"tls_ca_src expects whether the service speaks TLS (a boolean), got {tls!r}") from err
    if not speaks_tls:
        return ""
    if ca_cert_src:
        return str(ca_cert_src)
    if ca_dir:
        return f"{str(ca_dir).rstrip('/')}/ca.crt"
    return ""


class FilterModule:
    """The CA a service's clients verify it with."""

    def filters(self):
        return {"tls_ca_src": tls_ca_src}
