"""The reference parts of the docs say what the code does: every setting, endpoint, metric, alert, command,
error code and package is documented, and every page the code points at exists."""

import re
import subprocess
from importlib.metadata import entry_points

import typer
import yaml

from lgsp.app import create_app
from lgsp.cli import app
from lgsp.errors import HTTP_STATUS_CODES
from lgsp.exchange.models import FAULT_CODES
from lgsp.settings import Settings
from monitoring.metrics import DEAD_LETTER_REASONS
from tests.docs import settings_table
from tests.docs.samples import ROOT

DOCS = ROOT / "docs"
#: FastAPI's own documentation routes, described in prose.
FRAMEWORK_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def test_the_settings_table_is_current() -> None:
    """Run `python -m tests.docs.settings_table` after changing lgsp/settings.py."""
    text = settings_table.PAGE.read_text(encoding="utf-8")
    assert text == settings_table.rendered(text), "run python -m tests.docs.settings_table"


def test_every_endpoint_is_in_the_api_reference() -> None:
    """One row per path in docs/integrators/api.md, with exactly the methods the hub serves."""
    rows = {
        match.group(1): {m.strip() for m in match.group(2).split(",")}
        for match in re.finditer(r"^\| `([^`]+)` \| ([A-Z, ]+) \|", page("integrators/api.md"), re.M)
    }
    spec = create_app(Settings(), "127.0.0.1:9").openapi()["paths"]
    served = {path: {m.upper() for m in operations} for path, operations in spec.items()}
    for path in FRAMEWORK_ROUTES:
        served.pop(path, None)
    assert rows == served


def test_every_error_code_is_documented() -> None:
    text = page("integrators/api.md")
    sdk = {"client.bus_unreachable", "client.no_answer"}
    codes = set(FAULT_CODES) | set(HTTP_STATUS_CODES.values()) | sdk
    assert not [code for code in sorted(codes) if f"| `{code}` |" not in text]


def test_every_metric_alert_and_dead_letter_reason_is_documented() -> None:
    text = page("operators/monitoring.md")
    metrics = re.findall(r'"(lgsp_[a-z_]+)"', (ROOT / "monitoring" / "metrics.py").read_text())
    assert metrics and not [m for m in metrics if f"| `{m}` |" not in text]
    alerts = [
        rule["alert"]
        for group in yaml.safe_load((ROOT / "monitoring" / "rules" / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    ]
    assert alerts and not [a for a in alerts if f"| `{a}` |" not in text]
    assert not [r for r in DEAD_LETTER_REASONS if f"`{r}`" not in text]


def test_every_command_is_in_the_commands_table() -> None:
    for plugin in entry_points(group="lgsp.commands"):
        plugin.load()(app)
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    text = page("operators/running.md")
    assert not [name for name in commands if f"| `lgsp {name}" not in text]


def test_every_package_is_in_the_readme_layout() -> None:
    """The README's table has a line for every top-level folder and every module and package of lgsp/
    (as committed), and none for what is not there."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `([^`]+)` \|", readme, re.M))
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    expected = {f"{p.split('/')[0]}/" for p in tracked if "/" in p and not p.startswith(".")}
    for path in tracked:
        parts = path.split("/")
        if parts[0] == "lgsp" and len(parts) == 2 and parts[1].endswith(".py") and parts[1] != "__init__.py":
            expected.add(path)
        elif parts[0] == "lgsp" and len(parts) == 3 and parts[2] == "__init__.py":
            expected.add(f"lgsp/{parts[1]}/")
    assert not sorted(expected - rows), f"missing from the README's layout: {sorted(expected - rows)}"
    assert not sorted(rows - expected), f"in the README's layout, not in the tree: {sorted(rows - expected)}"


def test_the_pages_the_code_points_to_exist() -> None:
    """Code comments cite docs/... pages (and sections of the founding design by number)."""
    design = page("architecture/design.md")
    for package in ("lgsp", "connectors", "schemas", "sandbox", "buscore", "monitoring", "bench", "tests"):
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for cited in re.findall(r"(?<![\w/.-])docs/[\w./-]*\w", text):
                assert (ROOT / cited).exists() or (ROOT / cited).with_suffix(".md").exists(), (
                    f"{path.relative_to(ROOT)} cites {cited}, which does not exist"
                )
            for number in re.findall(r"design\.md,? sections? (\d)", text):
                where = path.relative_to(ROOT)
                assert f"\n## {number}. " in design, f"{where}: design.md has no section {number}"


def test_the_readme_is_short_and_names_every_make_target() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode()) < 8 * 1024
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.M)
    assert phony is not None
    targets = set(phony.group(1).split()) - {"venv", "clean"}
    assert not [t for t in sorted(targets) if f"make {t}" not in readme]
