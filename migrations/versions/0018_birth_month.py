"""Members' birth month, so a roster row without a phone is matched on name, birth month and county.

Reviewed and written by hand.

- member_profiles.birth_month (1 to 12, nullable): filled by the roster import from 出生年月 when
  the file gives the month (1950.03, 1950年3月, an Excel date); NULL for members registered before
  or without it. On SQLite the column and its CHECK are added with one ALTER TABLE, in place: no
  batch rebuild of member_profiles (a million rows, referenced by other tables).

Downgrade drops the column (and its CHECK on PostgreSQL; on SQLite the CHECK goes with the column).
"""

import sqlalchemy as sa
from alembic import op

revision = '0018_birth_month'
down_revision = '0017_merge_and_dates'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("ALTER TABLE member_profiles ADD COLUMN birth_month INTEGER "
                   "CONSTRAINT ck_member_profiles_birth_month_range CHECK (birth_month >= 1 AND birth_month <= 12)")
    else:
        op.add_column('member_profiles', sa.Column('birth_month', sa.Integer(), nullable=True))
        op.create_check_constraint(op.f('ck_member_profiles_birth_month_range'), 'member_profiles',
                                   'birth_month >= 1 AND birth_month <= 12')


def downgrade():
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint(op.f('ck_member_profiles_birth_month_range'), 'member_profiles', type_='check')
    op.drop_column('member_profiles', 'birth_month')
