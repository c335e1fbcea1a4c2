"""The common role converges a base system setting only where the host's probe says it differs."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.base_system_drift import base_system_drift

TIMERS = ["apt-daily.timer", "apt-daily-upgrade.timer"]

# What tasks/state.yml prints on a host that has every setting (a trixie lab host).
CONVERGED = """\
timezone Etc/UTC
locale C
locale C.utf8
locale en_US.utf8
locale POSIX
weak_moduli 0
login_umask 027
group webstack-ssh
timer apt-daily.timer disabled inactive
timer apt-daily-upgrade.timer disabled inactive
package telnet not-installed
"""


def drift(output: str, **overrides) -> dict:
    wanted = {
        "timezone": "Etc/UTC",
        "locale": "en_US.UTF-8",
        "login_umask": "027",
        "groups": ["webstack-ssh"],
        "unwanted_packages": ["telnet", "unattended-upgrades"],
        "apt_timers": TIMERS,
        "apt_timers_enabled": False,
    }
    return base_system_drift(output, **(wanted | overrides))


def test_a_converged_host_needs_nothing():
    assert drift(CONVERGED) == {
        "timezone": False,
        "locale": False,
        "weak_moduli": False,
        "login_umask": False,
        "missing_groups": [],
        "installed_unwanted": [],
        "apt_timers": False,
    }


def test_a_fresh_host_needs_everything():
    fresh = """\
timezone Etc/UTC
locale C
locale POSIX
weak_moduli 12
login_umask 022
timer apt-daily.timer enabled active
timer apt-daily-upgrade.timer enabled active
package telnet installed
package unattended-upgrades installed
"""
    result = drift(fresh, timezone="Europe/Berlin")
    assert result == {
        "timezone": True,
        "locale": True,
        "weak_moduli": True,
        "login_umask": True,
        "missing_groups": ["webstack-ssh"],
        "installed_unwanted": ["telnet", "unattended-upgrades"],
        "apt_timers": True,
    }


def test_what_the_probe_could_not_read_counts_as_drift():
    # No /etc/localtime link, no moduli file, no login.defs line, timers systemd does not know.
    result = drift("timezone \nlocale C\ntimer apt-daily.timer  \n")
    assert result["timezone"] and result["locale"] and result["weak_moduli"] and result["login_umask"]
    assert result["apt_timers"]


@pytest.mark.parametrize("locale", ["en_US.UTF-8", "en_US.utf8", "en_US.utf-8"])
def test_a_locale_is_found_however_its_codeset_is_spelt(locale):
    assert not drift(CONVERGED, locale=locale)["locale"]


def test_another_locale_is_not_taken_for_it():
    assert drift(CONVERGED, locale="de_DE.UTF-8")["locale"]


def test_an_empty_login_umask_leaves_login_defs_alone():
    assert not drift(CONVERGED.replace("login_umask 027\n", ""), login_umask="")["login_umask"]


def test_unattended_timers_must_be_enabled_and_running():
    assert drift(CONVERGED, apt_timers_enabled=True)["apt_timers"]
    running = CONVERGED.replace("disabled inactive", "enabled active")
    assert not drift(running, apt_timers_enabled=True)["apt_timers"]
    # Enabled but stopped is still drift.
    assert drift(
        running.replace("upgrade.timer enabled active", "upgrade.timer enabled inactive"), apt_timers_enabled=True
    )["apt_timers"]


def test_a_package_half_removed_is_not_installed():
    assert drift(CONVERGED.replace("telnet not-installed", "telnet config-files"))["installed_unwanted"] == []


def test_no_groups_asked_none_missing():
    assert drift(CONVERGED, groups=[])["missing_groups"] == []


def test_output_that_is_not_text_is_refused():
    with pytest.raises(AnsibleFilterError, match="probe's output as text"):
        drift(None)
