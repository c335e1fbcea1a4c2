# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # The attributes every module of the collection shares; check_mode stays in each module, it says what it does.
    DOCUMENTATION = r"""
attributes:
  diff_mode:
    support: none
    description: Nothing is reported as a diff.
"""

    # check_mode of a module that only reads.
    READ_ONLY = r"""
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode runs it as usual.
"""
