"""Members by who registered them: an index for the organizer's scope and for deleting a user.

Reviewed and written by hand:

- ix_member_profiles_registered_by_id. An organizer sees the members of the branches they
  organize *or* those they registered themselves (access.members_visible: `branch_id IN (…) OR
  registered_by_id = me`). With an index on only one side of the OR, both databases walked all of
  member_profiles for every page of an organizer's pool search (seconds at a million members);
  with both they combine two index lookups (SQLite's OR optimisation, PostgreSQL's BitmapOr).
  The same index serves the ON DELETE SET NULL of the foreign key when a user is deleted, which
  otherwise scans the table too.
- On a large PostgreSQL pool, CREATE INDEX locks the table against writes while it builds (a few
  seconds per million members); run the upgrade in a quiet hour. Downgrade drops the index.

Revision ID: 0011_index_registered_by
Revises: 0010_sessions_signed_in_only
Create Date: 2026-12-06 15:10:00

"""
from alembic import op

revision = '0011_index_registered_by'
down_revision = '0010_sessions_signed_in_only'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_member_profiles_registered_by_id', 'member_profiles', ['registered_by_id'], unique=False)


def downgrade():
    op.drop_index('ix_member_profiles_registered_by_id', table_name='member_profiles')
