# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Where PgBouncer points in the Patroni mode, decided from the members' REST API answers (pure, no Ansible).

The pgbouncer role installs this file beside its leader watcher (webstack_pgbouncer_follow.py), which asks every
member GET /primary (200 only from the member that holds the leader key and runs as primary) and, from the others,
GET /replica, then calls decide() and render_databases().
"""

from typing import NamedTuple, Optional


class Answer(NamedTuple):
    """One member's answers: True (200), False (another HTTP status) or None (no answer: down, frozen, TLS refused)."""

    primary: Optional[bool]
    replica: Optional[bool] = None
    error: str = ""


class Target(NamedTuple):
    """The members PgBouncer points at: the leader, and the replicas for the read-only alias (names, sorted)."""

    leader: str
    replicas: tuple[str, ...]


class Decision(NamedTuple):
    """A target to point at, or None to keep the current one, and why in words for the log."""

    target: Optional[Target]
    reason: str


def decide(answers: dict[str, Answer]) -> Decision:
    """Exactly one member answering as primary leads; none or several: keep whatever PgBouncer points at now.

    A member that does not answer is neither leader nor replica: during a failover the old leader is often silent,
    and the new one answers as primary once Patroni has promoted it under the leader key.
    """
    leaders = sorted(name for name, answer in answers.items() if answer.primary)
    silent = sorted(name for name, answer in answers.items() if answer.primary is None)
    if len(leaders) != 1:
        found = "no member answers as primary"
        if leaders:
            found = f"{len(leaders)} members answer as primary ({', '.join(leaders)})"
        unanswered = f"; no answer from {', '.join(silent)}" if silent else ""
        return Decision(None, f"{found}{unanswered}: keeping the current target")
    leader = leaders[0]
    replicas = tuple(sorted(name for name, answer in answers.items() if answer.replica and name != leader))
    return Decision(Target(leader, replicas), f"leader {leader}, replicas {', '.join(replicas) or 'none'}")


def render_databases(
    target: Target, addresses: dict[str, str], databases: list[dict[str, str]], port: int, readonly_suffix: str
) -> str:
    """PgBouncer's [databases] entries for the target, as the role's databases.ini.j2 writes them for a topology.

    Each database goes to the leader, its read-only alias to the replicas (to the leader when there are none).
    """
    primary = addresses[target.leader]
    readonly = ",".join(addresses[name] for name in target.replicas) or primary
    lines = []
    for database in databases:
        name, dbname = database["name"], database.get("dbname") or database["name"]
        lines.append(f"{name} = host={primary} port={port} dbname={dbname}")
        lines.append(f"{name}{readonly_suffix} = host={readonly} port={port} dbname={dbname}")
    return "".join(line + "\n" for line in lines)
