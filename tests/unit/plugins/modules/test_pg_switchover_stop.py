# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from ansible_collections.opsforge.webstack.plugins.modules import pg_switchover_stop as mod


def test_validate_params_checks_the_shared_options_and_the_stop_timeout(critical_section_options):
    good = {**critical_section_options, "stop_timeout": 5}
    assert mod.validate_params(good) is None
    assert "stop_timeout must be positive" in mod.validate_params({**good, "stop_timeout": 0})
    assert "at least one PgBouncer host" in mod.validate_params({**good, "bouncers": []})


def test_the_postmaster_pid_is_the_first_line(tmp_path):
    (tmp_path / "postmaster.pid").write_text("4242\n/var/lib/postgresql/17/main\n")
    assert mod.postmaster_pid(str(tmp_path)) == 4242
    (tmp_path / "postmaster.pid").unlink()
    assert mod.postmaster_pid(str(tmp_path)) is None
