"""Backups: `flask backup create | restore | verify | list`.

A backup is one file (SQLite: a database copied with the online backup API; PostgreSQL: a
`pg_dump --format=custom` archive) and a JSON manifest beside it with the file's SHA-256, the
Alembic revision and every table's row count and content checksum, so that a restore can be
checked row for row.
"""
