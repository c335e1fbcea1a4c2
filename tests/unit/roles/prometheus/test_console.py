"""The platform console page queries only metrics that exist: every metric name in its PromQL is exported by an
exporter the collection installs (exporter_metrics.yml), written by the collection itself (the PostgreSQL
exporter's queries, the mtail program, the backup freshness textfile), or made by the alert rules (ALERTS)."""

import re
from pathlib import Path

import jinja2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
ROLE = ROOT / "roles" / "prometheus"
HERE = Path(__file__).resolve().parent

# PromQL's keywords and the words that take a label list; functions are told apart by the "(" after them.
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"}
LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
# Where the page writes PromQL: Go's `query "..."`, `printf "..."` (always a query here) and the first of
# `args "..."`, and the expressions of the JS webstackGraph("id", ["...", ...]).
GO_QUERIES = re.compile(r'\b(?:query|printf|\(args)\s+"((?:[^"\\]|\\.)*)"')
GRAPHS = re.compile(r'webstackGraph\("[^"]*",\s*\[([^\]]*(?:\[[^\]]*\][^\]]*)*)\]')
JS_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
# A token that looks like a metric of one of the tiers: every one in the page must be inside a query the
# extraction above found (nothing escapes the check by being written some other way).
METRIC_LIKE = re.compile(r"\b(?:ALERTS|up|(?:node|apt|pg|pgbouncer|redis|nginx|probe|webstack)_[a-zA-Z0-9_]+)\b")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects."""
    expr = re.sub(r"\{[^{}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # ranges
    expr = re.sub(r"'[^']*'|\"[^\"]*\"", " ", expr)  # strings
    expr = LABEL_LISTS.sub(" ", expr)
    names = set()
    for match in IDENTIFIER.finditer(expr):
        if expr[match.end() :].lstrip().startswith("("):
            continue  # a function
        if match.group() not in KEYWORDS:
            names.add(match.group())
    return names


# An inventory like the lab's: two app servers running the app `shop`, and a host of the group without it.
GROUPS = {"all": ["app1", "app2", "app3", "mon1"], "app": ["app1", "app2", "app3"], "monitoring": ["mon1"]}
HOSTVARS = {"app1": {"uvicorn_app_name": "shop"}, "app2": {"uvicorn_app_name": "shop"}, "app3": {}, "mon1": {}}


def rendered_page(groups: dict | None = None, hostvars: dict | None = None, **overrides) -> str:
    """webstack.html.j2 rendered as the role does ([[ ]] variables) with the role's defaults, for an inventory
    (GROUPS and HOSTVARS unless given)."""
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    env = jinja2.Environment(
        variable_start_string="[[",
        variable_end_string="]]",
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,  # as Ansible's template module
    )
    template = env.from_string((ROLE / "templates" / "webstack.html.j2").read_text())
    variables = {**defaults, **overrides}
    return template.render(
        **variables, groups=groups or GROUPS, hostvars=hostvars or HOSTVARS, ansible_managed="Ansible managed"
    )


def page_queries(page: str) -> list[str]:
    queries = [match.group(1) for match in GO_QUERIES.finditer(page)]
    for graph in GRAPHS.finditer(page):
        queries += JS_STRING.findall(graph.group(1))
    return queries


def collection_metrics() -> set[str]:
    """The metrics the collection's own exporter configurations and textfile writer define."""
    names = set()
    queries = yaml.safe_load((ROOT / "roles" / "exporters" / "files" / "webstack-postgres-queries.yml").read_text())
    for query, spec in queries.items():
        for column in spec["metrics"]:
            ((name, usage),) = column.items()
            if usage["usage"] in {"GAUGE", "COUNTER"}:
                names.add(f"{query}_{name}")
    mtail = (ROOT / "roles" / "exporters" / "files" / "webstack_nginx.mtail").read_text()
    names |= set(re.findall(r"^(?:counter|gauge)\s+(\w+)", mtail, re.MULTILINE))
    textfile = (ROOT / "plugins" / "module_utils" / "pgbackrest.py").read_text()
    names |= set(re.findall(r'gauge\(\s*"(webstack_backup_\w+)"', textfile))
    return names


def rule_metrics() -> set[str]:
    """Series the rules make: ALERTS for the alerting rules, and any recording rule's name."""
    text = (ROLE / "templates" / "webstack.rules.yml.j2").read_text()
    names = set(re.findall(r"^\s*-?\s*record:\s*(\S+)", text, re.MULTILINE))
    if re.search(r"^\s*-?\s*alert:", text, re.MULTILINE):
        names |= {"ALERTS", "ALERTS_FOR_STATE"}
    return names


def known_metrics() -> set[str]:
    exporters = yaml.safe_load((HERE / "exporter_metrics.yml").read_text())
    external = {name for exporter in exporters.values() for name in exporter["names"]}
    return external | collection_metrics() | rule_metrics()


