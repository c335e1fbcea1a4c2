# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Only what differs is sent to the running cluster, nested as Patroni merges it; nothing it holds is removed."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.patroni_config_patch import patroni_config_patch

WANTED = {
    "ttl": 30,
    "loop_wait": 10,
    "synchronous_mode": False,
    "postgresql": {"use_pg_rewind": True, "parameters": {"max_connections": 100, "wal_level": "replica"}},
}


def held(**changes):
    config = {
        "ttl": 30,
        "loop_wait": 10,
        "synchronous_mode": False,
        "postgresql": {"use_pg_rewind": True, "parameters": {"max_connections": 100, "wal_level": "replica"}},
    }
    config.update(changes)
    return config


def test_a_cluster_that_holds_the_wanted_configuration_gets_no_patch():
    assert patroni_config_patch(held(), WANTED) == {}


def test_a_changed_timing_and_synchronous_mode_are_sent_alone():
    assert patroni_config_patch(held(ttl=20, synchronous_mode=True), WANTED) == {"ttl": 30, "synchronous_mode": False}


def test_a_changed_parameter_is_sent_without_the_others():
    current = held(postgresql={"use_pg_rewind": True, "parameters": {"max_connections": 50, "wal_level": "replica"}})
    assert patroni_config_patch(current, WANTED) == {"postgresql": {"parameters": {"max_connections": 100}}}


def test_keys_the_cluster_lacks_are_sent_whole():
    assert patroni_config_patch({"ttl": 30, "loop_wait": 10}, WANTED) == {
        "synchronous_mode": False,
        "postgresql": WANTED["postgresql"],
    }


def test_keys_only_the_cluster_holds_are_left_alone():
    current = held(failsafe_mode=True, postgresql={**WANTED["postgresql"], "pg_hba": ["local all all peer"]})
    assert patroni_config_patch(current, WANTED) == {}


def test_a_number_where_a_boolean_is_wanted_is_sent_even_when_it_compares_equal():
    # 1 == True in Python; Patroni would read them differently.
    assert patroni_config_patch({"synchronous_mode": 1}, {"synchronous_mode": True}) == {"synchronous_mode": True}


class TemplatedStr(str):
    """What ansible-core's templating may hand a filter: a subclass of str (tagged with its origin)."""


class TemplatedInt(int):
    pass


def test_a_number_held_as_text_is_the_same_setting():
    # A cluster built by an ansible-core that rendered the template's values as strings.
    current = held(
        ttl="30", postgresql={"use_pg_rewind": True, "parameters": {"max_connections": "100", "wal_level": "replica"}}
    )
    assert patroni_config_patch(current, WANTED) == {}


def test_templated_values_equal_to_the_held_ones_are_not_sent():
    wanted = {"ttl": TemplatedInt(30), "postgresql": {"parameters": {"wal_level": TemplatedStr("replica")}}}
    assert patroni_config_patch(held(), wanted) == {}


@pytest.mark.parametrize("current, wanted", [(None, WANTED), (WANTED, ["ttl"]), ("ttl: 30", WANTED)])
def test_anything_but_two_mappings_is_refused(current, wanted):
    with pytest.raises(AnsibleFilterError, match="expects two mappings"):
        patroni_config_patch(current, wanted)
