"""The JSON Schemas providers declare: checked when declared, compiled once for the directory, and applied
to payloads in bounded time, with fault messages that never repeat a payload's values.

Schemas are applied by jsonschema-rs as Draft 2020-12 (as before with Python's jsonschema, whatever their
`$schema` says), with these guards:

- Regular expressions (`pattern`, `patternProperties`) run on the `regex` crate's engine, which matches
  in time linear in the text: `^(a+)+$` cannot backtrack (with Python's `re`, 34 characters stopped the
  event loop every exchange, heartbeat and API call shares). The engine has no lookaround and no
  backreferences, and a pattern that compiles to more than `REGEX_BYTES` is refused: memory, and the
  time to compile, stay bounded.
- No reference is fetched: a `$ref` outside the schema is refused.
- A loop of references that reads no deeper into the payload is refused (`schema_graph`).
- Formats are annotations, as they were: no payload string is compiled or parsed because of `format`.
- The size of a schema (`LGSP_MAX_SCHEMA_BYTES`) is checked by the catalogue before anything else.
"""

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import jsonschema_rs
from jsonschema.exceptions import ValidationError

from lgsp.catalogue.schema_graph import count_patterns, pointer, reference_loop

#: The compiled size above which a regular expression is refused (the `regex` crate's size limit), and
#: the cache of each one's lazy DFA: `^[0-9]{12}$`, `^\p{L}+$` or an e-mail pattern take a few KiB, while
#: `^\p{L}{1,64}$` takes megabytes (bound such lengths with minLength and maxLength instead).
REGEX_BYTES = 64 * 1024
#: The most regular expressions one schema may hold: each costs up to about twice REGEX_BYTES in memory.
MAX_PATTERNS = 100
#: Compiled schemas kept, by their text: the directory is reloaded every second or so, and compiling a
#: schema again each time would cost the event loop far more than validating with it.
CACHED_SCHEMAS = 2048


class SchemaRefused(ValueError):
    """A schema the hub will not apply; the message says why."""


def schema_bytes(schema: Any) -> int:
    """The size of a schema as compact UTF-8 JSON, as LGSP_MAX_SCHEMA_BYTES counts it."""
    return len(json.dumps(schema, ensure_ascii=False, separators=(",", ":")).encode())


def _canonical(schema: Any) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"))


def _compile_problem(exc: Exception) -> str:
    """What jsonschema-rs found wrong while compiling a schema, in words."""
    if not isinstance(exc, jsonschema_rs.ValidationError):
        # jsonschema-rs refuses schemas nested deeper than it recurses ("Recursion limit reached").
        return f"it cannot be compiled: {exc}"
    where = pointer(tuple(str(p) for p in exc.instance_path))
    kind = exc.kind
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Format) and kind.format == "regex":
        return (
            f"the regular expression at {where} is not one the hub runs: its engine matches in linear time,"
            f" so it has no lookaround and no backreferences, and compiles a pattern to {REGEX_BYTES // 1024}"
            " KiB at most (bound lengths with minLength and maxLength, not {m,n} on wide classes such as"
            " \\p{L} or .)"
        )
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Referencing):
        return (
            f"a reference cannot be resolved within the schema (the hub fetches none): {kind.error.message}"
        )
    return f"not a valid JSON Schema (Draft 2020-12) at {where}: {exc.message}"


@lru_cache(maxsize=CACHED_SCHEMAS)
def _compiled(text: str) -> jsonschema_rs.Validator | str:
    """The validator of a schema (given as canonical JSON), or what is wrong with it."""
    schema = json.loads(text)
    patterns = count_patterns(schema)
    if patterns > MAX_PATTERNS:
        return f"it holds {patterns} regular expressions, over the hub's limit of {MAX_PATTERNS}"
    try:
        validator = jsonschema_rs.Draft202012Validator(
            schema,
            validate_formats=False,
            pattern_options=jsonschema_rs.RegexOptions(size_limit=REGEX_BYTES, dfa_size_limit=REGEX_BYTES),
            offline=True,
        )
    except (jsonschema_rs.ValidationError, ValueError) as exc:
        return _compile_problem(exc)
    return reference_loop(schema) or validator


def check_schema(schema: Any, max_bytes: int) -> None:
    """Raise SchemaRefused, saying why, unless the hub can apply `schema` (at most `max_bytes` long)."""
    size = schema_bytes(schema)
    if size > max_bytes:
        raise SchemaRefused(
            f"it is {size} bytes, over the hub's limit of {max_bytes} (LGSP_MAX_SCHEMA_BYTES)"
        )
    compiled = _compiled(_canonical(schema))
    if isinstance(compiled, str):
        raise SchemaRefused(compiled)


