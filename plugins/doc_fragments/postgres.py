# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # Options for connecting to a PostgreSQL server (see postgres_common_argument_spec()).
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
    type: str
    default: /var/run/postgresql
  login_port:
    description:
      - Port of the server (or the suffix of its unix socket file).
    type: int
    default: 5432
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
