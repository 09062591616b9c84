"""The skill-location index says whether a member has facts matching must load besides it.

Reviewed and edited by hand:

- member_skill_index gains has_facts (NOT NULL, default false): true when the member has an open
  invitation, a refusal in the last 30 days, an accepted task with sessions to come, hours served
  in the last 30 days or a period away not yet over. A false row's bound is the member's score,
  so matching ranks it without another read. Backfilled here with the same query as
  app.members.index.refresh_facts() (each window a day wider, so that it errs only towards true);
  from then on a flush hook sets it with any such fact and `flask matching refresh` clears it.
- has_facts joins the covering, county and talents indexes (dropped and created again: no ALTER
  INDEX adds a column). On the benchmark's three million index rows this took 28 s on SQLite
  and 21 s on PostgreSQL; CREATE INDEX blocks writes to the table meanwhile.
- The server default stays: false means "nothing to load", the right value for a new row.

Revision ID: 0008_index_knows_other_facts
Revises: 0007_index_by_band
Create Date: 2026-12-01 16:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0008_index_knows_other_facts'
down_revision = '0007_index_by_band'
branch_labels = None
depends_on = None

KEY = ['skill_id', 'level', 'band', 'lon']
OLD = ['lat', 'capacity', 'availability_mask', 'limits', 'hours_cap', 'radius_km', 'pool_rank', 'member_id']
NEW = ['lat', 'capacity', 'availability_mask', 'limits', 'hours_cap', 'radius_km', 'pool_rank', 'has_facts',
       'member_id']
TALENT_ROWS = sa.text('pool_rank >= 2')

FACTS = """
    member_id IN (
      SELECT member_id FROM assignments
       WHERE status = 'invited'
          OR (status = 'declined' AND updated_at >= :month_ago)
          OR (status = 'accepted' AND task_id IN (SELECT task_id FROM task_sessions
                                                  WHERE ends_at >= :yesterday AND NOT cancelled))
      UNION SELECT member_id FROM service_records WHERE served_on >= :month_ago_day
      UNION SELECT member_id FROM unavailable_periods WHERE end_date >= :yesterday_day)
"""


def _indexes(covered):
    op.create_index('ix_member_skill_index_covering', 'member_skill_index', KEY + covered, unique=False)
    op.create_index('ix_member_skill_index_county', 'member_skill_index',
                    ['skill_id', 'region_code', 'level'] + covered + ['lon'], unique=False)
    op.create_index('ix_member_skill_index_talents', 'member_skill_index', KEY + ['pool_city'] + covered,
                    unique=False, sqlite_where=TALENT_ROWS, postgresql_where=TALENT_ROWS)


def _drop_indexes():
    for name in ('ix_member_skill_index_covering', 'ix_member_skill_index_county', 'ix_member_skill_index_talents'):
        op.drop_index(name, table_name='member_skill_index')


def upgrade():
    import datetime

    _drop_indexes()
    op.add_column('member_skill_index',
                  sa.Column('has_facts', sa.Boolean(), server_default=sa.false(), nullable=False))
    # Local time in Henan (UTC+8) for sessions and dates, UTC for updated_at (naive text on SQLite,
    # timestamptz on PostgreSQL); a day wider each way.
    now = datetime.datetime.now(datetime.timezone.utc)
    local = now.replace(tzinfo=None) + datetime.timedelta(hours=8)
    month_ago = now - datetime.timedelta(days=31)
    if op.get_bind().dialect.name == 'sqlite':
        month_ago = month_ago.replace(tzinfo=None)
    op.get_bind().execute(sa.text(f"UPDATE member_skill_index SET has_facts = true WHERE {FACTS}"), {
        "month_ago": month_ago, "yesterday": local - datetime.timedelta(days=1),
        "month_ago_day": (local - datetime.timedelta(days=31)).date(),
        "yesterday_day": (local - datetime.timedelta(days=1)).date()})
    _indexes(NEW)
    op.execute('ANALYZE member_skill_index')


def downgrade():
    _drop_indexes()
    with op.batch_alter_table('member_skill_index') as batch_op:
        batch_op.drop_column('has_facts')
    _indexes(OLD)
