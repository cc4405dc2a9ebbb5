"""One paging shape for every list endpoint."""

from collections.abc import Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=1000, description="Page size")]
Offset = Annotated[int, Query(ge=0, description="Rows to skip")]


class Page(BaseModel, Generic[T]):
    """A page of results and the total number matching."""

    items: Sequence[T]
    total: int
    limit: int
    offset: int
