"""One paging shape for every list endpoint."""

from collections.abc import Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=1000, description="Page size")]
#: Beyond any real table, and within every database's integer range (an unbounded offset reached the
#: database as a 500: SQLite and asyncpg take 64-bit integers only).
MAX_OFFSET = 2**31 - 1
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip")]


class Page(BaseModel, Generic[T]):
    """A page of results and the total number matching."""

    items: Sequence[T]
    total: int
    limit: int
    offset: int
