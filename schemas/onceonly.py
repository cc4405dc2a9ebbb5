"""The once-only catalogues (docs/architecture/definitions.md): document types, their holders, and procedures.

The catalogue is data (`catalogue.yaml` in this package), validated when it is loaded, so the hub and
the connectors agree on which documents exist, who holds them, and what each procedure asks for.

Subjects. A document is about a subject: a citizen (12-digit personal identification number) or a
business (tax code). The rules on kinds are deliberately simple:

- every document a procedure *requires* is about the applicant, so it must be of the applicant's kind
  (the one-stop shop looks it up by type and applicant id);
- a procedure may *produce* documents of either kind: a citizen registering a household business
  produces a business-registration certificate about the new business (its tax code);
- a procedure may only *follow* procedures with the same kind of applicant, so the simulation can have
  the same applicant file the follow-up.

The catalogue holds kinds, not identities: which subject id each document of a dossier carries is the
dossier's business (the simulation uses the applicant's id throughout, although in life a birth
registration filed by a parent produces the child's certificate).
"""

import functools
import hashlib
import json
from collections.abc import Hashable, Iterable
from datetime import date
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from schemas.common import ProviderAddress

#: A document type or procedure code: lowercase kebab case, e.g. `birth-certificate`.
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$", max_length=64)]


class SubjectKind(StrEnum):
    """What a document is about, and who files a procedure."""

    #: A person, identified by the 12-digit personal identification number (số định danh cá nhân).
    CITIZEN = "citizen"
    #: A business or household business, identified by its tax code (mã số thuế).
    BUSINESS = "business"


class DocumentType(BaseModel):
    """A kind of document (evidence, in OOTS terms) and the system that holds the authoritative copy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    name: str = Field(min_length=1, max_length=200, description="Vietnamese name, e.g. 'Giấy khai sinh'")
    subject: SubjectKind
    holder: ProviderAddress = Field(
        description="The holder system: a provincial system code (`HO-TICH`) or `AREA/CODE` (`VN/DAN-CU`)"
    )
    validity_days: int | None = Field(
        default=None, gt=0, description="How long an issued document stays valid; None: it does not expire"
    )
    description: str = Field(default="", max_length=2000)


class Procedure(BaseModel):
    """An administrative procedure: what its applicant must provide and what it issues on completion."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    name: str = Field(min_length=1, max_length=200, description="Vietnamese name, e.g. 'Đăng ký khai sinh'")
    applicant: SubjectKind
    # A procedure that asks for nothing cannot reuse or re-ask for anything, so it says nothing about
    # once-only; the catalogue leaves such procedures out.
    requires: list[Code] = Field(min_length=1, description="Document type codes the applicant must provide")
    produces: list[Code] = Field(
        default=[], description="Document type codes issued when the dossier completes"
    )
    follows: list[Code] = Field(default=[], description="Procedure codes this one is typically filed after")
    weight: float = Field(gt=0, allow_inf_nan=False, description="Relative frequency in the simulated mix")


