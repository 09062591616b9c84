"""The skill-location index covers every column matching's first step reads.

Reviewed and edited by hand:

- ix_member_skill_index_covering gains radius_km, availability_mask, limits and pool_rank (added to
  the table by 0004_tasks), so that the candidate query for a task — a range over (skill_id, lat)
  with lon, capacity, level, the weekly grid, limits and the member's own radius tested inside the
  index — never visits the table: an index-only scan on PostgreSQL, a covering index on SQLite.
  Measured by bench/matching.py (see bench/README.md).
- ix_member_skill_index_talents, partial (pool_rank >= 2): the approved city and province talents
  a widened search reads, by skill, without walking every holder of the skill. Its predicate is
  spelled exactly as the query spells it (SQLite only uses a partial index whose WHERE the query
  repeats literally).
- member_skill_index gains region_code (the member's county, kept by reindex_member() like every
  other column there; backfilled here from member_profiles) and ix_member_skill_index_county over
  (skill_id, region_code, …): a remote task reads its county's holders of the skill instead of
  joining every holder in the province with the county's members. Server default '' so that the
  column can be added NOT NULL to a filled table on SQLite; every row is backfilled.
- member_profiles' and pool_entries' single-column region_code indexes become composite ones that
  also carry what matching reads: (region_code, id) — a county's members for a remote task — and
  (region_code, level, status, member_id) — the talents a city approved. Scope queries, which
  filter on region_code first, use them as before.
- The covering index is dropped and created again (no ALTER INDEX can add columns). On a large PostgreSQL pool run it in
  a quiet hour: CREATE INDEX locks the table against writes while it builds (about 30 s per million
  members on the benchmark machine). Downgrade restores the old column list.

Revision ID: 0006_index_covers_matching
Revises: 0005_venues
Create Date: 2026-11-27 05:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0006_index_covers_matching'
down_revision = '0005_venues'
branch_labels = None
depends_on = None

OLD = ['skill_id', 'lat', 'lon', 'member_id', 'level', 'capacity']
NEW = ['skill_id', 'lat', 'lon', 'capacity', 'level', 'availability_mask', 'limits', 'radius_km', 'pool_rank',
       'member_id']


TALENTS = ['skill_id', 'pool_rank', 'level', 'capacity', 'availability_mask', 'limits', 'radius_km', 'lat', 'lon',
           'member_id']
TALENT_ROWS = sa.text('pool_rank >= 2')


COUNTY = ['skill_id', 'region_code', 'capacity', 'level', 'availability_mask', 'limits', 'radius_km', 'pool_rank',
          'lat', 'lon', 'member_id']


def upgrade():
    op.add_column('member_skill_index',
                  sa.Column('region_code', sa.String(length=6), server_default='', nullable=False))
    op.execute("UPDATE member_skill_index SET region_code = (SELECT region_code FROM member_profiles "
               "WHERE member_profiles.id = member_skill_index.member_id)")
    op.create_index('ix_member_skill_index_county', 'member_skill_index', COUNTY, unique=False)
    op.drop_index('ix_member_skill_index_covering', table_name='member_skill_index')
    op.create_index('ix_member_skill_index_covering', 'member_skill_index', NEW, unique=False)
    op.create_index('ix_member_skill_index_talents', 'member_skill_index', TALENTS, unique=False,
                    sqlite_where=TALENT_ROWS, postgresql_where=TALENT_ROWS)
    op.drop_index('ix_member_profiles_region_code', table_name='member_profiles')
    op.create_index('ix_member_profiles_region_code_id', 'member_profiles', ['region_code', 'id'], unique=False)
    op.drop_index('ix_pool_entries_region_code', table_name='pool_entries')
    op.create_index('ix_pool_entries_region_level_status_member', 'pool_entries',
                    ['region_code', 'level', 'status', 'member_id'], unique=False)


def downgrade():
    op.drop_index('ix_member_skill_index_county', table_name='member_skill_index')
    op.drop_index('ix_pool_entries_region_level_status_member', table_name='pool_entries')
    op.create_index('ix_pool_entries_region_code', 'pool_entries', ['region_code'], unique=False)
    op.drop_index('ix_member_profiles_region_code_id', table_name='member_profiles')
    op.create_index('ix_member_profiles_region_code', 'member_profiles', ['region_code'], unique=False)
    op.drop_index('ix_member_skill_index_talents', table_name='member_skill_index')
    op.drop_index('ix_member_skill_index_covering', table_name='member_skill_index')
    op.create_index('ix_member_skill_index_covering', 'member_skill_index', OLD, unique=False)
    with op.batch_alter_table('member_skill_index') as batch_op:   # last: SQLite rebuilds the table
        batch_op.drop_column('region_code')
