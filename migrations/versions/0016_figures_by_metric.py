"""region_figures by metric: an index for the dashboards' top venues.

Reviewed and written by hand. One index, nothing else changes:

- ix_region_figures_org_id_metric_county_code_key on region_figures (org_id, metric, county_code,
  key). A province's or a city's dashboard picks its ten busiest venues, and reads their booked and
  open hours by month, among the county totals (org_id -1) of one metric or two in a range of
  county codes. ix_region_figures_org_id_county_code reached those rows only through every county
  total of the region (15,544 rows at a province of a million members, 21 ms of a 97 ms page on
  PostgreSQL under load); this index reaches only the venues' rows, and carries the key the
  month is read from.

The table is derived and small (about 33,000 rows): the index is built in well under a second on
either database. Downgrade drops it.

Revision ID: 0016_figures_by_metric
Revises: 0015_attendance
Create Date: 2026-12-06 19:05:00

"""
from alembic import op

revision = '0016_figures_by_metric'
down_revision = '0015_attendance'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_region_figures_org_id_metric_county_code_key', 'region_figures',
                    ['org_id', 'metric', 'county_code', 'key'])


def downgrade():
    op.drop_index('ix_region_figures_org_id_metric_county_code_key', table_name='region_figures')
