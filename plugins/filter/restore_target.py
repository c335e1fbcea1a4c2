# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decide what a pgBackRest restore targets, and refuse a target it cannot reach, before anything is touched."""

DOCUMENTATION = r"""
name: restore_target
short_description: Decide a pgBackRest restore's target and refuse one that cannot be reached
version_added: 0.1.0
author: opsforge developers (@opsforge)
description:
  - Takes the stanza's backups (RV(opsforge.webstack.pgbackrest_info#module:backups)) and the operator's target, and
    returns the pgBackRest options of the restore, or an error that names the fix.
  - A target time must carry a time zone, must not be in the future, and must not be before the end of the first
    backup (a point in time is reached by replaying WAL on top of a backup that ended before it).
  - With neither a time nor a name, the restore replays all archived WAL (the latest state).
options:
  _input:
    description: The backups, each with C(label) and C(stop_epoch).
    type: list
    elements: dict
    required: true
  target_time:
    description: A point in time, ISO 8601 with a zone (C(2026-12-03 07:00:00+00:00)); empty for none.
    type: str
    required: true
  target_name:
    description: A restore point made with C(pg_create_restore_point()); empty for none.
    type: str
    required: true
  now:
    description: The current time, seconds since the epoch.
    type: float
    required: true
"""

EXAMPLES = r"""
- name: Decide the target
  ansible.builtin.set_fact:
    restore_plan: >-
      {{ info.backups | opsforge.webstack.restore_target('2026-12-03 07:00:00+00:00', '', now(utc=true).timestamp()) }}
"""

RETURN = r"""
_value:
  description: C(error) (null when the target can be reached), C(type) (C(default), C(time) or C(name)), C(target),
    C(options) (pgBackRest options) and C(description).
  type: dict
"""

from datetime import datetime, timezone

from ansible.errors import AnsibleFilterError


def _utc(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S+00:00")


def restore_target(backups, target_time, target_name, now):
    """The restore's type, target and pgBackRest options, or an error (never raises for bad operator input)."""
    if not isinstance(backups, list):
        raise AnsibleFilterError("restore_target expects the list of backups from pgbackrest_info")
    target_time, target_name = (target_time or "").strip(), (target_name or "").strip()
    result = {"error": None, "type": "default", "target": None, "options": [], "description": "the latest archived WAL"}
    if target_time and target_name:
        result["error"] = "Give restore_target_time or restore_target_name, not both."
        return result
    done = [b for b in backups if b.get("stop_epoch") is not None and not b.get("error")]
    if not done:
        result["error"] = "The stanza has no finished backup to restore from. Run playbooks/backup.yml first."
        return result
    if target_name:
        result.update(type="name", target=target_name, description=f"restore point {target_name!r}")
        result["options"] = ["--type=name", f"--target={target_name}"]
        return result
    if not target_time:
        return result
    try:
        when = datetime.fromisoformat(target_time.replace("Z", "+00:00"))
    except ValueError:
        result["error"] = (
            f"restore_target_time {target_time!r} is not a time. Use ISO 8601 with a zone, "
            "for example '2026-12-03 07:00:00+00:00'."
        )
        return result
    if when.tzinfo is None:
        result["error"] = (
            f"restore_target_time {target_time!r} has no time zone; add one (for example +00:00) "
            "so that the target does not depend on the host's zone."
        )
        return result
    epoch = when.timestamp()
    first = min(done, key=lambda b: b["stop_epoch"])
    if epoch > now:
        result["error"] = (
            f"restore_target_time {target_time} is in the future (now is {_utc(now)}): no WAL exists for it yet. "
            "Nothing was changed."
        )
    elif epoch < first["stop_epoch"]:
        result["error"] = (
            f"restore_target_time {target_time} is before the end of the first backup ({first['label']}, "
            f"{_utc(first['stop_epoch'])}): no backup can reach it. Pick a later time. Nothing was changed."
        )
    else:
        # To the microsecond, as given: a target cut to the second would drop the commits of that second.
        target = when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00")
        result.update(type="time", target=target, description=f"the state at {target}")
        result["options"] = ["--type=time", f"--target={target}"]
    return result


class FilterModule:
    """pgBackRest restore filters."""

    def filters(self):
        return {"restore_target": restore_target}
