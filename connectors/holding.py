"""What every evidence holder shares, whatever reads its records: the documents registered with it, and
its requests read as the contract's models (connectors.evidence, connectors.declarative.holder)."""

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from schemas.onceonly import Document

M = TypeVar("M", bound=BaseModel)


class Registrations:
    """The documents registered with a holder (`evidence.register`): of each type and subject the newest
    issued. In memory: this is a mock, and the holder's source database stays read-only."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], Document] = {}

    def get(self, document_type: str, subject: str) -> Document | None:
        """The document of this type about `subject` held, if any."""
        return self._held.get((document_type, subject))

    def register(self, document: Document) -> bool:
        """Hold `document` from now; False if a document of its type and subject issued later is
        already registered (that one is kept)."""
        key = (document.document_type, document.subject)
        held = self._held.get(key)
        if held is not None and held.issued_on > document.issued_on:
            return False
        self._held[key] = document
        return True


def parse_payload(model: type[M], payload: dict[str, Any], service: str) -> M:
    """The payload as `model`, or ValueError naming every problem (the SDK answers it as a fault)."""
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, problem['loc'])) or 'payload'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise ValueError(f"bad {service} payload: {problems}") from None
