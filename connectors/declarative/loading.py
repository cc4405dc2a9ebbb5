"""Reading a connector config from YAML: every problem names its line and its field.

Three passes, each reporting every problem it finds: the YAML itself (with duplicate keys refused, which
YAML parsers otherwise settle by keeping the last), the model (`ConnectorConfig`: types, unknown
fields), then what the model cannot see alone: each query is one SELECT whose parameters are fields of
its request schema, each request schema is valid JSON Schema, and each path field is a request field.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from connectors.declarative.config import ConnectorConfig, DatabaseSource, RestSource
from connectors.declarative.openapi import ImportProblem, imported
from schemas.source_queries import dialect_of, query_parameters
from schemas.sources import Location, dotted, source_problems


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a config: where (line, and the field as a dotted path) and what."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return (
            f"line {self.line}: {self.field}: {self.message}"
            if self.field
            else f"line {self.line}: {self.message}"
        )


class ConfigError(Exception):
    """A config that cannot run, with every problem found."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"{source}: " + "; ".join(map(str, self.problems)))


def load_config(path: Path) -> ConnectorConfig:
    """The config in the YAML file `path`; ConfigError naming each problem's line and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [Problem(0, "", f"cannot read it ({exc})")]) from None
    return parse_config(text, str(path), path.parent)


def parse_config(text: str, source: str = "<config>", base: Path = Path()) -> ConnectorConfig:
    """The config in the YAML `text` (named `source` in errors, its relative paths from `base`), with its
    OpenAPI imports made into services; ConfigError on any problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise ConfigError(source, [Problem(line, "", f"not YAML: {getattr(exc, 'problem', exc)}")]) from None
    if root is None:
        raise ConfigError(source, [Problem(1, "", "empty")])
    duplicates = list(_duplicate_keys(root, ()))
    if duplicates:
        raise ConfigError(source, [Problem(line, dotted(loc), "given twice") for loc, line in duplicates])
    try:
        config = ConnectorConfig.model_validate(data)
    except ValidationError as exc:
        problems = [
            _problem(root, tuple(e["loc"]), "unknown field" if e["type"] == "extra_forbidden" else e["msg"])
            for e in exc.errors(include_url=False)
        ]
        raise ConfigError(source, problems) from None
    config = _imported(config, root, source, base)
    problems = [_problem(root, loc, message) for loc, message in semantic_problems(config)]
    if problems:
        raise ConfigError(source, problems)
    return config


def _imported(config: ConnectorConfig, root: yaml.Node, source: str, base: Path) -> ConnectorConfig:
    """`config` with each REST source's OpenAPI import made into services (connectors.declarative.openapi),
    checked again as a whole (a code imported twice)."""
    sources = []
    for i, given in enumerate(config.sources):
        try:
            sources.append(imported(given, base) if isinstance(given, RestSource) else given)
        except ImportProblem as exc:
            raise ConfigError(source, [_problem(root, ("sources", i, *exc.at), exc.message)]) from None
    try:
        return ConnectorConfig.model_validate(config.model_copy(update={"sources": sources}).model_dump())
    except ValidationError as exc:
        raise ConfigError(
            source, [_problem(root, tuple(e["loc"]), e["msg"]) for e in exc.errors(include_url=False)]
        ) from None


def semantic_problems(config: ConnectorConfig) -> Iterator[tuple[Location, str]]:
    """What is wrong with a config the model accepted: (location, message) for each problem."""
    for i, source in enumerate(config.sources):
        for at, message in source_problems(source):
            yield ("sources", i, *at), message
    if config.evidence is not None:
        databases = {s.name: s.url for s in config.sources if isinstance(s, DatabaseSource)}
        url = databases[config.evidence.source]
        for j, document in enumerate(config.evidence.documents):
            if document.query is None:
                continue  # it reads a service's records: checked with the service
            try:  # the one parameter of an evidence query is the subject asked about
                query_parameters(document.query, dialect_of(url), {"subject"})
            except ValueError as exc:
                yield ("evidence", "documents", j, "query"), str(exc)


def _problem(root: yaml.Node, loc: Location, message: str) -> Problem:
    """A problem at `loc` of the model, at the line of the deepest YAML key or item `loc` reaches."""
    node, line, kept = root, root.start_mark.line + 1, []
    for part in loc:
        found = _child(node, part)
        if found is None:
            continue  # a union's branch name (`database`, `FromEnv`) that the YAML does not spell
        node, line = found
        kept.append(part)
    return Problem(line, dotted(tuple(kept)), message.removeprefix("Value error, "))


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node, int] | None:
    """The node under `part` of `node`, and the line of its key (or of the item itself)."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == part:
                return value, key.start_mark.line + 1
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item: yaml.Node = node.value[part]
        return item, item.start_mark.line + 1
    return None


def _duplicate_keys(node: yaml.Node, loc: Location) -> Iterator[tuple[Location, int]]:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if key.value in seen:
                yield (*loc, key.value), key.start_mark.line + 1
            seen.add(key.value)
            yield from _duplicate_keys(value, (*loc, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, i))
