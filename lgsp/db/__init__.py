"""The shared, thin database layer: async engine, sessions, UTC timestamps and migrations."""

from lgsp.db.engine import Database, UTCDateTime, enum_type, metadata

__all__ = ["Database", "UTCDateTime", "enum_type", "metadata"]
