"""The index of members by who registered them leaves out those registered by nobody.

Reviewed and written by hand:

- ix_member_profiles_registered_by_id becomes partial (`WHERE registered_by_id IS NOT NULL`). An
  organizer's pool search asks `branch_id IN (…) OR registered_by_id = me`, which both databases
  answer by combining two index lookups, but only while the planner believes the second lookup
  is small. SQLite's statistics (ANALYZE) count NULLs as one value: where most members were
  imported without a registering account (all of the bench population, most of a real one), the
  index looked as if `registered_by_id = ?` matched every row, and SQLite walked the whole of
  member_profiles on every page and count of the search (240–380 ms at a million members,
  against 30–90 ms with the lookups). Without the NULLs the index is smaller, its statistics say
  what they should, and `registered_by_id = ?` (never true for NULL) can still use it, as can the
  foreign key's ON DELETE SET NULL.
- Both databases build the new index before dropping the old one, under a temporary name, so
  that no moment is without one. On a large PostgreSQL pool CREATE INDEX locks the table against
  writes while it builds (about a second per million members here); run it in a quiet hour.
  Downgrade puts back the full index the same way.

Revision ID: 0019_partial_registered_by
Revises: 0018_birth_month
Create Date: 2026-12-06 18:45:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0019_partial_registered_by'
down_revision = '0018_birth_month'
branch_labels = None
depends_on = None

NAME = 'ix_member_profiles_registered_by_id'
BUILDING = 'ix_member_profiles_registered_by_id_new'
NOT_NULL = sa.text('registered_by_id IS NOT NULL')


def _swap(**where) -> None:
    op.create_index(BUILDING, 'member_profiles', ['registered_by_id'], unique=False, **where)
    op.drop_index(NAME, table_name='member_profiles')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'ALTER INDEX {BUILDING} RENAME TO {NAME}')
    else:   # SQLite cannot rename an index: build it once more under its own name
        op.create_index(NAME, 'member_profiles', ['registered_by_id'], unique=False, **where)
        op.drop_index(BUILDING, table_name='member_profiles')


def upgrade():
    _swap(sqlite_where=NOT_NULL, postgresql_where=NOT_NULL)


def downgrade():
    _swap()
