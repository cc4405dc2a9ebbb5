"""Counting the SQL statements the hub sends, to show that a request did (or did not) reach the database."""

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


@contextlib.contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine of this process executes meanwhile, in order."""
    seen: list[str] = []

    def record(_: Any, __: Any, statement: str, *___: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)
