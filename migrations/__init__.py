"""Alembic migrations; ``storage/migrate.py`` runs them (``tropa migrate`` and start-up)."""
