# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""systemd_units: one `systemctl show` read, a plan of what to change, and refusals named by unit."""

import pytest
from ansible_collections.opsforge.webstack.plugins.modules import systemd_units as mod

SHOW = """Id=a.service
LoadState=loaded
ActiveState=active
UnitFileState=enabled

Id=b.timer
LoadState=loaded
ActiveState=inactive
UnitFileState=disabled

Id=c.service
LoadState=loaded
ActiveState=activating
UnitFileState=static
"""
UNITS = ["a.service", "b.timer", "c.service"]


def test_parse_show_reads_one_block_per_unit_in_order():
    states = mod.parse_show(SHOW, UNITS)
    assert list(states) == UNITS
    assert states["b.timer"] == {
        "Id": "b.timer",
        "LoadState": "loaded",
        "ActiveState": "inactive",
        "UnitFileState": "disabled",
    }


def test_parse_show_refuses_a_count_that_does_not_match():
    with pytest.raises(ValueError, match="2 blocks for 3 units"):
        mod.parse_show(SHOW.split("\n\nId=c.service", maxsplit=1)[0], UNITS)


@pytest.mark.parametrize(
    ("state", "enabled", "expected"),
    [
        ("started", True, {"enabled": ["b.timer"], "started": ["b.timer"]}),
        ("stopped", False, {"disabled": ["a.service"], "stopped": ["a.service", "c.service"]}),
        (None, True, {"enabled": ["b.timer"]}),
        ("started", None, {"started": ["b.timer"]}),
    ],
)
def test_plan_changes_only_what_differs(state, enabled, expected):
    nothing = {"enabled": [], "disabled": [], "started": [], "restarted": [], "reloaded": [], "stopped": []}
    assert mod.plan(mod.parse_show(SHOW, UNITS), state, enabled) == {**nothing, **expected}


def test_plan_restarts_or_reloads_only_running_units_that_it_did_not_start():
    actions = mod.plan(
        mod.parse_show(SHOW, UNITS),
        "started",
        None,
        restarted=["a.service", "b.timer"],
        reloaded=["a.service", "c.service"],
    )
    assert actions["started"] == ["b.timer"]
    assert actions["restarted"] == ["a.service"]
    assert actions["reloaded"] == ["c.service"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"units": []}, "units is empty"),
        ({"units": ["a.service", "a.service"]}, "names a unit twice"),
        ({"units": ["a.service"], "state": "stopped", "restarted": ["a.service"]}, "restarted needs state=started"),
        (
            {"units": ["a.service"], "state": "started", "reloaded": ["b.service"]},
            "reloaded names b.service, not in units",
        ),
    ],
)
def test_bad_input_is_named(params, message):
    full = {"state": None, "enabled": None, "restarted": [], "reloaded": [], **params}
    assert message in mod.input_error(full)


def test_missing_and_masked_units_are_named_with_what_to_do():
    states = {
        "gone.service": {"LoadState": "not-found", "ActiveState": "inactive", "UnitFileState": ""},
        "off.service": {"LoadState": "masked", "ActiveState": "inactive", "UnitFileState": "masked"},
        "ok.service": {"LoadState": "loaded", "ActiveState": "active", "UnitFileState": "enabled"},
    }
    found = mod.problems(states)
    assert len(found) == 2
    assert "gone.service is not installed" in found[0] and "systemctl unmask off.service" in found[1]
