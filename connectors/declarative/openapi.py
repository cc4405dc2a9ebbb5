"""Services imported from an upstream API's own OpenAPI 3 document.

A REST source may name the operations it serves (`openapi: {document, operations}`) instead of writing
each path, method and request schema by hand. Each operation becomes a `RestService`: its path and method
as the document has them; its request schema an object of its path and query parameters and of the
properties of its JSON body, with the component schemas they refer to carried along as `$defs`; which
fields go to the path, the query string and the body, as the document says. Header and cookie parameters
are refused: headers are the source's (`headers:`), the same for every call.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from schemas.sources import FIELD_NAME, ImportedOperation, Location, RestService, RestSource

METHODS = ("get", "post", "put", "patch", "delete")
COMPONENTS = "#/components/schemas/"


class ImportProblem(Exception):
    """An operation that cannot be imported, and where in the source it was named."""

    def __init__(self, at: Location, message: str) -> None:
        super().__init__(message)
        self.at = at
        self.message = message


def imported(source: RestSource, base: Path) -> RestSource:
    """`source` with the services its OpenAPI import makes added to the ones written out, and no import
    left (what the hub is sent); ImportProblem for the first operation that cannot be imported."""
    if source.openapi is None:
        return source
    document = _document(base / source.openapi.document)
    operations = dict(_operations(document))
    services = []
    for j, wanted in enumerate(source.openapi.operations):
        at: Location = ("openapi", "operations", j, "operation")
        found = operations.get(wanted.operation)
        if found is None:
            raise ImportProblem(at, f"{wanted.operation}: no operation of that operationId in the document")
        try:
            services.append(_service(wanted, *found, document))
        except ValueError as exc:
            raise ImportProblem(at, f"{wanted.operation}: {exc}") from None
    return source.model_copy(update={"services": [*source.services, *services], "openapi": None})


def _document(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML too
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ImportProblem(("openapi", "document"), f"cannot read {path} ({exc})") from None
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3."):
        raise ImportProblem(("openapi", "document"), f"{path} is not an OpenAPI 3 document")
    return document


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, tuple[str, str, dict[str, Any], list[Any]]]]:
    """(operationId, (method, path, operation, the path's own parameters)) for every operation."""
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            operation = item.get(method)
            if isinstance(operation, dict) and isinstance(operation.get("operationId"), str):
                shared = item.get("parameters") or []
                yield operation["operationId"], (method.upper(), path, operation, shared)


def _service(
    wanted: ImportedOperation,
    method: str,
    path: str,
    operation: dict[str, Any],
    shared: list[Any],
    document: dict[str, Any],
) -> RestService:
    properties: dict[str, Any] = {}
    required: list[str] = []
    query: list[str] = []
    # An operation's own parameter overrides the path's of the same name and place (OpenAPI 3.0.3, 4.7.10).
    parameters: dict[tuple[Any, Any], dict[str, Any]] = {}
    for given in [*shared, *(operation.get("parameters") or [])]:
        parameter = _resolved(given, document)
        parameters[parameter.get("in"), parameter.get("name")] = parameter
    for (where, name), parameter in parameters.items():
        if where not in ("path", "query"):
            raise ValueError(f"parameter {name} in {where}: only path and query parameters are imported")
        _add(properties, str(name), parameter.get("schema") or {})
        if where == "query":
            query.append(str(name))
        if where == "path" or parameter.get("required"):
            required.append(str(name))
    body = _body(operation, document)
    if body is not None:
        schema, body_required = body
        for name, field in schema.items():
            if name in properties:
                raise ValueError(f"{name} is both a parameter and a field of the body")
            _add(properties, name, field)
        required.extend(body_required)
    request: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        request["required"] = sorted(set(required))
    defs = _definitions(request, document)
    if defs:
        request["$defs"] = defs
    summary = str(operation.get("summary") or operation.get("description") or "")[:500]
    return RestService(
        code=wanted.code,
        description=wanted.description if wanted.description is not None else summary,
        request_schema=_local(request),
        timeout_ms=wanted.timeout_ms,
        retries=wanted.retries,
        method=method,
        path=path,
        query=query,
        body=list(body[0]) if body is not None else [],
    )


def _add(properties: dict[str, Any], name: str, schema: Any) -> None:
    if not FIELD_NAME.fullmatch(name):
        raise ValueError(f"{name!r} cannot be a request field (letters, digits and _ only)")
    properties[name] = schema


def _body(operation: dict[str, Any], document: dict[str, Any]) -> tuple[dict[str, Any], list[str]] | None:
    """The properties of the operation's JSON body and those it requires, or None without a body."""
    request_body = operation.get("requestBody")
    if request_body is None:
        return None
    request_body = _resolved(request_body, document)
    content = (request_body.get("content") or {}).get("application/json")
    if content is None:
        raise ValueError("its body is not application/json")
    schema = _resolved(content.get("schema") or {}, document)
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        raise ValueError("its JSON body is not an object with properties")
    required = list(schema.get("required") or []) if request_body.get("required") else []
    return schema["properties"], required


def _resolved(value: Any, document: dict[str, Any]) -> dict[str, Any]:
    """`value`, or what its local `$ref` (`#/components/...`) points to."""
    seen = 0
    while isinstance(value, dict) and isinstance(value.get("$ref"), str):
        reference = value["$ref"]
        if not reference.startswith("#/") or (seen := seen + 1) > 20:
            raise ValueError(f"cannot follow $ref {reference}")
        value = document
        for part in reference[2:].split("/"):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            raise ValueError(f"$ref {reference} leads nowhere")
    if not isinstance(value, dict):
        raise ValueError("a parameter, body or schema is not an object")
    return value


def _definitions(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """The component schemas `schema` refers to, directly or through one another."""
    components = (document.get("components") or {}).get("schemas") or {}
    found: dict[str, Any] = {}
    pending = list(_references(schema))
    while pending:
        name = pending.pop()
        if name in found:
            continue
        if name not in components:
            raise ValueError(f"$ref {COMPONENTS}{name} leads nowhere")
        found[name] = _local(components[name])
        pending.extend(_references(components[name]))
    return found


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        reference = value.get("$ref")
        if isinstance(reference, str) and reference.startswith(COMPONENTS):
            yield reference.removeprefix(COMPONENTS)
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _local(value: Any) -> Any:
    """`value` with its references to the document's component schemas made references to `$defs`."""
    if isinstance(value, dict):
        return {
            k: "#/$defs/" + v.removeprefix(COMPONENTS)
            if k == "$ref" and isinstance(v, str) and v.startswith(COMPONENTS)
            else _local(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_local(item) for item in value]
    return value
