"""Merging two accounts of one person, and "只是这一次去不了" for one session of a task.

Reviewed and written by hand.

- account_merges: one row per merge (app/members/merge.py): the account that stays (survivor_id,
  SET NULL should it ever be deleted), the account closed into it (merged_id, unique: an account is
  merged away once), who did it (actor_id) and when, and a JSON detail of what moved (counts and
  row ids per table), enough to review the merge and reconstruct it by hand.
- session_releases: a member on a task who cannot come to one of its sessions stays on the task
  but is not expected at that session; one row per (assignment, session), unique.

Two new tables only; nothing existing is rebuilt or changed. Downgrade drops both.

Revision ID: 0017_merge_and_dates
Revises: 0016_figures_by_metric
Create Date: 2026-12-06 18:15:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0017_merge_and_dates'
down_revision = '0016_figures_by_metric'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'account_merges',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('survivor_id', sa.Integer(), nullable=True),
        sa.Column('merged_id', sa.Integer(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_account_merges_actor_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['merged_id'], ['users.id'], name=op.f('fk_account_merges_merged_id_users'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['survivor_id'], ['users.id'], name=op.f('fk_account_merges_survivor_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_account_merges')),
        sa.UniqueConstraint('merged_id', name=op.f('uq_account_merges_merged_id')),
    )
    op.create_index(op.f('ix_account_merges_survivor_id'), 'account_merges', ['survivor_id'], unique=False)
    op.create_table(
        'session_releases',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('assignment_id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('released_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('via', sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'],
                                name=op.f('fk_session_releases_assignment_id_assignments'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['session_id'], ['task_sessions.id'],
                                name=op.f('fk_session_releases_session_id_task_sessions'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_session_releases')),
        sa.UniqueConstraint('assignment_id', 'session_id', name=op.f('uq_session_releases_assignment_id_session_id')),
    )
    op.create_index(op.f('ix_session_releases_assignment_id'), 'session_releases', ['assignment_id'], unique=False)
    op.create_index(op.f('ix_session_releases_session_id'), 'session_releases', ['session_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_session_releases_session_id'), table_name='session_releases')
    op.drop_index(op.f('ix_session_releases_assignment_id'), table_name='session_releases')
    op.drop_table('session_releases')
    op.drop_index(op.f('ix_account_merges_survivor_id'), table_name='account_merges')
    op.drop_table('account_merges')
