"""The skill-location index finds places by latitude band, and carries weekly hours and city pools.

Reviewed and edited by hand:

- member_skill_index gains `band` (floor(lat * 40): bands of 1/40 degree, about 2.8 km;
  app.members.index.band_of computes the same), `hours_cap` (the member's max_hours_week, 168 when
  they set none) and `pool_city` (the city whose pool approved them, '' if none). All three are
  backfilled here from member_profiles and pool_entries; reindex_member() keeps them from then on.
- ix_member_skill_index_covering becomes (skill_id, level, band, lon, …): a task's query names the
  levels it accepts and the bands its box crosses, and gives one longitude range, so each (level,
  band) pair is one short B-tree range. The old (skill_id, lat, lon, …) order read a stripe of the
  whole province's width: at a million members up to 44,000 entries for a box holding 7,000, and
  all levels when a task asks for 精通. The county index gains level after region_code likewise.
- ix_member_skill_index_talents (partial, pool_rank >= 2) is keyed the same way, so that a widened
  search reads the talents within 100 km first; pool_city lets it tell a city's own talents
  without a lookup in pool_entries for every row.
- ix_member_skill_index_member_id becomes (member_id, skill_id, level): the probe that joins a
  task's other required and preferred skills to each row is answered from the index alone (and
  reindexing still finds a member's rows by member_id).
- A CHECK keeps level within 1–3, as in member_skills: queries name the levels 1, 2, 3.
- hours_cap joins the covering and county indexes: the weekly-hours limit is now applied when the
  organizer's list is made (it was only checked on invitation).
- Latitudes in China are positive, so CAST(lat * 40 AS INTEGER) is the floor on SQLite (whose
  floor() needs the optional math functions); PostgreSQL uses floor().
- SQLite: the server defaults used to add the NOT NULL columns to a filled table are dropped in
  one batch rebuild, after the changed indexes are dropped (so the rebuild does not build them
  twice). pool_city keeps its '' default, as region_code does.
- A large pool: on the benchmark's million members (3 million index rows) this took 34 s on SQLite
  and 52 s on PostgreSQL; CREATE INDEX blocks writes to the table meanwhile: run it in a quiet hour.
  ANALYZE afterwards gives both planners the new indexes' statistics.

Revision ID: 0007_index_by_band
Revises: 0006_index_covers_matching
Create Date: 2026-12-01 14:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0007_index_by_band'
down_revision = '0006_index_covers_matching'
branch_labels = None
depends_on = None

KEY = ['skill_id', 'level', 'band', 'lon']
COVERED = ['lat', 'capacity', 'availability_mask', 'limits', 'hours_cap', 'radius_km', 'pool_rank', 'member_id']
COVERING = KEY + COVERED
COUNTY = ['skill_id', 'region_code', 'level'] + COVERED + ['lon']
TALENTS = KEY + ['pool_city'] + COVERED
MEMBER_SKILL = ['member_id', 'skill_id', 'level']
TALENT_ROWS = sa.text('pool_rank >= 2')

# As 0006 left them, for downgrade.
OLD_COVERING = ['skill_id', 'lat', 'lon', 'capacity', 'level', 'availability_mask', 'limits', 'radius_km',
                'pool_rank', 'member_id']
OLD_COUNTY = ['skill_id', 'region_code', 'capacity', 'level', 'availability_mask', 'limits', 'radius_km',
              'pool_rank', 'lat', 'lon', 'member_id']
OLD_TALENTS = ['skill_id', 'pool_rank', 'level', 'capacity', 'availability_mask', 'limits', 'radius_km', 'lat',
               'lon', 'member_id']
CHANGED = ('ix_member_skill_index_covering', 'ix_member_skill_index_county', 'ix_member_skill_index_talents')


def upgrade():
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for name in CHANGED + ('ix_member_skill_index_member_id',):
        op.drop_index(name, table_name='member_skill_index')
    op.add_column('member_skill_index', sa.Column('band', sa.Integer(), server_default='0', nullable=False))
    op.add_column('member_skill_index', sa.Column('hours_cap', sa.Integer(), server_default='168', nullable=False))
    op.add_column('member_skill_index',
                  sa.Column('pool_city', sa.String(length=6), server_default='', nullable=False))
    band = 'CAST(lat * 40 AS INTEGER)' if sqlite else 'CAST(floor(lat * 40) AS INTEGER)'
    op.execute(f"""
        UPDATE member_skill_index SET
          band = {band},
          hours_cap = COALESCE((SELECT p.max_hours_week FROM member_profiles p
                                WHERE p.id = member_skill_index.member_id), 168),
          pool_city = COALESCE((SELECT MAX(e.region_code) FROM pool_entries e
                                WHERE e.member_id = member_skill_index.member_id
                                AND e.level = 'city' AND e.status = 'approved'), '')
    """)
    with op.batch_alter_table('member_skill_index') as batch_op:
        batch_op.alter_column('band', server_default=None)
        batch_op.alter_column('hours_cap', server_default=None)
        batch_op.create_check_constraint(op.f('ck_member_skill_index_level_range'), 'level BETWEEN 1 AND 3')
    op.create_index('ix_member_skill_index_covering', 'member_skill_index', COVERING, unique=False)
    op.create_index('ix_member_skill_index_county', 'member_skill_index', COUNTY, unique=False)
    op.create_index('ix_member_skill_index_talents', 'member_skill_index', TALENTS, unique=False,
                    sqlite_where=TALENT_ROWS, postgresql_where=TALENT_ROWS)
    op.create_index('ix_member_skill_index_member_skill_level', 'member_skill_index', MEMBER_SKILL, unique=False)
    op.execute('ANALYZE member_skill_index')


def downgrade():
    for name in CHANGED + ('ix_member_skill_index_member_skill_level',):
        op.drop_index(name, table_name='member_skill_index')
    with op.batch_alter_table('member_skill_index') as batch_op:
        batch_op.drop_constraint(op.f('ck_member_skill_index_level_range'), type_='check')
        batch_op.drop_column('pool_city')
        batch_op.drop_column('hours_cap')
        batch_op.drop_column('band')
    op.create_index('ix_member_skill_index_member_id', 'member_skill_index', ['member_id'], unique=False)
    op.create_index('ix_member_skill_index_covering', 'member_skill_index', OLD_COVERING, unique=False)
    op.create_index('ix_member_skill_index_county', 'member_skill_index', OLD_COUNTY, unique=False)
    op.create_index('ix_member_skill_index_talents', 'member_skill_index', OLD_TALENTS, unique=False,
                    sqlite_where=TALENT_ROWS, postgresql_where=TALENT_ROWS)
