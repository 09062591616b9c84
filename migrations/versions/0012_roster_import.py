"""Rosters as bureaus keep them: the import's sheets, column mapping and preview counts, and the
column mappings remembered for the next file with the same headers.

Reviewed and written by hand:
- import_jobs gains the file kind (xlsx, xls, csv), the sheets found in the file with their
  headers and first values (JSON), the sheet chosen, the mapping of its columns and unknown skills
  (JSON), the skills the file names that are not in the taxonomy (JSON), and counts of updated,
  unchanged, held-for-review and skipped (合计, repeated header) rows. Every new column has a
  server default, so existing rows (finished imports) read as .xlsx imports of one sheet.
- import_mappings holds one remembered mapping per header signature (sha256 of the cleaned header
  texts): unique, so two admins saving the same headers at once update one row.
- Downgrade drops the table and the columns (SQLite rebuilds import_jobs in batch mode).

Revision ID: 0012_roster_import
Revises: 0011_index_registered_by
Create Date: 2026-12-06 15:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0012_roster_import'
down_revision = '0011_index_registered_by'
branch_labels = None
depends_on = None

COUNTS = ('updated_rows', 'unchanged_rows', 'review_rows', 'skipped_rows')


def upgrade():
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        for name in COUNTS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('kind', sa.String(length=4), nullable=False, server_default='xlsx'))
        batch_op.add_column(sa.Column('sheets', sa.Text(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('sheet', sa.String(length=100), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('mapping', sa.Text(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('unknown_skills', sa.Text(), nullable=False, server_default='{}'))

    op.create_table('import_mappings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signature', sa.String(length=64), nullable=False),
    sa.Column('headers', sa.Text(), nullable=False),
    sa.Column('columns', sa.Text(), nullable=False),
    sa.Column('skills', sa.Text(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_import_mappings_updated_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_mappings')),
    sa.UniqueConstraint('signature', name=op.f('uq_import_mappings_signature'))
    )


def downgrade():
    op.drop_table('import_mappings')
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        for name in ('unknown_skills', 'mapping', 'sheet', 'sheets', 'kind', *reversed(COUNTS)):
            batch_op.drop_column(name)
