"""The table of every setting in docs/operators/settings.md, made from lgsp/settings.py.

`python -m tests.docs.settings_table` rewrites the table in the page; tests/docs/test_reference.py fails
while the page's table differs from what this makes, so a new or changed setting cannot go undocumented.
"""

import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from lgsp.settings import Settings
from tests.docs.samples import ROOT

PAGE = ROOT / "docs" / "operators" / "settings.md"
BEGIN = "<!-- settings table: made by `python -m tests.docs.settings_table`, do not edit -->"
END = "<!-- end of the settings table -->"

#: What a setting without a description in lgsp/settings.py means.
MEANINGS = {
    "topic_prefix": "Every topic is `<prefix>.…`, so installations can share a cluster",
    "host": "Address the API listens on",
    "port": "Port the API listens on",
}


def _kind(annotation: Any) -> str:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " or ".join(_kind(a) for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in typing.get_args(annotation))
    if typing.get_origin(annotation) is typing.Annotated:
        return _kind(typing.get_args(annotation)[0])
    return {
        str: "text",
        int: "integer",
        float: "number",
        bool: "`true` or `false`",
        SecretStr: "secret",
        Path: "file path",
    }.get(annotation, str(annotation))


def _bounds(field: FieldInfo) -> str:
    words = []
    for item in field.metadata:
        for attribute, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if getattr(item, attribute, None) is not None:
                words.append(f"{sign} {getattr(item, attribute):,}".replace(",", " "))
        if getattr(item, "pattern", None):
            words.append(f"matching `{item.pattern}`")
    return ", ".join(words)


def _default(field: FieldInfo) -> str:
    value = field.get_default()
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def meaning(name: str, field: FieldInfo) -> str:
    text = field.description or MEANINGS.get(name)
    if not text:
        raise ValueError(f"setting {name} has no description in lgsp/settings.py nor in MEANINGS here")
    return text


def table() -> str:
    """The Markdown table of every setting, in the order lgsp/settings.py declares them."""
    rows = ["| variable | value | default | meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        value = ", ".join(w for w in (_kind(field.annotation), _bounds(field)) if w)
        cells = [f"`LGSP_{name.upper()}`", value, _default(field), meaning(name, field)]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows)


def rendered(page: str) -> str:
    """`page` with the text between BEGIN and END replaced by the current table."""
    head, found, rest = page.partition(BEGIN)
    _, found_end, tail = rest.partition(END)
    if not found or not found_end:
        raise ValueError(f"{PAGE} lacks the markers {BEGIN!r} and {END!r}")
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


if __name__ == "__main__":
    PAGE.write_text(rendered(PAGE.read_text(encoding="utf-8")), encoding="utf-8")
    sys.stdout.write(f"{PAGE.relative_to(ROOT)}: the settings table is current\n")
