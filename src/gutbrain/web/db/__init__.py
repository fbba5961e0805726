"""The portal's database: SQLAlchemy models, the engine (SQLite WAL or PostgreSQL), migrations.

The schema is created and changed only by the Alembic migrations shipped in ``migrations/``;
:func:`gutbrain.web.db.engine.migrate` runs them to the newest revision when the portal opens.
"""
