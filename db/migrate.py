"""Apply Alembic migrations programmatically (`skserve db upgrade`)."""
