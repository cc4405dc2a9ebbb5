"""A declarative connector's sources: the databases and HTTP APIs a system's services are answered from.

One source is one entry of a connector config's `sources:` list (`connectors.declarative.config`) and the
body of `POST /api/v1/systems/{id}/sources` on the hub: both read it with these models, which is why they
live in `schemas`, the package the hub and the connectors share. The models hold no secret: a password or
a token is a reference (`{env: NAME}` or `{file: PATH}`, and `${NAME}` inside a URL), resolved only where
the source runs. `source_problems` finds what the models cannot see alone (a query that is not one
SELECT, a parameter or a path field that is not a request field, a request schema that is not one).
"""

import re
import string
from collections.abc import Iterator
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from schemas.messages import ServiceCode
from schemas.source_queries import dialect_of, query_parameters

#: Where a problem is, inside a source: ("services", 0, "query").
Location = tuple[str | int, ...]

#: A source's name: it names the source in logs and in the hub's API (`/sources/{name}`).
SourceName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
#: `${NAME}` in a URL: the value of an environment variable, put in when the source starts.
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: Header names whose values are credentials: these must come from the environment or a file.
SECRET_HEADER = re.compile(r"authorization|cookie|token|key|secret|password", re.IGNORECASE)
#: A JSON field name of the request, as a bind parameter or a path, query or body field names it.
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
FieldName = Annotated[str, StringConstraints(pattern=FIELD_NAME.pattern)]


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
    booleans: list[FieldName] = Field(
        default_factory=list,
        description="Columns answered as true/false: MariaDB and SQLite hold a boolean as 0 or 1",
    )


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


class ImportedOperation(Strict):
    """One operation of the upstream's OpenAPI document (by its `operationId`), served as `code`."""

    operation: str = Field(min_length=1, max_length=200)
    code: ServiceCode
    description: str | None = Field(default=None, max_length=500, description="Else the operation's summary")
    timeout_ms: int = Field(default=5_000, ge=10, le=120_000)
    retries: int = Field(default=0, ge=0, le=5)


class OpenApiImport(Strict):
    """Services made from the upstream's own OpenAPI 3 document: path, method and request schema as the
    document has them. Read where the connector starts (`connectors.declarative.openapi`)."""

    document: str = Field(min_length=1, description="The document (JSON or YAML), relative to the config")
    operations: list[ImportedOperation] = Field(min_length=1, max_length=100)


class RestSource(Strict):
    """An existing HTTP API, called for each request: its services written out, or imported from its
    OpenAPI document (`openapi`), or both."""

    kind: Literal["rest"]
    name: SourceName
    base_url: str = Field(pattern=r"^https?://", max_length=2_000)
    headers: dict[str, str | Secret] = Field(default_factory=dict)
    services: list[RestService] = Field(default_factory=list, max_length=100)
    openapi: OpenApiImport | None = None

    @model_validator(mode="after")
    def _secrets_by_reference(self) -> "RestSource":
        for name, value in self.headers.items():
            if isinstance(value, str) and SECRET_HEADER.search(name):
                raise ValueError(f"headers.{name}: a credential; use {{env: NAME}} or {{file: PATH}}")
        if not self.services and self.openapi is None:
            raise ValueError("services: give at least one, or import them (openapi)")
        return self


Source = Annotated[DatabaseSource | RestSource, Field(discriminator="kind")]


def _password_part(url: str) -> str:
    """The text between `user:` and `@` of a URL's authority (what urlsplit would call the password)."""
    authority = url.split("://", 1)[1].split("/", 1)[0]
    credentials = authority.rpartition("@")[0]
    return credentials.partition(":")[2]


def source_problems(source: DatabaseSource | RestSource) -> Iterator[tuple[Location, str]]:
    """What is wrong with a source the models accepted: (location inside it, message) for each problem.
    Each request schema must be a JSON Schema; a query must be one SELECT whose parameters are request
    fields; a REST call's path, query and body fields must be request fields."""
    for j, service in enumerate(source.services):
        try:
            Draft202012Validator.check_schema(service.request_schema)
        except SchemaError as exc:
            yield ("services", j, "request_schema"), f"not a JSON Schema: {exc.message}"
    if isinstance(source, DatabaseSource):
        for j, query in enumerate(source.services):
            try:
                query_parameters(query.query, dialect_of(source.url), query.fields())
            except ValueError as exc:
                yield ("services", j, "query"), str(exc)
    else:
        if source.openapi is not None:  # the hub cannot read the connector's files
            yield ("openapi",), "an OpenAPI import is read where its document is: give the services it makes"
        for j, call in enumerate(source.services):
            yield from _rest_problems(("services", j), call.fields(), call.path, call.query, call.body)


def _rest_problems(
    at: Location, fields: set[str], path: str, query: list[str], body: list[str] | str
) -> Iterator[tuple[Location, str]]:
    in_path = [name for _, name, _, _ in string.Formatter().parse(path) if name is not None]
    for where, names in (("path", in_path), ("query", query), ("body", [] if body == "all" else body)):
        unknown = sorted(set(names) - fields)
        if unknown:
            yield (*at, where), f"{', '.join(unknown)}: not a property of the request schema"


def dotted(loc: Location) -> str:
    """`sources[0].services[1].query` for ("sources", 0, "services", 1, "query")."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
