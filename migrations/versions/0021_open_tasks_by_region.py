"""The open tasks of a region, read by status first.

Reviewed and written by hand:

- ix_tasks_status_region_code (status, region_code) is new. Tasks near me reads the online tasks
  of the member's county and city (app.matching.near_me, _AROUND). Through ix_tasks_region_code
  it read every task those regions ever posted and threw away the closed ones: with ten times the
  open tasks closed in history (22,157 tasks at the million-member bench), 397 rows and 295
  table pages for 33 open ones, 0.49 ms of the statement's 0.5; with the status first, 33 rows and
  31 pages, 0.22 ms. ix_tasks_region_code stays: organizers' and bureaus' lists read a region's
  tasks whatever their status.
- On a large PostgreSQL table CREATE INDEX locks it against writes while it builds (tasks are
  thousands of rows: well under a second).

Revision ID: 0021_open_tasks_by_region
Revises: 0020_scope_indexes
Create Date: 2026-12-07 19:00:00

"""
from alembic import op

revision = '0021_open_tasks_by_region'
down_revision = '0020_scope_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_tasks_status_region_code', 'tasks', ['status', 'region_code'], unique=False)


def downgrade():
    op.drop_index('ix_tasks_status_region_code', table_name='tasks')
