"""The declarative connector's configuration: one system, its sources, and the services each serves.

The model holds no secret: a password or a token is a reference (`{env: NAME}` or `{file: PATH}`, and
`${NAME}` inside a URL), resolved only when a source starts. So `model_dump()` is safe to store or to
show, and the JSON Schema shipped in `schemas/connector-config.schema.json` is this model's. The models
of one source are in `schemas.sources`, shared with the hub, which stores sources sent to its API.
"""

from typing import Any

from pydantic import Field, model_validator

from schemas.common import SystemCode
from schemas.sources import (
    ENV_REFERENCE,
    DatabaseSource,
    FromEnv,
    FromFile,
    QueryService,
    RestService,
    RestSource,
    Secret,
    Source,
    Strict,
)

__all__ = [
    "ENV_REFERENCE",
    "ConnectorConfig",
    "DatabaseSource",
    "FromEnv",
    "FromFile",
    "QueryService",
    "RestService",
    "RestSource",
    "Secret",
    "Source",
    "json_schema",
]


class ConnectorConfig(Strict):
    """One connector: the registered system it runs as, and the sources serving its services."""

    system: SystemCode
    sources: list[Source] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _unique(self) -> "ConnectorConfig":
        names = [source.name for source in self.sources]
        codes = [service.code for source in self.sources for service in source.services]
        for what, values in (("source name", names), ("service code", codes)):
            twice = sorted({value for value in values if values.count(value) > 1})
            if twice:
                raise ValueError(f"{what} used twice: {', '.join(twice)}")
        return self


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a config, as shipped in schemas/connector-config.schema.json (write it with
    `python -m connectors.declarative.config`)."""
    schema = ConnectorConfig.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:lgsp:connector-config",
        **schema,
    }


if __name__ == "__main__":
    import json
    import sys

    json.dump(json_schema(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
