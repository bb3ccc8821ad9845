"""Alembic migrations of the registry schema, run programmatically by `store.migrate` (no CLI needed)."""
