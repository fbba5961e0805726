"""Alembic environment: run the migrations on the connection the portal passes in.

There is no ``alembic.ini``: :func:`gutbrain.web.db.engine.migrate` builds the configuration in
code and hands over an open connection (in ``config.attributes["connection"]``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from gutbrain.web.db.models import Base


def run_migrations() -> None:
    """Run the pending migrations on the connection handed over by ``migrate``."""
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, sa.Connection):
        message = "gutbrain's migrations run through gutbrain.web.db.engine.migrate only"
        raise RuntimeError(message)
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()


if hasattr(context, "config"):  # loaded by alembic, not merely imported (doctest collection)
    run_migrations()
