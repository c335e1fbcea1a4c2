# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # Options for connecting to the PgBouncer admin console (see pgbouncer_common_argument_spec()).
    # The TLS options come from the postgres fragment (opsforge.webstack.postgres.tls).
    DOCUMENTATION = r"""
options:
  login_user:
    description:
      - A user listed in PgBouncer's C(admin_users) (or C(stats_users) for C(SHOW) commands only).
    type: str
    default: pgbouncer
  login_password:
    description:
      - The password of O(login_user). Leave empty when C(auth_type) allows the user without one.
    type: str
    default: ''
  login_host:
    description:
      - Address of PgBouncer's C(listen_addr), or its socket directory when it starts with C(/).
      - Empty means the socket in O(login_unix_socket) (C(/var/run/postgresql) when that is empty too); so does
        V(localhost) once O(login_unix_socket) is set.
    type: str
    default: ''
  login_unix_socket:
    description:
      - Directory of PgBouncer's unix socket (its C(unix_socket_dir)), used when O(login_host) is empty or
        V(localhost).
    type: str
    default: ''
  login_port:
    description:
      - Port PgBouncer listens on.
    type: int
    default: 6432
    aliases: [port]
  connect_timeout:
    description:
      - Seconds to wait for a connection to the admin console before giving up.
    type: int
    default: 10
requirements:
  - psycopg2 (or psycopg2-binary) on the managed host
notes:
  - The admin console is the virtual database C(pgbouncer). It only understands simple queries, so the module
    uses autocommit and never prepares statements or opens transactions.
"""