# --- payloads -------------------------------------------------------------------------------------------

_Kind = jsonschema_rs.ValidationErrorKind


def _limit(words: str) -> Callable[[Any], str]:
    return lambda kind: words.format(limit=kind.limit)


#: What each rule requires, in words that quote the schema (public, in the catalogue) and never the
#: payload: not the value, nor the names of properties it should not have had.
_RULES: dict[type[Any], Callable[[Any], str]] = {
    _Kind.Type: lambda kind: f"is not of type {' or '.join(kind.types)}",
    _Kind.Pattern: lambda kind: f"does not match pattern {kind.pattern}",
    _Kind.Required: lambda kind: f"lacks required property {kind.property}",
    _Kind.MinLength: _limit("is shorter than {limit} characters"),
    _Kind.MaxLength: _limit("is longer than {limit} characters"),
    _Kind.Minimum: _limit("is less than {limit}"),
    _Kind.Maximum: _limit("is more than {limit}"),
    _Kind.ExclusiveMinimum: _limit("is not more than {limit}"),
    _Kind.ExclusiveMaximum: _limit("is not less than {limit}"),
    _Kind.MultipleOf: lambda kind: f"is not a multiple of {kind.multiple_of}",
    _Kind.MinItems: _limit("has fewer than {limit} items"),
    _Kind.MaxItems: _limit("has more than {limit} items"),
    _Kind.MinProperties: _limit("has fewer than {limit} properties"),
    _Kind.MaxProperties: _limit("has more than {limit} properties"),
    _Kind.AdditionalItems: _limit("has more than {limit} items"),
    _Kind.Enum: lambda _: "is not one of the values the schema allows",
    _Kind.Constant: lambda _: "is not the value the schema requires",
    _Kind.AdditionalProperties: lambda _: "has properties the schema does not allow",
    _Kind.UnevaluatedProperties: lambda _: "has properties the schema does not allow",
    _Kind.UnevaluatedItems: lambda _: "has items the schema does not allow",
    _Kind.PropertyNames: lambda _: "has a property name the schema does not allow",
    _Kind.UniqueItems: lambda _: "has repeated items",
    _Kind.Contains: lambda _: "contains no item the schema requires",
    _Kind.Not: lambda _: "matches a schema it must not match",
    _Kind.AnyOf: lambda _: "matches none of the schemas of anyOf",
    _Kind.OneOfNotValid: lambda _: "matches none of the schemas of oneOf",
    _Kind.OneOfMultipleValid: lambda _: "matches more than one of the schemas of oneOf",
    _Kind.FalseSchema: lambda _: "is not allowed by the schema",
}


def rule_broken(error: jsonschema_rs.ValidationError) -> str:
    """The rule a payload broke, in words without any of the payload's values."""
    describe = _RULES.get(type(error.kind))
    return describe(error.kind) if describe else f"does not satisfy the schema's {error.kind.name} rule"


class PayloadValidator:
    """A service's request schema, compiled; or, for a stored schema the hub can no longer apply, the
    reason, and every payload is refused (the schema may have been all that kept bad payloads out)."""

    def __init__(self, compiled: jsonschema_rs.Validator | str) -> None:
        self._compiled = compiled

    @property
    def problem(self) -> str | None:
        """Why the schema cannot be applied, if it cannot."""
        return self._compiled if isinstance(self._compiled, str) else None

    def validate(self, payload: Any) -> None:
        """Raise ValidationError (Python jsonschema's, which admission catches) if `payload` breaks the
        schema: its path is where in the payload, its message the rule, never the value."""
        if isinstance(self._compiled, str):
            raise ValidationError(f"the service's request schema cannot be applied: {self._compiled}")
        try:
            self._compiled.validate(payload)
        except jsonschema_rs.ValidationError as error:
            raise ValidationError(rule_broken(error), path=error.instance_path) from None
        except ValueError:
            # jsonschema-rs refuses what it cannot convert with a bare ValueError (a schema nested too
            # deeply, for one); a payload must be refused, never crash admission.
            raise ValidationError("cannot be checked against the schema") from None


def payload_validator(schema: Any) -> PayloadValidator:
    """The validator of a stored request schema (compiled once per distinct schema, then cached)."""
    return PayloadValidator(_compiled(_canonical(schema)))
