"""The shape of the code: which package may import which, the hub's layers, and the size of its files.

Read as the map of the house: a module of `lgsp` may import modules of its own layer or below, never
above; the simulated world (`sandbox`) sits on top of the hub and the SDK; `schemas` depends on nothing
of ours, and `buscore` (what the hub and the SDK share: consumer lifecycle, message signing) only on
`schemas`, the contract it implements. A new module must be given a layer here, so nobody adds one by
accident."""

import ast
import fnmatch
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: The domain packages (their `__init__` modules hold a docstring at most).
DOMAINS = [
    "registry",
    "catalogue",
    "sources",
    "connectivity",
    "exchange",
    "onceonly",
    "indicators",
    "audit",
    "reports",
    "dashboard",
    "tracker",
]

#: The hub's layers, lowest first. A module belongs to the first layer one of whose patterns it matches.
LAYERS: list[tuple[str, list[str]]] = [
    (
        "foundation",
        [
            "lgsp",
            "lgsp.settings",
            "lgsp.settings_keys",
            "lgsp.tracker.settings",  # citizens' sign-in, which `lgsp.settings` inherits
            "lgsp.errors",
            "lgsp.background",
            *(f"lgsp.{d}" for d in DOMAINS),
        ],
    ),
    ("database", ["lgsp.db", "lgsp.db.*", "lgsp.security"]),
    ("bus", ["lgsp.bus", "lgsp.bus.*"]),
    (
        "domain models",
        [
            "lgsp.*.models",
            "lgsp.models",
            "lgsp.registry.caller",
            "lgsp.audit.events",
            "lgsp.connectivity.rules",
            "lgsp.exchange.ratelimit",
            "lgsp.catalogue.schema_graph",
            "lgsp.catalogue.validation",
        ],
    ),
    # Domain services, in the order they may use one another.
    ("registry", ["lgsp.registry.service", "lgsp.registry.keys", "lgsp.registry.keyring"]),
    # Scope changes: asked for and decided around the registry's own changes.
    ("registry scope", ["lgsp.registry.scope"]),
    ("catalogue", ["lgsp.catalogue.service", "lgsp.catalogue.national"]),
    # Sources: stored with the services they declare in the catalogue.
    ("sources", ["lgsp.sources.*"]),
    ("connectivity", ["lgsp.connectivity.*"]),
    ("exchange", ["lgsp.exchange.*"]),
    ("once-only", ["lgsp.onceonly.*"]),
    ("indicators", ["lgsp.indicators.*"]),
    ("audit", ["lgsp.audit.*"]),
    ("reports", ["lgsp.reports.*"]),
    # The data tracker: a person's accesses in the exchange records (CSV cells as the reports write them).
    ("tracker", ["lgsp.tracker.*"]),
    ("dashboard", ["lgsp.dashboard.*"]),
    (
        "http plumbing",
        [
            "lgsp.api",
            "lgsp.api.addresses",
            "lgsp.api.counting",
            "lgsp.api.errors",
            "lgsp.api.json_body",
            "lgsp.api.limits",
            "lgsp.api.paging",
            "lgsp.api.params",
        ],
    ),
    ("runtime", ["lgsp.runtime"]),
    ("routes", ["lgsp.*.router", "lgsp.registry.auth", "lgsp.api.health"]),
    ("serving", ["lgsp.api.server"]),
    ("composition", ["lgsp.app", "lgsp.cli", "lgsp.cli_keys"]),
]
#: Routes are HTTP: they sit above the runtime they read, whatever domain they belong to.
ROUTES = LAYERS.index(next(layer for layer in LAYERS if layer[0] == "routes"))

#: Which of our top-level packages each may import.
ALLOWED = {
    "schemas": {"schemas"},
    "buscore": {"buscore", "schemas"},
    "monitoring": {"monitoring"},
    "connectors": {"connectors", "schemas", "monitoring", "buscore"},
    "lgsp": {"lgsp", "schemas", "monitoring", "buscore"},
    "sandbox": {"sandbox", "lgsp", "connectors", "schemas", "monitoring", "buscore"},
}
MAX_LINES = 400


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources(package: str) -> Iterator[Path]:
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" not in path.parts:  # Alembic's env and revisions load models by design
            yield path


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import of `path`, `from a import b` as `a.b` when b is a module."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                as_module = ROOT.joinpath(*full.split(".")).with_suffix(".py").exists()
                yield node.lineno, full if as_module else node.module


def layer_of(module: str) -> int:
    """The index of `module`'s layer in LAYERS; routes of every domain share the routes layer."""
    if fnmatch.fnmatchcase(module, "lgsp.*.router"):
        return ROUTES
    for index, (_, patterns) in enumerate(LAYERS):
        if any(fnmatch.fnmatchcase(module, pattern) for pattern in patterns):
            return index
    raise AssertionError(f"{module} has no layer in tests/test_architecture.py: give it one")


def test_every_hub_module_has_a_layer() -> None:
    for path in _sources("lgsp"):
        layer_of(_module(path))


def test_no_hub_module_imports_from_a_layer_above_its_own() -> None:
    upward = []
    for path in _sources("lgsp"):
        module = _module(path)
        for line, imported in _imports(path):
            if imported.startswith("lgsp") and layer_of(imported) > layer_of(module):
                upward.append(
                    f"{path.relative_to(ROOT)}:{line} ({LAYERS[layer_of(module)][0]}) imports "
                    f"{imported} ({LAYERS[layer_of(imported)][0]})"
                )
    assert not upward, "\n".join(upward)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_packages_depend_only_on_what_they_may(package: str) -> None:
    ours = set(ALLOWED)
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {imported}"
        for path in _sources(package)
        for line, imported in _imports(path)
        if imported.split(".")[0] in ours - ALLOWED[package]
    ]
    assert not wrong, "\n".join(wrong)


def test_no_hub_file_is_too_long_to_read_at_once() -> None:
    long = [
        f"{path.relative_to(ROOT)}: {lines} lines"
        for path in _sources("lgsp")
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert not long, f"over {MAX_LINES} lines, split by concern:\n" + "\n".join(long)


def test_the_layering_rule_catches_an_upward_import() -> None:
    """The check itself can fail: a bus module importing a domain service is above its layer."""
    assert layer_of("lgsp.exchange.service") > layer_of("lgsp.bus.worker")
    assert layer_of("lgsp.app") > layer_of("lgsp.registry.router") > layer_of("lgsp.runtime")
