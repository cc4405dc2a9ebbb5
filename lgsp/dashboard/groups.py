"""Live systems by administrative level and by agency, as they are now: the dashboard's grouped tables.

Counted as the indicators count (docs/architecture/definitions.md): a link is connected only for an
in-scope system; exempt systems are counted apart.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.connectivity.models import SystemStatus
from lgsp.dashboard.format import bilingual, esc, percent
from lgsp.registry.models import AdministrativeLevel, System

#: Levels as the page names them; `district` only on systems registered before 1 July 2025.
LEVELS = {"province": "Tỉnh", "district": "Huyện (trước 7/2025)", "commune": "Xã, phường"}
#: Levels top down, as the enum lists them.
_LEVEL_ORDER = {level.value: rank for rank, level in enumerate(AdministrativeLevel)}


@dataclass(frozen=True, slots=True)
class Group:
    """The live systems of one level or one agency."""

    name: str
    in_scope: int
    exempt: int
    lgsp_connected: int
    ngsp_connected: int


@dataclass(frozen=True, slots=True)
class Groups:
    """The live systems by level (top down) and by agency (by code)."""

    by_level: Sequence[Group]
    by_agency: Sequence[Group]


def _count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.sum(sa.case((condition, 1), else_=0))


async def system_groups(session: AsyncSession) -> Groups:
    """The live systems counted by level and agency at once in the database, then summed per level and
    per agency (there are a few levels and tens of agencies: the rows are few)."""
    in_scope = sa.not_(col(System.exempt))
    # On the session's connection: a plain SQL aggregate, no models to load.
    connection = await session.connection()
    rows = await connection.execute(
        sa.select(
            col(System.level),
            col(System.agency_code),
            _count(in_scope),
            _count(col(System.exempt).is_(True)),
            # A system never seen has no status row: it is not connected.
            _count(sa.and_(in_scope, sa.func.coalesce(col(SystemStatus.lgsp_connected), False))),
            _count(sa.and_(in_scope, sa.func.coalesce(col(SystemStatus.ngsp_connected), False))),
        )
        .outerjoin(SystemStatus, col(SystemStatus.system_id) == col(System.id))
        .where(col(System.retired_at).is_(None))
        .group_by(col(System.level), col(System.agency_code))
    )
    counted = [(str(level), agency, tuple(int(n or 0) for n in counts)) for level, agency, *counts in rows]

    def summed(
        key: Callable[
            [
                tuple[str, str],
            ],
            str,
        ],
    ) -> dict[str, list[int]]:
        totals: dict[str, list[int]] = {}
        for level, agency, counts in counted:
            total = totals.setdefault(key((level, agency)), [0, 0, 0, 0])
            for i, n in enumerate(counts):
                total[i] += n
        return totals

    by_level = summed(lambda pair: pair[0])
    by_agency = summed(lambda pair: pair[1])
    return Groups(
        by_level=[
            Group(name, *by_level[name])
            for name in sorted(by_level, key=lambda n: (_LEVEL_ORDER.get(n, len(_LEVEL_ORDER)), n))
        ],
        by_agency=[Group(name, *by_agency[name]) for name in sorted(by_agency)],
    )


def level_label(level: str) -> str:
    """A level in Vietnamese with its English code alongside (an unknown one as it is)."""
    name = LEVELS.get(level)
    return bilingual(name, level) if name else esc(level)


def _link(connected: int, in_scope: int) -> str:
    ratio = connected / in_scope if in_scope else None
    return f"<b>{connected} / {in_scope}</b> <small>{esc(percent(ratio))}</small>"


def _table(groups: Sequence[Group], heading: tuple[str, str], label: Callable[[str], str]) -> str:
    head = "".join(
        f"<th>{bilingual(vi, en)}</th>"
        for vi, en in (
            heading,
            ("Trong phạm vi", "in scope"),
            ("Kết nối LGSP", "LGSP"),
            ("Kết nối NDXP", "NDXP (NGSP)"),
            ("Miễn trừ", "exempt"),
        )
    )
    rows = (
        "".join(
            f'<tr><td class="group">{label(g.name)}</td><td class="num">{g.in_scope}</td>'
            f'<td class="nw">{_link(g.lgsp_connected, g.in_scope)}</td>'
            f'<td class="nw">{_link(g.ngsp_connected, g.in_scope)}</td><td class="num">{g.exempt}</td></tr>'
            for g in groups
        )
        or f'<tr><td colspan="5" class="empty">{bilingual("Chưa có hệ thống nào", "none")}</td></tr>'
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def groups_section(groups: Groups) -> str:
    """Two tables side by side: the systems by level, and by agency."""
    return (
        f'<section id="groups"><h2>{bilingual("Theo cấp và cơ quan", "By level and by agency")}</h2>'
        '<div class="split">'
        f'<div class="panel" id="by-level">{_table(groups.by_level, ("Cấp", "level"), level_label)}</div>'
        f'<div class="panel" id="by-agency">{_table(groups.by_agency, ("Cơ quan", "agency"), esc)}</div>'
        "</div></section>"
    )
