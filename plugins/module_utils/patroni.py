# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Patroni's REST API in a planned switchover (postgresql_ha: patroni).

switchover_refusal() decides from Patroni's GET /cluster whether Patroni would switch over from a leader to a
candidate now; the patroni_switchover_check filter (the switchover role's plan) and pg_switchover_promote (once
more, right before it asks) both call it. health_refusal() decides whether the whole cluster is healthy enough to
restart one of its members (the patroni_cluster_check filter: patch.yml's pre-check and its wait after each
member's restart). request() is the one HTTP call: TLS verified with the cluster's CA,
straight to the member (never through a proxy from the environment), basic authentication where given.
Everything but request() is pure, so that the refusals are unit tested without hosts. request() imports ssl and
urllib itself: the filters load this file in every forked worker (ansible-core executes each file in plugins/filter
there), and never call it.
"""

import base64
import json
from typing import Any, NamedTuple, Optional

# Patroni's roles of a member that streams from the leader (quorum_standby: Patroni 4's quorum commit).
REPLICA_ROLES = ("replica", "sync_standby", "quorum_standby")
# A replica's state in GET /cluster: "streaming" since Patroni 3.0.4 (Debian 13's 4.x), "running" before it (Debian
# 12's 3.0.2, which does not tell); the switchover role checks the streaming itself on the leader
# (pg_stat_replication) either way.
REPLICA_STATES = ("streaming", "running")


def patroni_argument_spec() -> dict[str, Any]:
    """The suboptions of pg_switchover_promote's patroni option (the REST API of the leader)."""
    return {
        "api_url": {"type": "str", "required": True},
        "leader": {"type": "str", "required": True},
        "candidate": {"type": "str", "required": True},
        "user": {"type": "str", "required": True},
        "password": {"type": "str", "required": True, "no_log": True},
        "ca_cert": {"type": "path"},
        "timeout": {"type": "float", "default": 5},
    }


class Response(NamedTuple):
    """An HTTP answer: its status and its body as text."""

    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    method: str,
    url: str,
    ca_cert: Optional[str],
    timeout: float,
    user: Optional[str] = None,
    password: Optional[str] = None,
    body: Optional[dict[str, Any]] = None,
) -> Response:
    """One request to a member's REST API; an HTTP error status is an answer, no answer raises OSError."""
    import ssl
    import urllib.error
    import urllib.request

    context = ssl.create_default_context(cafile=ca_cert)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if user is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password or ''}".encode()).decode()
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with opener.open(req, timeout=timeout) as answer:
            return Response(answer.status, answer.read().decode(errors="replace"))
    except urllib.error.HTTPError as exc:
        return Response(exc.code, exc.read().decode(errors="replace"))


