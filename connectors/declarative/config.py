"""The declarative connector's configuration: one system, its sources, and the services each serves.

The model holds no secret: a password or a token is a reference (`{env: NAME}` or `{file: PATH}`, and
`${NAME}` inside a URL), resolved only when a source starts. So `model_dump()` is safe to store or to
show, and the JSON Schema shipped in `schemas/connector-config.schema.json` is this model's.
"""

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from schemas.common import SystemCode
from schemas.messages import ServiceCode

#: A source's name: it names the source in logs and, later, in the API (`/sources/{name}`).
SourceName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
#: `${NAME}` in a URL: the value of an environment variable, put in when the source starts.
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: Header names whose values are credentials: these must come from the environment or a file.
SECRET_HEADER = re.compile(r"authorization|cookie|token|key|secret|password", re.IGNORECASE)
#: A JSON field name of the request, as a bind parameter or a path, query or body field names it.
FieldName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]


class Strict(BaseModel):
    """Every part of a config refuses fields it does not know (a misspelt option is an error, not a
    default silently taken)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FromEnv(Strict):
    """A secret read from an environment variable when the source starts."""

    env: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class FromFile(Strict):
    """A secret read from a file (a mounted secret) when the source starts; surrounding whitespace is
    dropped."""

    file: str = Field(min_length=1)


Secret = FromEnv | FromFile


class Service(Strict):
    """What every service declares to the hub's catalogue."""

    code: ServiceCode
    description: str = Field(default="", max_length=500)
    request_schema: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object"},
        description="JSON Schema (Draft 2020-12) of the request payload; the hub applies it first",
    )
    timeout_ms: int = Field(default=5_000, ge=10, le=120_000, description="The longest one answer may take")

    def declaration(self) -> dict[str, Any]:
        """The body of POST /api/v1/systems/{id}/services."""
        return {"code": self.code, "description": self.description, "request_schema": self.request_schema}

    def fields(self) -> set[str]:
        """The names of the request's properties: the only names a query or a request may use."""
        properties = self.request_schema.get("properties", {})
        return set(properties) if isinstance(properties, dict) else set()


class QueryService(Service):
    """A service answered by one read-only SELECT with bind parameters (`:citizen_id`), each a property
    of the request schema.

    `answer: one` answers `{"found": true, "record": {...}}` from one row (more than one is a fault);
    `answer: list` answers `{"found": bool, "records": [...]}` of at most `max_rows` rows (more is a
    fault, so a caller never gets a silently cut list). Nothing found answers `found: false`, or, with
    `not_found: fault`, the fault `client.not_found`.
    """

    query: str = Field(min_length=1, max_length=20_000)
    answer: Literal["one", "list"] = "one"
    max_rows: int = Field(default=100, ge=1, le=10_000)
    not_found: Literal["answer", "fault"] = "answer"


class DatabaseSource(Strict):
    """A database, by SQLAlchemy URL: `postgresql+asyncpg://`, `mariadb+aiomysql://` (or
    `mysql+aiomysql://`), `sqlite+aiosqlite:///`. The password is `password` (from the environment or a
    file) or `${NAME}` in the URL, never written in it."""

    kind: Literal["database"]
    name: SourceName
    url: str = Field(min_length=1, max_length=2_000)
    password: Secret | None = None
    pool_size: int = Field(default=5, ge=1, le=100)
    connect_timeout_ms: int = Field(default=5_000, ge=100, le=60_000)
    services: list[QueryService] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _no_literal_password(self) -> "DatabaseSource":
        scheme = self.url.split("://", 1)[0]
        if scheme.split("+", 1)[0] not in {"postgresql", "mariadb", "mysql", "sqlite"}:
            raise ValueError(f"url: {scheme!r} is not postgresql, mariadb, mysql or sqlite")
        password = urlsplit(ENV_REFERENCE.sub("x", self.url)).password
        if password is not None and not ENV_REFERENCE.fullmatch(_password_part(self.url)):
            raise ValueError("url: a password is written in it; use `password: {env: NAME}` or ${NAME}")
        if password is not None and self.password is not None:
            raise ValueError("password: given twice, in the url and here")
        return self


class RestService(Service):
    """A service answered by one call of the upstream API: `path` may hold `{field}` of the request, and
    `query` and `body` name the request fields that go into the query string and the JSON body (`body:
    all` sends the whole request). The upstream's JSON object is the answer (a list is answered as
    `{"items": [...]}`)."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str = Field(pattern=r"^/", max_length=2_000)
    query: list[FieldName] = Field(default_factory=list)
    body: list[FieldName] | Literal["all"] = Field(default_factory=list)
    retries: int = Field(
        default=0, ge=0, le=5, description="Further attempts on a connection error or 502-504"
    )


class RestSource(Strict):
    """An existing HTTP API, called for each request."""

    kind: Literal["rest"]
    name: SourceName
    base_url: str = Field(pattern=r"^https?://", max_length=2_000)
    headers: dict[str, str | Secret] = Field(default_factory=dict)
    services: list[RestService] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _secrets_by_reference(self) -> "RestSource":
        for name, value in self.headers.items():
            if isinstance(value, str) and SECRET_HEADER.search(name):
                raise ValueError(f"headers.{name}: a credential; use {{env: NAME}} or {{file: PATH}}")
        return self


Source = Annotated[DatabaseSource | RestSource, Field(discriminator="kind")]


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


def _password_part(url: str) -> str:
    """The text between `user:` and `@` of a URL's authority (what urlsplit would call the password)."""
    authority = url.split("://", 1)[1].split("/", 1)[0]
    credentials = authority.rpartition("@")[0]
    return credentials.partition(":")[2]


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
