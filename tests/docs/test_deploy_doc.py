"""docs/deploy.md against the code: its metrics and alert rules, its systemd unit and settings."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hub.fanout import Subscriptions
from hub.metrics import Metrics
from storage.open import MEMORY, open_storage
from tests.docs.markdown import tables

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def exported() -> dict[str, str]:
    """Every metric family ``/metrics`` exposes and its type (prometheus' ``_created`` left out)."""

    async def render() -> str:
        storage = await open_storage(MEMORY)
        try:
            metrics = Metrics()
            metrics.watch_storage(storage)
            metrics.watch_subscriptions(Subscriptions().count)  # as hub.app does
            return metrics.render().decode()
        finally:
            await storage.close()

    types = re.findall(r"^# TYPE (\S+) (\S+)$", asyncio.run(render()), re.MULTILINE)
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


def unit() -> str:
    """The systemd unit docs/deploy.md shows."""
    found = re.search(r"```ini\n(.*?)```", DEPLOY.read_text("utf-8"), re.DOTALL)
    assert found, "docs/deploy.md shows no systemd unit"
    return found.group(1)


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="needs systemd-analyze")
def test_systemd_finds_nothing_wrong_in_the_unit(tmp_path: Path) -> None:
    path = tmp_path / "rps-hub.service"
    rps_hub = Path(sys.executable).with_name("rps-hub")
    path.write_text(unit().replace("/opt/rps-hub/bin/rps-hub", str(rps_hub)))
    checked = subprocess.run(
        [str(SYSTEMD_ANALYZE), "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    assert (checked.returncode, checked.stderr) == (0, "")


async def test_the_hub_serves_with_the_settings_the_unit_gives_it(tmp_path: Path) -> None:
    settings = dict(re.findall(r"^Environment=(RPS_HUB_\w+)=(.*)$", unit(), re.MULTILINE))
    assert settings, "the unit sets no RPS_HUB_* variable"
    settings.update(RPS_HUB_PORT="0", RPS_HUB_DB=str(tmp_path / "hub.db"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPS_HUB_")} | settings
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub", "serve", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            line = (await proc.stdout.readline()).decode()
    finally:
        if proc.returncode is None:
            proc.terminate()
        async with asyncio.timeout(30):
            _, err = await proc.communicate()
    assert "serving on http://127.0.0.1:" in line, err.decode()
