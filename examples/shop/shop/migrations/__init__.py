"""Alembic environment and revisions of the shop schema."""
