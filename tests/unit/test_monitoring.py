"""The alert rules (deploy/prometheus/alerts.yml) and the Grafana dashboard
(deploy/grafana/dashboard.json): they parse, query only the metrics the services export
(a misspelt name would be a rule that never fires, a panel that stays empty), every rule
says what it means and where its runbook is, and the dashboard shows what operators watch.
With `promtool` on the PATH the rule file is also checked by Prometheus' own parser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="needs PyYAML")

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboard.json"
README = ROOT / "README.md"

# what the services export (Prometheus names); a histogram is queried by its series
COUNTERS_AND_GAUGES = {
    "consumer_batch_failed_attempts",
    "ledger_events_total",
    "ledger_rejected_total",
    "kafka_consumer_lag",
    "ledger_outbox_lag",
    "ledger_relay_last_publish_timestamp_seconds",
    "performance_projection_lag_positions",
    "performance_projection_lag_seconds",
    "http_requests_total",
    "performance_replay_events_applied",
    "performance_replay_events_expected",
    "up",  # Prometheus' own, per target
}
HISTOGRAMS = {"ledger_batch_records", "ledger_batch_decision_seconds", "graphql_request_seconds"}
METRICS = COUNTERS_AND_GAUGES | {f"{h}_{s}" for h in HISTOGRAMS for s in ("bucket", "sum", "count")}
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "bool", "offset", "inf", "nan"}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not its functions, keywords, labels)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # ranges, $__rate_interval
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    found = re.finditer(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(\s*\()?", expr)
    return {m.group(1) for m in found if not m.group(2) and m.group(1).lower() not in KEYWORDS}


def _rules() -> list[dict[str, object]]:
    groups = yaml.safe_load(RULES.read_text("utf-8"))["groups"]
    assert groups and all(group["rules"] for group in groups)
    return [rule for group in groups for rule in group["rules"]]


def _panel_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text("utf-8"))
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def test_the_metric_name_reader() -> None:
    expr = (
        'sum by (le, operation) (rate(graphql_request_seconds_bucket{route="/x"}[5m])) > 1e-3 '
        "and on (relay) time() - max(ledger_relay_last_publish_timestamp_seconds offset 5m)"
    )
    assert metric_names(expr) == {
        "graphql_request_seconds_bucket",
        "ledger_relay_last_publish_timestamp_seconds",
    }


def test_the_alert_rules_parse_and_query_only_exported_metrics() -> None:
    rules = _rules()
    names = [rule["alert"] for rule in rules]
    assert len(set(names)) == len(names)
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        used = metric_names(str(rule["expr"]))
        assert used and used <= METRICS, (rule["alert"], used - METRICS)
        assert rule["labels"]["severity"] in ("page", "warning")  # type: ignore[index]
    if shutil.which("promtool"):  # Prometheus' own check, where it is installed
        done = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True)
        assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()


def test_the_alerts_cover_what_the_operators_asked_for() -> None:
    used = {rule["alert"]: metric_names(str(rule["expr"])) for rule in _rules()}
    wanted = [
        {"kafka_consumer_lag"},
        {"performance_projection_lag_positions"},
        {"performance_projection_lag_seconds"},
        {"ledger_outbox_lag", "ledger_relay_last_publish_timestamp_seconds"},
        {"ledger_rejected_total", "ledger_events_total"},
        {"up"},
        {"http_requests_total"},  # not ready: /readyz answering 503
    ]
    for metrics in wanted:
        assert [alert for alert, names in used.items() if metrics <= names], metrics


def test_every_rule_says_what_it_means_and_links_its_runbook() -> None:
    anchors = _readme_anchors()
    for rule in _rules():
        annotations = rule["annotations"]
        assert isinstance(annotations, dict)
        assert annotations.keys() >= {"summary", "description", "runbook"}, rule["alert"]
        assert all(str(annotations[k]).strip() for k in ("summary", "description"))
        anchor = f"alert-{str(rule['alert']).lower()}"
        assert annotations["runbook"] == f"README.md#{anchor}", rule["alert"]
        assert anchor in anchors, f"README.md has no runbook #{anchor} (section Operating it)"


def _readme_anchors() -> set[str]:
    """The README's explicit anchors (id="...") and its headings' GitHub anchors."""
    text = re.sub(r"^```.*?^```", "", README.read_text("utf-8"), flags=re.M | re.S)  # code
    explicit = set(re.findall(r'\bid="([^"]+)"', text))
    headings = re.findall(r"^#+\s+(.+?)\s*$", text, flags=re.M)
    slugs = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}
    return explicit | slugs


def test_the_dashboard_queries_only_exported_metrics_and_shows_the_pipeline() -> None:
    queries = _panel_queries()
    used: set[str] = set()
    for expr in queries:
        names = metric_names(expr)
        assert names and names <= METRICS, (expr, names - METRICS)
        used |= names
    shown = {
        "ledger_events_total",  # ingest by outcome
        "ledger_rejected_total",  # rejections by reason
        "ledger_batch_decision_seconds_bucket",  # batch decision latency
        "kafka_consumer_lag",
        "ledger_outbox_lag",
        "performance_projection_lag_positions",
        "performance_projection_lag_seconds",
        "graphql_request_seconds_bucket",  # GraphQL latency by operation
        "performance_replay_events_applied",  # replay progress
        "performance_replay_events_expected",
    }
    assert shown <= used, shown - used
    assert any("by (outcome)" in q and "ledger_events_total" in q for q in queries)
    assert any("by (reason)" in q and "ledger_rejected_total" in q for q in queries)
    assert any("by (le, operation)" in q for q in queries)
    latency = [q for q in queries if "ledger_batch_decision_seconds_bucket" in q]
    assert {q.split(",")[0] for q in latency} == {
        "histogram_quantile(0.5",
        "histogram_quantile(0.99",
    }


def test_every_panel_asks_the_dashboards_data_source() -> None:
    dashboard = json.loads(DASHBOARD.read_text("utf-8"))
    (variable,) = dashboard["templating"]["list"]
    assert variable["type"] == "datasource" and variable["query"] == "prometheus"
    for panel in (p for p in dashboard["panels"] if p["type"] != "row"):
        sources = [panel["datasource"], *(t["datasource"] for t in panel["targets"])]
        assert all(s == {"type": "prometheus", "uid": "${datasource}"} for s in sources)
        assert panel["gridPos"]["w"] <= 24
