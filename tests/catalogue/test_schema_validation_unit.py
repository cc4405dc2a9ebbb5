"""`lgsp.catalogue.validation` on its own, without a hub: what a stored schema the hub can no longer
apply does, and a fuzz of schemas and payloads (nothing but a refusal or a validation error comes out)."""

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema.exceptions import ValidationError

from lgsp.catalogue.validation import SchemaRefused, check_schema, payload_validator, schema_bytes


def test_a_stored_schema_the_hub_cannot_apply_refuses_every_payload() -> None:
    # Declared before schemas were checked: a loop, and a pattern the linear-time engine does not run.
    for stored in ({"allOf": [{"$ref": "#"}]}, {"properties": {"a": {"pattern": "(?=x)x"}}}):
        validator = payload_validator(stored)
        assert validator.problem is not None
        with pytest.raises(ValidationError, match=r"^the service's request schema cannot be applied: "):
            validator.validate({"a": "x"})


def test_a_deeply_nested_payload_is_checked_in_full() -> None:
    validator = payload_validator({"type": "object", "additionalProperties": {"$ref": "#"}})
    payload: Any = 1
    for _ in range(3000):
        payload = {"a": payload}
    with pytest.raises(ValidationError) as refused:
        validator.validate(payload)
    assert (refused.value.message, len(refused.value.absolute_path)) == ("is not of type object", 3000)
    valid: Any = {}
    for _ in range(3000):
        valid = {"a": valid}
    validator.validate(valid)  # nothing raised


def test_the_size_is_counted_as_compact_utf8_json() -> None:
    schema = {"description": "Hồ sơ"}
    assert schema_bytes(schema) == len('{"description":"Hồ sơ"}'.encode())
    check_schema(schema, schema_bytes(schema))
    with pytest.raises(SchemaRefused, match="LGSP_MAX_SCHEMA_BYTES"):
        check_schema(schema, schema_bytes(schema) - 1)


KEYWORDS = st.sampled_from(
    [
        *("type", "pattern", "properties", "items", "allOf", "anyOf", "oneOf", "not", "$ref", "$defs"),
        *("minimum", "maxLength", "required", "enum", "const", "additionalProperties"),
        *("patternProperties", "if", "then", "else", "$id", "$anchor", "$dynamicRef", "format"),
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["#", "#/$defs/a", "#/properties/x", "string", "object", "^a+$", "(?=a)", "[", "\\"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(KEYWORDS | st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=st.dictionaries(KEYWORDS, JSON, max_size=5), payload=JSON)
def test_any_schema_is_refused_or_applied_and_any_payload_passes_or_is_refused(
    schema: dict[str, Any], payload: Any
) -> None:
    try:
        check_schema(schema, 65_536)
    except SchemaRefused:
        return
    try:
        payload_validator(schema).validate(payload)
    except ValidationError as error:
        assert error.message  # a rule in words; never anything but ValidationError