class Catalogue(BaseModel):
    """Document types and procedures by code, cross-checked: every reference resolves and is coherent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    document_types: dict[str, DocumentType]
    procedures: dict[str, Procedure]

    @model_validator(mode="before")
    @classmethod
    def _codes_from_keys(cls, data: Any) -> Any:
        """An entry's code is its mapping key, so the YAML need not repeat it (a repeated one must match)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for section in ("document_types", "procedures"):
            entries = data.get(section)
            if isinstance(entries, dict):
                data[section] = {
                    key: {"code": key, **entry} if isinstance(entry, dict) else entry
                    for key, entry in entries.items()
                }
        return data

    @model_validator(mode="after")
    def _check_references(self) -> Self:
        """Refuse a catalogue with dangling or incoherent references, naming every problem found."""
        problems: list[str] = []
        for section, entries in (("document type", self.document_types), ("procedure", self.procedures)):
            problems += [
                f"{section} key {key!r} does not match its code {entry.code!r}"
                for key, entry in entries.items()
                if key != entry.code
            ]
        for procedure in self.procedures.values():
            problems += self._procedure_problems(procedure)
        if cycle := self._follows_cycle():
            problems.append(f"procedures follow each other in a cycle: {' -> '.join(cycle)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _procedure_problems(self, procedure: Procedure) -> list[str]:
        """What is wrong with one procedure's references."""
        where = f"procedure {procedure.code!r}"
        problems = [
            f"{where} lists {code!r} more than once in {field}"
            for field, codes in (
                ("requires", procedure.requires),
                ("produces", procedure.produces),
                ("follows", procedure.follows),
            )
            for code in _repeated(codes)
        ]
        for field, codes in (("requires", procedure.requires), ("produces", procedure.produces)):
            problems += [
                f"{where} {field} unknown document type {code!r}"
                for code in codes
                if code not in self.document_types
            ]
        problems += [
            f"{where} follows unknown procedure {code!r}"
            for code in procedure.follows
            if code not in self.procedures
        ]
        for code in procedure.requires:
            required = self.document_types.get(code)
            if required is not None and required.subject != procedure.applicant:
                problems.append(
                    f"{where} has a {procedure.applicant} applicant but requires {code!r},"
                    f" a {required.subject} document: required documents are about the applicant"
                )
        # A dossier would otherwise consume and issue the same document: its output could never be
        # told apart from its input in the ledger.
        problems += [
            f"{where} produces {code!r}, which it also requires"
            for code in procedure.produces
            if code in procedure.requires
        ]
        for code in procedure.follows:
            earlier = self.procedures.get(code)
            if earlier is not None and earlier.applicant != procedure.applicant:
                problems.append(
                    f"{where} has a {procedure.applicant} applicant but follows {code!r}, which has a"
                    f" {earlier.applicant} applicant: the same applicant must be able to file both"
                )
        return problems

    def _follows_cycle(self) -> list[str] | None:
        """One cycle in the `follows` graph as a closed path of codes, or None: follow-ups must end."""
        done: set[str] = set()

        def visit(code: str, path: list[str]) -> list[str] | None:
            if code in path:
                return [*path[path.index(code) :], code]
            if code in done or code not in self.procedures:
                return None
            for earlier in self.procedures[code].follows:
                if cycle := visit(earlier, [*path, code]):
                    return cycle
            done.add(code)
            return None

        for code in self.procedures:
            if cycle := visit(code, []):
                return cycle
        return None

    def document_type(self, code: str) -> DocumentType:
        """The document type with this code; KeyError naming it if the catalogue has none."""
        try:
            return self.document_types[code]
        except KeyError:
            raise KeyError(
                f"unknown document type {code!r}; known: {', '.join(sorted(self.document_types))}"
            ) from None

    def procedure(self, code: str) -> Procedure:
        """The procedure with this code; KeyError naming it if the catalogue has none."""
        try:
            return self.procedures[code]
        except KeyError:
            raise KeyError(
                f"unknown procedure {code!r}; known: {', '.join(sorted(self.procedures))}"
            ) from None

    def holders(self) -> frozenset[str]:
        """The addresses of every system holding some document type (provincial codes and `AREA/CODE`)."""
        return frozenset(document.holder for document in self.document_types.values())


class CatalogueError(ValueError):
    """A catalogue file that cannot be used: bad YAML or a catalogue that fails validation."""


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Load and validate the catalogue at `path`, or the one shipped in this package (loaded once).

    Raises CatalogueError, naming the file and the problem, when it is not valid YAML or not a valid
    catalogue.
    """
    if path is None:
        return _shipped_catalogue()
    return _parse(path.read_text(encoding="utf-8"), str(path))


@functools.cache
def _shipped_catalogue() -> Catalogue:
    """The package's own `catalogue.yaml`, read through importlib.resources so it works once installed."""
    resource = resources.files("schemas").joinpath("catalogue.yaml")
    return _parse(resource.read_text(encoding="utf-8"), str(resource))


def _parse(text: str, source: str) -> Catalogue:
    """Validate catalogue YAML read from `source` (named in errors)."""
    try:
        # The same safety as yaml.safe_load: _UniqueKeyLoader is a SafeLoader.
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = " ".join(part for part in (error.context, error.problem) if part)
        raise CatalogueError(f"{source}{where}: invalid YAML: {what}") from error
    except yaml.YAMLError as error:
        raise CatalogueError(f"{source}: invalid YAML: {error}") from error
    if not isinstance(data, dict):
        raise CatalogueError(f"{source}: expected a mapping with document_types and procedures")
    try:
        return Catalogue.model_validate(data)
    except ValidationError as error:
        problems = "\n".join(
            f"  - {'.'.join(map(str, problem['loc'])) or 'catalogue'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise CatalogueError(f"{source}: invalid catalogue:\n{problems}") from error


def _repeated(codes: Iterable[str]) -> list[str]:
    """The codes that appear more than once, each once, in first-seen order."""
    seen: set[str] = set()
    repeated: dict[str, None] = {}
    for code in codes:
        if code in seen:
            repeated[code] = None
        seen.add(code)
    return list(repeated)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a mapping with a repeated key, which PyYAML would silently overwrite
    (two entries with the same code would otherwise lose one without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        """Construct the mapping after checking its own keys (merged `<<` keys may be overridden)."""
        seen: list[Any] = []
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.append(key)
        return super().construct_mapping(node, deep)


# --- Evidence exchange: what holders answer, and what the one-stop shop reports to the hub ---------


def content_hash(document_type: str, subject: str, content: dict[str, Any]) -> str:
    """The fingerprint of a document's content: SHA-256 over canonical JSON of type, subject, content.

    Holders put it in their answers and applicants' copies carry the same content, so a copy handed in
    again matches the document accepted before, whoever computes it.
    """
    canonical = json.dumps(
        {"type": document_type, "subject": subject, "content": content},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class Document(BaseModel):
    """One issued document as a holder describes it (evidence, in OOTS terms)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    document_type: Code
    subject: str = Field(min_length=1, max_length=64, description="Citizen id or tax code")
    issued_on: date
    valid_until: date | None = Field(default=None, description="Last day it is valid; None: no expiry")
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")

    def valid_on(self, day: date) -> bool:
        """Issued by `day` and not expired on it."""
        return self.issued_on <= day and (self.valid_until is None or day <= self.valid_until)


class EvidenceQuery(BaseModel):
    """Payload of a holder's `evidence.get`: does it hold a valid `document_type` about `subject` on `on`?"""

    model_config = ConfigDict(extra="forbid", frozen=True)

    document_type: Code
    subject: str = Field(min_length=1, max_length=64)
    on: date


class EvidenceAnswer(BaseModel):
    """Answer of `evidence.get`: the document if held and valid on the asked day; else why not."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    held: bool
    document: Document | None = None
    reason: str = Field(default="", max_length=200, description="Why not held: 'not found', 'expired'...")


class EvidenceRegistration(BaseModel):
    """Payload of a holder's `evidence.register`: a document a completed dossier issued, to hold from now."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    document: Document


#: The services every holder offers, by code.
EVIDENCE_GET = "evidence.get"
EVIDENCE_REGISTER = "evidence.register"
