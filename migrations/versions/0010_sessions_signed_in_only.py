"""Server-side sessions only for signed-in users.

Reviewed and written by hand: anonymous visitors now keep their session (the CSRF token, a
flashed message) in a signed cookie (app/accounts/sessions.py), so a page read never writes a row.

- Rows without a user (every anonymous visit so far) are deleted: their visitors get a fresh
  anonymous session and a new CSRF token on their next page, so a form open in a browser during
  the upgrade is refused once with the usual "表单校验码" message.
- user_sessions.user_id becomes NOT NULL. SQLite rebuilds the table (batch mode); on PostgreSQL
  it is one ALTER that scans the table once.
- Downgrade makes the column nullable again; the deleted rows are not brought back (they held
  nothing but anonymous CSRF tokens).

Revision ID: 0010_sessions_signed_in_only
Revises: 0009_jobs
Create Date: 2026-12-06 12:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0010_sessions_signed_in_only'
down_revision = '0009_jobs'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("DELETE FROM user_sessions WHERE user_id IS NULL")
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.alter_column('user_id', existing_type=sa.Integer(), nullable=False)


def downgrade():
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.alter_column('user_id', existing_type=sa.Integer(), nullable=True)
