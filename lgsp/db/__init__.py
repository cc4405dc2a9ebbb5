"""The shared, thin database layer: async engine, sessions, UTC timestamps and migrations."""

from lgsp.db.engine import Database, SessionDep, UTCDateTime, enum_type, get_session, metadata

__all__ = ["Database", "SessionDep", "UTCDateTime", "enum_type", "get_session", "metadata"]
