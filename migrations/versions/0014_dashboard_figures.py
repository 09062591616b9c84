"""The dashboards' summary tables.

Reviewed and written by hand. Two new tables, nothing else changes:

- region_figures: every dashboard figure counted per county and organization (org_id -1 sums a
  whole county, 0 is "no organization"), written only by app.reports.summary.refresh(). Its
  primary key (county_code, org_id, metric, key) serves a county's and an organization's
  dashboard; ix_region_figures_org_id_county_code serves the province's and a city's, which read
  only the county totals (org_id -1) in a range of county codes. No foreign keys: the table is
  derived, wholly replaced by each refresh, and must not hold up deleting an organization.
- figure_refreshes: when each refresh finished and how long it took ("数据更新于 …").

The tables start empty; the dashboard says so until the first scheduled refresh (or
`flask reports refresh`). Downgrade drops both; nothing is lost that a refresh cannot count again.

Revision ID: 0014_dashboard_figures
Revises: 0013_recovery
Create Date: 2026-12-06 15:20:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0014_dashboard_figures'
down_revision = '0013_recovery'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'region_figures',
        sa.Column('county_code', sa.String(length=6), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('metric', sa.String(length=20), nullable=False),
        sa.Column('key', sa.String(length=20), nullable=False),
        sa.Column('value', sa.Float(), nullable=False),
        sa.Column('since', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('county_code', 'org_id', 'metric', 'key', name=op.f('pk_region_figures')),
    )
    op.create_index('ix_region_figures_org_id_county_code', 'region_figures', ['org_id', 'county_code'])
    op.create_table(
        'figure_refreshes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seconds', sa.Float(), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_figure_refreshes')),
    )
    op.create_index('ix_figure_refreshes_finished_at', 'figure_refreshes', ['finished_at'])


def downgrade():
    op.drop_index('ix_figure_refreshes_finished_at', table_name='figure_refreshes')
    op.drop_table('figure_refreshes')
    op.drop_index('ix_region_figures_org_id_county_code', table_name='region_figures')
    op.drop_table('region_figures')
