# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # The login both halves of a switchover use on the database servers, and its TLS
    # (switchover_credentials_argument_spec()).
    DOCUMENTATION = r"""
options:
  switchover_user:
    description:
      - Role both halves of the switchover connect to the database servers as; PgBouncer hosts signal with it on
        the old primary, so that the start time of their connections is visible. Needs no privilege beyond
        CONNECT.
    type: str
    required: true
  switchover_password:
    description: Password of O(switchover_user).
    type: str
    required: true
  switchover_db:
    description: Database the switchover connections use.
    type: str
    default: postgres
  switchover_ssl_mode:
    description:
      - How the connections to the database servers (the old primary, and the target for
        M(opsforge.webstack.pgbouncer_switchover)) negotiate TLS, as libpq's C(sslmode). V(verify-full) checks that
        the server's certificate is signed by the CA in O(switchover_ca_cert) and names the address connected to
        (the collection's certificates name each host's private address); use it wherever the servers speak TLS.
      - Apart from O(ssl_mode), which is the module's own login (the local unix socket, or PgBouncer's admin
        console on loopback). When not set, O(ssl_mode) applies to the database servers too.
    type: str
    choices: [allow, disable, prefer, require, verify-ca, verify-full]
  switchover_ca_cert:
    description:
      - File on the managed host of the CA that signs the database servers' certificates (libpq's C(sslrootcert)),
        readable by the user the module runs as.
      - Needed with V(verify-ca) and V(verify-full) in O(switchover_ssl_mode); the module refuses before it
        connects, changing nothing, when the file is not set or cannot be read. When not set, O(ca_cert) applies.
    type: str
"""

    # The options of the critical section that the database-side modules (pg_switchover_promote,
    # pg_switchover_stop) share, with the same meaning (critical_section_argument_spec()).
    CRITICAL_SECTION = r"""
options:
  bouncers:
    description: The signal names (usually inventory hostnames) of every PgBouncer host that must have paused.
    type: list
    elements: str
    required: true
  signal_timeout:
    description: Seconds to wait from the start of the module for every signal.
    type: float
    default: 10
  pause_timeout:
    description: The O(opsforge.webstack.pgbouncer_switchover#module:pause_timeout) the PgBouncer hosts use.
    type: float
    default: 15
  pause_wait:
    description: The O(opsforge.webstack.pgbouncer_switchover#module:pause_wait) the PgBouncer hosts use.
    type: float
    default: 3
"""

    # The options both PgBouncer-side modules share (pgbouncer_pause.pause_argument_spec(), with the login's and
    # DOCUMENTATION's): the signal, the barrier and the PAUSE's bound.
    PGBOUNCER_PAUSE = r"""
options:
  signal_name:
    description: This host's name in the signal (usually its inventory hostname); letters, digits, C(.-_).
    type: str
    required: true
  peers:
    description:
      - Signal names of every PgBouncer host that pauses together, this one included (usually the group's
        inventory hostnames). PAUSE waits until all of them are connected and ready. An empty list sets no barrier.
    type: list
    elements: str
    default: []
  barrier_timeout:
    description: Seconds to wait for O(peers); when one is missing after that, the module fails without pausing.
    type: float
    default: 10
  pause_wait:
    description: Seconds PAUSE may take (clients finishing their transactions) before the module resumes and fails.
    type: float
    default: 3
  poll_interval_ms:
    description: Milliseconds between two looks at the barrier (and, for M(opsforge.webstack.pgbouncer_switchover), at
      the target).
    type: int
    default: 20
"""
