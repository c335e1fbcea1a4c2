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

    # The same for the modules that only read (opsforge.webstack.attributes.read_only), check mode included.
    READ_ONLY = r"""
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode runs it as usual.
  diff_mode:
    support: none
    description: Nothing is reported as a diff.
"""
