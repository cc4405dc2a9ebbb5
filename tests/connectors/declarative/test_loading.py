"""Reading configs: every problem names its line and field; the shipped schema and examples are sound."""

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from connectors.declarative import ConfigError, load_config, parse_config
from connectors.declarative.config import json_schema

ROOT = Path(__file__).parents[3]
EXAMPLES = sorted((ROOT / "connectors" / "configs").glob("*.yaml"))
GOOD = """\
system: HO-TICH
sources:
  - kind: database
    name: civil
    url: sqlite+aiosqlite:///civil.db
    services:
      - code: birth-record.get
        request_schema:
          type: object
          properties: {citizen_id: {type: string}}
        query: SELECT * FROM births WHERE citizen_id = :citizen_id
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "civil.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_a_good_config_loads() -> None:
    assert parse_config(GOOD).sources[0].services[0].code == "birth-record.get"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("    name: civil\n", "    name: civil\n    pool: 3\n"), "line 5: sources[0].pool: unknown field"),
        (
            (":citizen_id\n", ":citizen_id; DELETE FROM births\n"),
            "line 11: sources[0].services[0].query: 2 statements; give exactly one SELECT",
        ),
        (
            ("SELECT * FROM births WHERE", "DELETE FROM births WHERE"),
            "line 11: sources[0].services[0].query: a DELETE statement; only a SELECT may be served",
        ),
        (
            ("citizen_id = :citizen_id", "citizen_id = :id"),
            "line 11: sources[0].services[0].query: parameter :id is not a property of the request schema",
        ),
        (
            ("sqlite+aiosqlite:///civil.db", "postgresql+asyncpg://reader:hunter2@db/civil"),
            "line 3: sources[0]: url: a password is written in it; use `password: {env: NAME}` or ${NAME}",
        ),
        (("    name: civil\n", "    name: civil\n    name: other\n"), "line 5: sources[0].name: given twice"),
        (
            ("type: object", "type: thing"),
            "line 8: sources[0].services[0].request_schema: not a JSON Schema: 'thing' is not valid",
        ),
    ],
)
def test_each_problem_names_its_line_and_field(change: tuple[str, str], expected: str) -> None:
    found = problems(GOOD.replace(*change))
    assert len(found) == 1 and found[0].startswith(expected), found


def test_the_shipped_json_schema_is_the_models() -> None:
    shipped = json.loads((ROOT / "schemas" / "connector-config.schema.json").read_text())
    assert shipped == json_schema(), (
        "run: python -m connectors.declarative.config > schemas/connector-config.schema.json"
    )


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_the_example_configs_load_and_match_the_shipped_schema(example: Path) -> None:
    shipped = json.loads((ROOT / "schemas" / "connector-config.schema.json").read_text())
    Draft202012Validator(shipped).validate(yaml.safe_load(example.read_text()))
    assert load_config(example).sources


def test_there_are_example_configs_of_each_kind() -> None:
    kinds = {source.kind for example in EXAMPLES for source in load_config(example).sources}
    assert kinds == {"database", "rest"}


def test_the_config_serialises_without_secrets() -> None:
    config = parse_config(
        GOOD.replace("sqlite+aiosqlite:///civil.db", "postgresql+asyncpg://r@db/c").replace(
            "    services:", "    password: {env: CIVIL_PW}\n    services:"
        )
    )
    dumped = config.model_dump(mode="json")
    assert dumped["sources"][0]["password"] == {"env": "CIVIL_PW"}
    assert parse_config(yaml.safe_dump(dumped)) == config
