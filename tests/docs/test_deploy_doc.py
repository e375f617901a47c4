"""docs/deploy.md against the code: the metrics it tells operators to watch are those exported."""

from __future__ import annotations

import re
from pathlib import Path

from hub.metrics import Metrics
from tests.docs.markdown import tables

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def exported() -> dict[str, str]:
    """Every metric family ``/metrics`` exposes and its type (prometheus' ``_created`` left out)."""
    types = re.findall(r"^# TYPE (\S+) (\S+)$", Metrics().render().decode(), re.MULTILINE)
    return {name: kind for name, kind in types if not name.endswith("_created")}


def documented() -> dict[str, str]:
    """The metrics table of docs/deploy.md: each name (labels dropped) and its type."""
    rows = [row for header, rows in tables(DEPLOY.read_text("utf-8")) if header[0] == "metric"
            for row in rows]  # fmt: skip
    assert rows, "docs/deploy.md has no metrics table"
    return {re.sub(r"\{.*\}", "", row[0].strip("`")): row[1] for row in rows}


def test_the_metrics_table_lists_every_exported_metric_with_its_type() -> None:
    assert documented() == exported()


def test_every_metric_the_alert_rules_use_is_exported() -> None:
    rules = re.search(r"```yaml\n(.*?)```", DEPLOY.read_text("utf-8"), re.DOTALL)
    assert rules, "docs/deploy.md shows no alert rules"
    used = set(re.findall(r"\brps_hub_\w+", rules.group(1)))
    assert used and used - set(exported()) == set()
