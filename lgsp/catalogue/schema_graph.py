"""Where a JSON Schema could loop forever: a `$ref` that leads back to a schema already being applied to
the same part of the payload, as in `{"allOf": [{"$ref": "#"}]}`.

Such a schema is refused when declared. Python's jsonschema recursed until RecursionError on every
request; jsonschema-rs stops the loop but then passes any payload, so the schema guards nothing either
way. A reference that goes through `properties`, `items` and the like is fine: each turn reads one level
deeper into the payload, which is finite.

The schema is read as a graph of its subschemas, with an edge wherever applying one schema applies
another *to the same value*: the in-place applicators (allOf, anyOf, oneOf, not, if, then, else,
dependentSchemas) and references ($ref, $dynamicRef, resolved statically against `$id`, `$anchor` and
`$dynamicAnchor`). A cycle reachable from the root is a loop. The walk is iterative: a schema nested
hundreds deep must not exhaust Python's stack.
"""

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin

#: The base URI of a schema without `$id` (`.invalid` never resolves; nothing is fetched anyway).
BASE_URI = "https://lgsp.invalid/catalogue/schema.json"

#: A subschema's place in the document: the keys and indexes (as text) leading to it.
Location = tuple[str, ...]

# Keywords holding subschemas, by shape; the in-place ones apply to the value the schema itself applies to.
_ONE = frozenset(
    {"not", "if", "then", "else", "additionalProperties", "propertyNames", "items", "contains"}
    | {"unevaluatedItems", "unevaluatedProperties", "additionalItems", "contentSchema"}
)
_LIST = frozenset({"allOf", "anyOf", "oneOf", "prefixItems", "items"})
_MAP = frozenset({"properties", "patternProperties", "dependentSchemas", "$defs", "definitions"})
_IN_PLACE = frozenset({"not", "if", "then", "else", "allOf", "anyOf", "oneOf", "dependentSchemas"})
_REFERENCES = ("$ref", "$dynamicRef")


def _children(node: dict[str, Any]) -> Iterator[tuple[str, Location, Any]]:
    """(keyword, relative location, subschema) of every subschema directly under `node`."""
    for keyword, value in node.items():
        if keyword in _ONE and isinstance(value, dict | bool):
            yield keyword, (keyword,), value
        elif keyword in _LIST and isinstance(value, list):
            yield from ((keyword, (keyword, str(n)), item) for n, item in enumerate(value))
        elif keyword in _MAP and isinstance(value, dict):
            yield from ((keyword, (keyword, str(name)), item) for name, item in value.items())


class _Index:
    """Every subschema of a document with its base URI, and the resources and anchors references name."""

    def __init__(self, schema: Any) -> None:
        self.nodes: dict[Location, dict[str, Any]] = {}
        self.bases: dict[Location, str] = {}
        self.resources: dict[str, Location] = {BASE_URI: ()}
        self.anchors: dict[tuple[str, str], Location] = {}
        stack: list[tuple[Location, Any, str]] = [((), schema, BASE_URI)]
        while stack:
            location, node, base = stack.pop()
            if not isinstance(node, dict):
                continue  # a boolean schema applies nothing
            identifier = node.get("$id")
            if isinstance(identifier, str):
                base = urldefrag(urljoin(base, identifier)).url
                self.resources.setdefault(base, location)
            for keyword in ("$anchor", "$dynamicAnchor"):
                if isinstance(node.get(keyword), str):
                    self.anchors.setdefault((base, node[keyword]), location)
            self.nodes[location], self.bases[location] = node, base
            stack.extend((location + relative, child, base) for _, relative, child in _children(node))

    def target(self, location: Location, reference: str) -> Location | None:
        """The subschema a reference made at `location` names; None when it lies outside the document
        (jsonschema-rs has refused those already, or knows them: the meta-schemas) or is no subschema."""
        document, fragment = urldefrag(urljoin(self.bases[location], reference))
        resource = self.resources.get(document)
        if resource is None:
            return None
        if fragment.startswith("/"):
            tokens = [unquote(t).replace("~1", "/").replace("~0", "~") for t in fragment[1:].split("/")]
            found: Location | None = resource + tuple(tokens)
        else:
            found = self.anchors.get((document, fragment)) if fragment else resource
        return found if found in self.nodes else None

    def in_place(self, location: Location) -> Iterator[tuple[Location, str]]:
        """(subschema, how it is reached) of every schema applied to the same value as this one."""
        node = self.nodes[location]
        for keyword, relative, _ in _children(node):
            if keyword in _IN_PLACE and location + relative in self.nodes:
                yield location + relative, keyword
        for keyword in _REFERENCES:
            reference = node.get(keyword)
            if isinstance(reference, str):
                target = self.target(location, reference)
                if target is not None:
                    yield target, f'{keyword} "{reference}"'


def pointer(location: Location) -> str:
    """A location as a JSON Pointer (`/` for the root)."""
    return "/" + "/".join(t.replace("~", "~0").replace("/", "~1") for t in location)


def reference_loop(schema: Any) -> str | None:
    """Where `schema` would loop without reading deeper into the payload, in words; None if nowhere."""
    index = _Index(schema)
    if () not in index.nodes:
        return None
    # Depth-first from the root; `open_` holds the schemas on the current path, a cycle reaches one again.
    open_: set[Location] = {()}
    done: set[Location] = set()
    stack: list[tuple[Location, Iterator[tuple[Location, str]]]] = [((), index.in_place(()))]
    while stack:
        location, edges = stack[-1]
        step = next(edges, None)
        if step is None:
            stack.pop()
            open_.discard(location)
            done.add(location)
            continue
        target, how = step
        if target in open_:
            return (
                f"{how} at {pointer(location)} leads back to {pointer(target)} without reading deeper into"
                " the payload: validating would never end"
            )
        if target not in done:
            open_.add(target)
            stack.append((target, index.in_place(target)))
    return None


def count_patterns(schema: Any) -> int:
    """How many regular expressions the schema holds (`pattern` and `patternProperties` keys)."""
    index = _Index(schema)
    total = 0
    for node in index.nodes.values():
        total += isinstance(node.get("pattern"), str)
        names = node.get("patternProperties")
        total += len(names) if isinstance(names, dict) else 0
    return total
