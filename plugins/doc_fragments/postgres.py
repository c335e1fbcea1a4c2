# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # Options for connecting to a PostgreSQL server (see postgres_common_argument_spec()).
    # Same names as community.postgresql, so one module_defaults block can serve both collections.
    DOCUMENTATION = r"""
options:
  login_user:
    description:
      - The role to connect as.
      - Needs superuser, or membership of C(pg_monitor) for the read-only modules, to see replication details.
    type: str
    default: postgres
  login_password:
    description:
      - The password of O(login_user). Leave empty for peer or trust authentication or a C(~/.pgpass) file.
    type: str
    default: ''
  login_host:
    description:
      - Host name or IP address of the server, or the directory of its unix socket when it starts with C(/).
      - When empty, or V(localhost) while O(login_unix_socket) is set, the module connects over the unix socket
        in O(login_unix_socket), or C(/var/run/postgresql) when that is empty too.
    type: str
    default: ''
  login_unix_socket:
    description:
      - Directory of the server's unix socket, used when O(login_host) is empty or V(localhost).
    type: str
    default: ''
  login_port:
    description:
      - Port of the server (or the suffix of its unix socket file).
    type: int
    default: 5432
    aliases: [port]
  login_db:
    description:
      - Database to connect to.
    type: str
    default: postgres
  connect_timeout:
    description:
      - Seconds to wait for a connection before giving up.
    type: int
    default: 10
requirements:
  - psycopg2 (or psycopg2-binary) on the managed host
notes:
  - To use the unix socket as the C(postgres) OS user, run the task with C(become_user=postgres).
"""

    # TLS options of every connection a module opens (PostgreSQL servers and the PgBouncer admin console).
    TLS = r"""
options:
  ssl_mode:
    description:
      - How the connections negotiate TLS, as libpq's C(sslmode). V(verify-full) checks the server certificate
        against O(ca_cert) and its name against the host.
      - Applies to every connection the module opens, including those to other servers named by its options,
        except where the module has TLS options of their own for those (the switchover modules'
        C(switchover_ssl_mode) and C(switchover_ca_cert)).
    type: str
    default: prefer
    choices: [allow, disable, prefer, require, verify-ca, verify-full]
  ca_cert:
    description:
      - File of the certificate authorities that sign the server certificates (libpq's C(sslrootcert)).
    type: str
    aliases: [ssl_rootcert]
  ssl_cert:
    description:
      - Client certificate file, for servers that authenticate clients by certificate (libpq's C(sslcert)).
    type: path
  ssl_key:
    description:
      - Private key of O(ssl_cert) (libpq's C(sslkey)).
    type: path
"""
