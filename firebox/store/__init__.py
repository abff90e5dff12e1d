"""Persistence: the store interfaces (`base`), their SQLite implementation and the code archive files."""
