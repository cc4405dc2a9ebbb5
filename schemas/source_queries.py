"""Checking a declarative source's query before it ever runs: one SELECT, named bind parameters only,
each a field of the request.

The database enforces read-only too (every query runs in a read-only transaction); this check makes a
config that could not be read-only an error at start (or a 422 when the source is stored on the hub),
naming the field, rather than a fault later.
"""

import sqlglot
from sqlalchemy import text
from sqlglot import exp
from sqlglot.errors import SqlglotError

#: sqlglot's dialect for each SQLAlchemy backend a database source may name.
DIALECTS = {"postgresql": "postgres", "mariadb": "mysql", "mysql": "mysql", "sqlite": "sqlite"}

#: Nodes no read-only SELECT holds anywhere (a data-modifying CTE, SELECT INTO, FOR UPDATE...).
_WRITES: tuple[type[exp.Expression], ...] = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.Command,
    exp.Into,
    exp.Lock,
    exp.Set,
    exp.Pragma,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Copy,
)


def dialect_of(url: str) -> str:
    """sqlglot's dialect for a SQLAlchemy URL (`postgresql+asyncpg://...` -> `postgres`)."""
    return DIALECTS[url.split("://", 1)[0].split("+", 1)[0]]


def query_parameters(query: str, dialect: str, fields: set[str]) -> list[str]:
    """The bind parameters of `query`, in order of first use; ValueError unless it is one SELECT (or a
    UNION of SELECTs) whose parameters are all named (`:field`) and all in `fields`."""
    try:
        statements = [s for s in sqlglot.parse(query, read=dialect) if s is not None]
    except SqlglotError as exc:
        raise ValueError(f"not a statement of {dialect} SQL: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise ValueError(f"{len(statements)} statements; give exactly one SELECT")
    statement = statements[0]
    if not isinstance(statement, exp.Select | exp.SetOperation):
        raise ValueError(f"a {statement.key.upper()} statement; only a SELECT may be served")
    for node in statement.walk():
        if isinstance(node, _WRITES):
            raise ValueError(f"holds {node.key.upper()}; only a read-only SELECT may be served")
        if isinstance(node, exp.Parameter) or (isinstance(node, exp.Placeholder) and not node.this):
            raise ValueError(f"a positional parameter ({node.sql(dialect)}); name it, as :field")
    names = list(dict.fromkeys(p.name for p in statement.find_all(exp.Placeholder)))
    # SQLAlchemy binds by its own reading of `:name`, which does not skip string literals: both readings
    # must agree, or a value could be bound where the query's author saw text.
    bound = list(text(query).compile().binds)
    if sorted(bound) != sorted(names):
        raise ValueError("a `:name` inside a string or a comment; write it as \\:name there")
    unknown = [name for name in names if name not in fields]
    if unknown:
        listed = ", ".join(f":{name}" for name in unknown)
        raise ValueError(f"parameter {listed} is not a property of the request schema")
    return names
