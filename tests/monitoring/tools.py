"""Helpers of the monitoring tests: the real Prometheus tools, and the metric names in play."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"
RULE_FILES = (MONITORING / "rules" / "recording.yml", MONITORING / "rules" / "alerts.yml")
# The sample names each metric type adds to its family name in the text exposition.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}


def tool(name: str) -> str:
    """The path of a Prometheus tool; fails (not skips) when it is missing: the suite relies on it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run scripts/ensure-tools.sh (Debian package prometheus)")
    return path


def promtool(*args: str, stdin: str | None = None, cwd: Path | None = None) -> str:
    """Run promtool, assert it succeeded, and return its output (shown in full when it did not)."""
    done = subprocess.run(
        [tool("promtool"), *args], input=stdin, capture_output=True, text=True, cwd=cwd, timeout=60
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"promtool {' '.join(args)} exited {done.returncode}:\n{output}"
    return output


def exported_names(exposition: str) -> set[str]:
    """Every series name an exposition can carry, including those of families with no sample yet."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def recorded_names() -> set[str]:
    """The series names the recording rules define."""
    groups = yaml.safe_load((MONITORING / "rules" / "recording.yml").read_text())["groups"]
    return {rule["record"] for group in groups for rule in group["rules"]}
