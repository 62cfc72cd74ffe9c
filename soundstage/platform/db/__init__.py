"""Database layer: declarative `Base`, `Database` (engine + sessions), Alembic `upgrade`."""

from soundstage.platform.db.base import Base, JSONType, UTCDateTime, new_id, utcnow
from soundstage.platform.db.engine import Database, is_sqlite, make_engine
from soundstage.platform.db.migrate import current_revisions, head_revisions, upgrade

__all__ = [
    "Base",
    "Database",
    "JSONType",
    "UTCDateTime",
    "current_revisions",
    "head_revisions",
    "is_sqlite",
    "make_engine",
    "new_id",
    "upgrade",
    "utcnow",
]