def first_answer(answers: list[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """The first GET /cluster answer of an ansible.builtin.uri loop's results that Patroni gave (pure)."""
    for answer in answers:
        if answer.get("status") == 200 and isinstance(answer.get("json"), dict):
            return answer["json"]
    return None


def no_answer_refusal(answers: list[dict[str, Any]]) -> str:
    """The refusal when no member answered GET /cluster, with each member's error (pure)."""
    errors = [f"{a.get('item')}: {a.get('status') or ''} {a.get('msg') or ''}".strip() for a in answers]
    return (
        f"no member's Patroni REST API answered GET /cluster ({'; '.join(errors)}). Check that Patroni "
        "runs (systemctl status patroni@...) and that its API is reachable from the members."
    )


def api_base(api_url: str) -> str:
    """A member's REST API root from GET /cluster's api_url (which ends in /patroni) (pure)."""
    url = api_url.rstrip("/")
    return url[: -len("/patroni")] if url.endswith("/patroni") else url


def switchover_outcome(response: Response, leader: str, candidate: str) -> Optional[str]:
    """What went wrong with POST /switchover, in words, or None when Patroni switched over (pure)."""
    text = response.body.strip()[:300]
    if response.status == 200:
        return None
    if response.status in (401, 403):
        return (
            f"Patroni refused the credentials ({response.status}): check postgresql_patroni_restapi_user and "
            "postgresql_patroni_restapi_password"
        )
    if response.status == 202:
        return f"Patroni scheduled the switchover instead of running it ({text})"
    return f"Patroni did not switch over from {leader} to {candidate} ({response.status}: {text})"


def _describe(members: list[dict[str, Any]]) -> str:
    return ", ".join(f"{m.get('name')} {m.get('role')}/{m.get('state')}" for m in members) or "none"


def _leader_refusal(cluster: dict[str, Any], leader: str, members: list[dict[str, Any]]) -> str:
    if cluster.get("pause"):
        return (
            "Patroni's cluster is paused (maintenance mode, `patronictl pause`): it would not move the leader key. "
            "A switchover.yml that was interrupted leaves it paused, its PgBouncer hosts' leader watchers stopped: "
            "check with `patronictl list` that one member runs as the primary and holds the leader key (the switchover "
            'role\'s README, "An interrupted switchover"), then resume it with `patronictl resume` and run site.yml.'
        )
    scheduled = cluster.get("scheduled_switchover")
    if scheduled:
        return (
            f"Patroni already has a switchover scheduled ({scheduled.get('from')} to {scheduled.get('to') or 'any'}"
            f" at {scheduled.get('at')}). Cancel it (`patronictl flush <scope> switchover`) or let it happen."
        )
    leaders = [m for m in members if m.get("role") in ("leader", "standby_leader")]
    if not leaders:
        return (
            f"Patroni's cluster has no leader (members: {_describe(members)}). Wait until Patroni elected one "
            "(`patronictl list`), then run this again."
        )
    found = leaders[0]
    if found.get("role") == "standby_leader":
        return f"{found.get('name')} leads a standby cluster (standby_leader): there is no primary to switch over."
    if found.get("name") != leader:
        return (
            f"Patroni's leader is {found.get('name')}, but {leader} is the server that runs as the primary. "
            "Patroni is moving the leader now: run this again once `patronictl list` shows one running leader."
        )
    if found.get("state") != "running":
        return f"Patroni's leader {leader} is {found.get('state')}, not running. Run this again once it runs."
    return ""


def _candidate_refusal(
    leader_member: dict[str, Any], members: list[dict[str, Any]], candidate: str, max_lag_bytes: int
) -> str:
    by_name = {m.get("name"): m for m in members}
    if candidate not in by_name:
        return f"{candidate} is not a member of Patroni's cluster (members: {_describe(members)})."
    member = by_name[candidate]
    role, state = member.get("role"), member.get("state")
    if role not in REPLICA_ROLES:
        return f"{candidate} is a {role} in Patroni's cluster, not a replica."
    if state not in REPLICA_STATES:
        return f"{candidate} is {state} in Patroni's cluster (a replica must be streaming). Repair it first."
    if (member.get("tags") or {}).get("nofailover"):
        return f"{candidate} carries Patroni's nofailover tag: Patroni never makes it the leader."
    lag = member.get("lag")
    if not isinstance(lag, int) or lag > max_lag_bytes:
        return (
            f"{candidate} lags {lag} bytes behind the leader in Patroni's view (switchover_max_lag_bytes="
            f"{max_lag_bytes}). Wait for it to catch up."
        )
    if member.get("timeline") != leader_member.get("timeline"):
        return (
            f"{candidate} is on timeline {member.get('timeline')}, the leader on {leader_member.get('timeline')}: "
            "it has not followed the last promotion yet."
        )
    synchronous = sorted(m.get("name") for m in members if m.get("role") == "sync_standby")
    if synchronous and candidate not in synchronous:
        return (
            f"the cluster runs in synchronous mode and {candidate} is not a synchronous standby "
            f"({', '.join(synchronous)}): Patroni switches over only to one of those."
        )
    return ""


def switchover_refusal(cluster: dict[str, Any], leader: str, candidate: str, max_lag_bytes: int) -> str:
    """The first reason Patroni would not (or must not) switch over from leader to candidate now, or '' (pure).

    cluster is GET /cluster's answer; leader and candidate are Patroni's member names.
    """
    members = cluster.get("members") or []
    refusal = _leader_refusal(cluster, leader, members)
    if refusal:
        return refusal
    if candidate == leader:
        return f"{candidate} is already Patroni's leader."
    leader_member = next(m for m in members if m.get("name") == leader)
    return _candidate_refusal(leader_member, members, candidate, max_lag_bytes)


def _replica_refusal(member: dict[str, Any], leader_member: dict[str, Any], max_lag_bytes: int) -> str:
    name, role, state = member.get("name"), member.get("role"), member.get("state")
    if role not in REPLICA_ROLES:
        return f"{name} is {role}/{state} in Patroni's cluster, not a replica."
    if state not in REPLICA_STATES:
        return f"{name} is {state} in Patroni's cluster, not streaming from the leader."
    lag = member.get("lag")
    if not isinstance(lag, int) or lag > max_lag_bytes:
        return f"{name} lags {lag} bytes behind the leader in Patroni's view (the limit is {max_lag_bytes})."
    if member.get("timeline") != leader_member.get("timeline"):
        return (
            f"{name} is on timeline {member.get('timeline')}, the leader on {leader_member.get('timeline')}: it has "
            "not followed the last promotion yet."
        )
    return ""


def health_refusal(cluster: dict[str, Any], names: list[str], max_lag_bytes: int) -> str:
    """The first reason the cluster is not healthy enough to restart one of its members, or '' (pure).

    Healthy: not paused, no switchover scheduled, one running leader, and every other member of names (Patroni's
    member names of the inventory's group) a replica streaming from it on its timeline within max_lag_bytes, with
    no member Patroni knows outside names. cluster is GET /cluster's answer.
    """
    members = cluster.get("members") or []
    leaders = [m for m in members if m.get("role") in ("leader", "standby_leader")]
    if len(leaders) > 1:
        return f"Patroni's cluster has {len(leaders)} leaders ({_describe(members)}). Find out why before anything."
    refusal = _leader_refusal(cluster, leaders[0].get("name") if leaders else "", members)
    if refusal:
        return refusal
    by_name = {m.get("name"): m for m in members}
    missing = [name for name in names if name not in by_name]
    if missing:
        return (
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not in Patroni's cluster (members: "
            f"{_describe(members)}): start Patroni there (systemctl status patroni@...) and wait until it streams."
        )
    outsiders = sorted(set(by_name) - set(names))
    if outsiders:
        return (
            f"Patroni's cluster has members that are not in the inventory's group ({', '.join(outsiders)}). Add them "
            "to the group or remove them from Patroni."
        )
    for member in members:
        if member is not leaders[0]:
            refusal = _replica_refusal(member, leaders[0], max_lag_bytes)
            if refusal:
                return f"{refusal} Repair it first (`patronictl list`, journalctl -u patroni@... there)."
    return ""
