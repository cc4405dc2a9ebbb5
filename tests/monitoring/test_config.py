"""The shipped Prometheus configuration, rules and Grafana dashboard, checked with promtool."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest

import monitoring.metrics  # noqa: F401  (registers every metric the hub's /metrics serves)
from tests.monitoring.tools import MONITORING, RULE_FILES, exported_names, promtool, recorded_names

DASHBOARD = MONITORING / "grafana" / "lgsp-dashboard.json"
# Words of PromQL that look like metric names once label lists and matchers are gone.
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
PROMQL_WORDS |= {"and", "or", "unless", "inf", "nan"}
# Series Prometheus makes itself for every target.
SCRAPE_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (promtool has already checked its syntax)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings, e.g. label values
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)  # label matchers and range windows
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for match in re.finditer(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        is_function = expr[match.end() :].lstrip().startswith("(")
        if not is_function and match.group().lower() not in PROMQL_WORDS:
            names.add(match.group())
    return names


def known_names() -> set[str]:
    """What a dashboard or rule may select: what /metrics serves, the recording rules, scrape series."""
    return exported_names(generate_latest().decode()) | recorded_names() | SCRAPE_SERIES


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query of the dashboard, rows included."""
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [p for top in dashboard["panels"] for p in (top, *top.get("panels", []))]
    return [(p["title"], t["expr"]) for p in panels for t in p.get("targets", [])]


def rules(path: Path) -> list[dict[str, Any]]:
    """The rules of a rule file, all groups together."""
    groups = yaml.safe_load(path.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_prometheus_config_is_valid_and_loads_the_rules() -> None:
    output = promtool("check", "config", str(MONITORING / "prometheus.yml"))
    assert "2 rule files found" in output, output


def test_rule_files_are_valid() -> None:
    output = promtool("check", "rules", *map(str, RULE_FILES))
    assert output.count("SUCCESS") == len(RULE_FILES), output


@pytest.mark.parametrize("test_file", sorted((MONITORING / "tests").glob("*.yml")), ids=lambda p: p.name)
def test_rule_unit_tests_pass(test_file: Path) -> None:
    output = promtool("test", "rules", str(test_file))
    assert "SUCCESS" in output, output


def test_every_alert_has_a_unit_test_and_the_operator_fields() -> None:
    alerts = rules(MONITORING / "rules" / "alerts.yml")
    assert alerts
    tests = yaml.safe_load((MONITORING / "tests" / "alerts_test.yml").read_text())["tests"]
    cases = [case for test in tests for case in test.get("alert_rule_test", [])]
    for alert in alerts:
        name = alert["alert"]
        assert alert.get("for"), f"{name} has no for:"
        assert alert["labels"]["severity"] in {"critical", "warning"}, name
        assert {"summary", "description"} <= alert["annotations"].keys(), name
        mine = [case for case in cases if case["alertname"] == name]
        assert any(case["exp_alerts"] for case in mine), f"no test where {name} fires"
        assert any(not case["exp_alerts"] for case in mine), f"no test where {name} stays quiet"


def test_rules_select_only_exported_or_recorded_metrics() -> None:
    known = known_names()
    for path in RULE_FILES:
        for rule in rules(path):
            unknown = metric_names(rule["expr"]) - known
            assert not unknown, f"{path.name}: {rule.get('record') or rule.get('alert')} selects {unknown}"


def test_dashboard_imports_as_is_and_queries_only_known_metrics(tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    assert 36 <= dashboard["schemaVersion"] <= 39
    assert dashboard["uid"] and dashboard["title"]
    queried = [p for p in dashboard["panels"] if p.get("targets")]
    for panel in queried:
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
    queries = dashboard_queries()
    # Every expression parses as PromQL: promtool checks them as recording rules.
    as_rules = [{"record": f"dashboard:query_{i}", "expr": expr} for i, (_, expr) in enumerate(queries)]
    rule_file = tmp_path / "dashboard-queries.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": as_rules}]}))
    promtool("check", "rules", str(rule_file))
    known = known_names()
    for title, expr in queries:
        assert not metric_names(expr) - known, f"panel {title!r}: {expr} selects {metric_names(expr) - known}"
    # What an operator needs to see is on it.
    selected = set().union(*(metric_names(expr) for _, expr in queries))
    for needed in (
        "link:lgsp_connectivity_ratio:max",
        "link:lgsp_systems_connected:max",
        "outcome:lgsp_exchanges:rate5m",
        "job:lgsp_exchange_duration_seconds:p99_rate5m",
        "measure:lgsp_once_only_ratio:max",
        "reason:lgsp_dead_letters:rate5m",
        "worker:lgsp_bus_consumer_lag_records:sum",
        "job:lgsp_outbox_backlog:max",
    ):
        assert needed in selected, f"no panel shows {needed}"
    text = " ".join(p["options"]["content"] for p in dashboard["panels"] if p["type"] == "text")
    assert "/api/v1/connectivity/systems" in text  # who is disconnected: the hub knows, not Prometheus


def test_metric_names_finds_selectors_not_functions_labels_or_keywords() -> None:
    expr = (
        'sum without (instance) (rate(lgsp_exchanges_total{outcome!="x_total"}[5m])) '
        "/ on (job) group_left () job:lgsp_systems_in_scope:max > bool 1e3 offset 5m"
    )
    assert metric_names(expr) == {"lgsp_exchanges_total", "job:lgsp_systems_in_scope:max"}
