# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # The login both halves of a switchover use on the database servers (switchover_credentials_argument_spec()).
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
"""