def test_the_metric_extraction_finds_names_and_skips_the_rest():
    expr = (
        "sum by (instance) (rate(webstack_nginx_responses_total{status=~'5..'}[5m])) / "
        "redis_memory_used_bytes{instance='%s'} > 0 and on (instance) up == 1 unless vector(0)"
    )
    assert metric_names(expr) == {"webstack_nginx_responses_total", "redis_memory_used_bytes", "up"}


def test_the_collection_sources_define_the_metrics_the_rules_use():
    # The parsers above read the real files: names the alert rules rely on are among what they find.
    names = collection_metrics()
    assert {
        "webstack_pg_replication_replay_lag_bytes",
        "webstack_pg_slot_retained_bytes",
        "webstack_nginx_responses_total",
        "webstack_backup_wal_archive_age_seconds",
        "webstack_backup_last_age_seconds",
    } <= names


def test_every_metric_the_console_queries_exists():
    page = rendered_page()
    queries = page_queries(page)
    assert len(queries) > 40, queries
    queried = set().union(*(metric_names(q) for q in queries))
    unknown = queried - known_metrics()
    assert not unknown, f"the console queries metrics no exporter or rule of the collection makes: {sorted(unknown)}"

    outside = set(METRIC_LIKE.findall(re.sub(r'\{\{\s*template\s+"[^"]*"', "", page))) - queried
    assert not outside, f"metric names outside a query the test can read: {sorted(outside)}"


@pytest.mark.parametrize(
    ("tier", "metrics"),
    [
        ("targets", {"up"}),
        ("web", {"webstack_nginx_responses_total", "webstack_nginx_upstream_errors_total", "nginx_up"}),
        ("web", {"probe_success", "probe_ssl_earliest_cert_expiry"}),
        (
            "postgresql",
            {
                "pg_up",
                "webstack_pg_wal_receiver_in_recovery",
                "webstack_pg_replication_replay_lag_seconds",
                "webstack_pg_replication_replay_lag_bytes",
                "webstack_pg_slot_retained_bytes",
            },
        ),
        (
            "backups",
            {
                "webstack_backup_last_age_seconds",
                "webstack_backup_wal_archive_age_seconds",
                "webstack_backup_wal_archive_failing",
            },
        ),
        ("pgbouncer", {"pgbouncer_pools_client_waiting_connections"}),
        ("redis", {"redis_memory_used_bytes", "redis_memory_max_bytes", "redis_rejected_connections_total"}),
        ("celery", {"webstack:celery_queue_tasks", "node_systemd_unit_state"}),
        (
            "hosts",
            {
                "node_cpu_seconds_total",
                "node_memory_MemAvailable_bytes",
                "node_filesystem_avail_bytes",
                "apt_upgrades_pending",
                "node_reboot_required",
            },
        ),
    ],
)
def test_each_tier_shows_its_key_series(tier, metrics):
    page = rendered_page()
    sections = re.split(r'<h2 id="', page)
    (section,) = [s for s in sections if s.startswith(f'{tier}"')]
    queried = set().union(*(metric_names(q) for q in page_queries(section)))
    assert metrics <= queried, metrics - queried


def uvicorn_unit(app_name: str) -> str:
    """The unit the uvicorn role runs the app as (its _uvicorn_unit)."""
    template = yaml.safe_load((ROOT / "roles" / "uvicorn" / "vars" / "main.yml").read_text())["_uvicorn_unit"]
    return jinja2.Template(template).render(uvicorn_app_name=app_name)


def app_server_rows(page: str) -> list[tuple[str, str, str]]:
    """(unit, host, query) of each row of the web section's app server table."""
    (table,) = re.findall(r"<th>app server unit \(upstream\)</th>.*?</table>", page, re.DOTALL)
    return re.findall(
        r'<tr><td>([^<]*)</td><td>([^<]*)</td><td>\{\{ template "prom_query_drilldown" \(args "([^"]*)"', table
    )


def test_the_app_server_table_has_a_row_for_each_app_server_with_its_own_unit():
    unit = uvicorn_unit("shop")
    assert app_server_rows(rendered_page()) == [
        (unit, host, f"node_systemd_unit_state{{instance='{host}',name='{unit}',state='active'}}")
        for host in ["app1", "app2"]
    ]


def test_the_app_server_table_follows_the_group_and_each_hosts_app():
    groups = {"all": ["web1", "app1"], "frontends": ["web1"], "app": ["app1"]}
    hostvars = {"web1": {"uvicorn_app_name": "store"}, "app1": {"uvicorn_app_name": "shop"}}
    rows = app_server_rows(rendered_page(groups, hostvars, prometheus_app_group="frontends"))
    assert [(unit, host) for unit, host, _query in rows] == [(uvicorn_unit("store"), "web1")]


@pytest.mark.parametrize("groups", [{"all": ["mon1"]}, {"all": ["app1"], "app": ["app1"]}], ids=["no group", "no app"])
def test_without_app_servers_the_table_says_so(groups):
    page = rendered_page(groups, {"mon1": {}, "app1": {}})
    assert app_server_rows(page) == []
    assert "no app server in the inventory (group app, with uvicorn_app_name)" in page
