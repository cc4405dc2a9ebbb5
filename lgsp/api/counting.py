"""Pages of tables that grow without end, counted up to a cap: never the whole table for one page.

`count(*)` over a filtered table reads every matching row, so a page of the newest 100 exchange records
cost a scan of all of them, on every page anyone asks for. A page counts at most COUNT_CAP matching rows
instead; beyond, `total` is a lower bound (`total_exact` false) that grows with the pages shown, and
`offset + len(items) < total` still says whether another page follows.
"""

from collections.abc import Sequence
from typing import Generic, TypeVar

from pydantic import Field
from sqlalchemy import func, literal_column, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from lgsp.api.paging import Page

T = TypeVar("T")
R = TypeVar("R")

#: Rows counted at most for one page's total: enough to page through any screenful of results exactly.
COUNT_CAP = 10_000


class CountedPage(Page[T], Generic[T]):
    """A page whose `total` is exact up to a cap, and beyond it at least that many."""

    total_exact: bool = Field(
        description="false: more match than were counted, and `total` is a lower bound (at least that many)"
    )


async def counted_page(
    session: AsyncSession, query: SelectOfScalar[R], limit: int, offset: int
) -> tuple[Sequence[R], int, bool]:
    """The rows of `query` from `offset` (at most `limit`), the total matching and whether it is exact.

    The total counts at most COUNT_CAP rows. Past the cap, the page itself is read one row longer to learn
    whether another follows: the total is then at least every row up to the end of this page and one more,
    and exact once a page reaches the last row.
    """
    cap = COUNT_CAP
    # Any `cap` matching rows will do, and none of their columns: without the page's order and columns
    # the database can stop at the first ones it finds, however it finds them.
    counting = (
        query.with_only_columns(literal_column("1"), maintain_column_froms=True)
        .order_by(None)
        .limit(cap)
        .subquery()
    )
    counted = int(await session.scalar(select(func.count()).select_from(counting)) or 0)
    if counted < cap:
        rows = (await session.exec(query.limit(limit).offset(offset))).all()
        return rows, counted, True
    rows = (await session.exec(query.limit(limit + 1).offset(offset))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    if not rows:
        return rows, cap, False  # past the end, or beyond what was counted: at least the cap
    if not more:
        return rows, offset + len(rows), True  # the last page: everything before it exists
    return rows, max(cap, offset + len(rows) + 1), False
