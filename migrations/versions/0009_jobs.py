"""Background jobs and the schedule's ledger.

Reviewed and edited by hand:

- jobs: one row per piece of background work (roster imports, exports): its state (queued,
  running, done, failed), progress, a message for the page in Chinese, the worker's heartbeat
  (the sweeper's evidence that a worker died) and the run count. Indexed by (state, heartbeat_at)
  for the sweeper's two reads, and by created_by_id for a person's own exports.
- schedule_runs: one row per scheduled task and period (a minute, a day, a month); the unique
  key is what lets exactly one worker of any host run a period.
- schedule_leases: one row per scheduled task, held by the run going on; a run that finds it
  held by a live run skips its period.
- Imports not finished before the upgrade (queued, or left "checking"/"writing" by a web process's
  thread that stopped) get a queued job row dated when they were uploaded: the first sweep hands
  them to the queue, and they run from the start (nothing of them was written).

Revision ID: 0009_jobs
Revises: 0008_index_knows_other_facts
Create Date: 2026-12-06 12:00:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0009_jobs'
down_revision = '0008_index_knows_other_facts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'jobs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('params', sa.Text(), nullable=False),
        sa.Column('progress', sa.Integer(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=True),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('result', sa.String(length=200), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('request_id', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_jobs_created_by_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_state_heartbeat', ['state', 'heartbeat_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_created_by_id'), ['created_by_id'], unique=False)

    op.create_table(
        'schedule_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('task', sa.String(length=40), nullable=False),
        sa.Column('period', sa.String(length=20), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('host', sa.String(length=100), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_runs')),
        sa.UniqueConstraint('task', 'period', name=op.f('uq_schedule_runs_task_period')),
    )
    op.create_table(
        'schedule_leases',
        sa.Column('task', sa.String(length=40), nullable=False),
        sa.Column('holder', sa.Integer(), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('task', name=op.f('pk_schedule_leases')),
    )
    op.execute(
        "INSERT INTO jobs (kind, state, params, progress, message, attempts, created_by_id, created_at, heartbeat_at) "
        "SELECT 'import', 'queued', '{\"import_id\": ' || id || '}', 0, '', 0, created_by_id, created_at, created_at "
        "FROM import_jobs WHERE status NOT IN ('done', 'failed')")


def downgrade():
    op.drop_table('schedule_leases')
    op.drop_table('schedule_runs')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_created_by_id'))
        batch_op.drop_index('ix_jobs_state_heartbeat')
    op.drop_table('jobs')
