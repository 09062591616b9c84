"""Volunteer tasks, their sessions, skills, assignments and the service-hours ledger; and the cheap
facts matching filters on, copied into the skill-location index.

Reviewed by hand: a remote task has no coordinates and an onsite one has them (CHECK
remote_has_no_place); one assignment row per (task, member) — its status moves, declining included,
so a declined member is never invited again; one service record per assignment and session.
The four new index columns are added with a default, filled from the profiles and pool entries
they summarise, and then lose the default: the application always writes them.

Revision ID: 0004_tasks
Revises: 0003_pool
Create Date: 2026-11-27 02:27:20.973039

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_tasks'
down_revision = '0003_pool'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('title', sa.String(length=80), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('category', sa.Enum('rural', 'governance', 'red_heritage', 'next_generation', 'ecology', 'elder_care', 'party_building', 'other', name='taskcategory', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('mode', sa.Enum('onsite', 'remote', name='taskmode', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('lat', sa.Double(), nullable=True),
    sa.Column('lon', sa.Double(), nullable=True),
    sa.Column('radius_km', sa.Integer(), nullable=False),
    sa.Column('schedule', sa.Enum('once', 'weekly', name='schedulekind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('first_date', sa.Date(), nullable=True),
    sa.Column('last_date', sa.Date(), nullable=True),
    sa.Column('weekdays', sa.Integer(), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=True),
    sa.Column('end_time', sa.Time(), nullable=True),
    sa.Column('headcount', sa.Integer(), nullable=False),
    sa.Column('demand', sa.Enum('light', 'moderate', 'heavy', name='capacity', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('outdoor', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'open', 'filled', 'closed', 'cancelled', name='taskstatus', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('widen_to', sa.String(length=10), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(mode = 'remote') = (lat IS NULL)", name=op.f('ck_tasks_remote_has_no_place')),
    sa.CheckConstraint('headcount BETWEEN 1 AND 200', name=op.f('ck_tasks_headcount_range')),
    sa.CheckConstraint('radius_km BETWEEN 1 AND 100', name=op.f('ck_tasks_radius_range')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_tasks_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_tasks_organization_id_organizations')),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_tasks_region_code_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks'))
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tasks_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_region_code'), ['region_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_status'), ['status'], unique=False)
        batch_op.create_index('ix_tasks_status_lat_lon', ['status', 'lat', 'lon'], unique=False)

    op.create_table('assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('origin', sa.String(length=10), nullable=False),
    sa.Column('status', sa.Enum('invited', 'applied', 'accepted', 'waitlisted', 'declined', 'rejected', 'withdrawn', name='assignmentstatus', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('invited_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invited_by_id'], ['users.id'], name=op.f('fk_assignments_invited_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['member_id'], ['member_profiles.id'], name=op.f('fk_assignments_member_id_member_profiles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_assignments_task_id_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignments')),
    sa.UniqueConstraint('task_id', 'member_id', name=op.f('uq_assignments_task_id_member_id'))
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_member_id_status', ['member_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_task_id'), ['task_id'], unique=False)

    op.create_table('task_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('cancelled', sa.Boolean(), nullable=False),
    sa.Column('attendance_confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_task_sessions_ordered')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_task_sessions_task_id_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_sessions'))
    )
    with op.batch_alter_table('task_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_task_sessions_starts_at', ['starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_sessions_task_id'), ['task_id'], unique=False)

    op.create_table('task_skills',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('skill_id', sa.Integer(), nullable=False),
    sa.Column('min_level', sa.Integer(), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.CheckConstraint('min_level BETWEEN 1 AND 3', name=op.f('ck_task_skills_level_range')),
    sa.ForeignKeyConstraint(['skill_id'], ['skills.id'], name=op.f('fk_task_skills_skill_id_skills')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_task_skills_task_id_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_skills')),
    sa.UniqueConstraint('task_id', 'skill_id', name=op.f('uq_task_skills_task_id_skill_id'))
    )
    with op.batch_alter_table('task_skills', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_skills_skill_id'), ['skill_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_skills_task_id'), ['task_id'], unique=False)

    op.create_table('service_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('served_on', sa.Date(), nullable=False),
    sa.Column('attended', sa.Boolean(), nullable=False),
    sa.Column('hours', sa.Numeric(precision=5, scale=2, asdecimal=False), nullable=False),
    sa.Column('feedback', sa.Text(), nullable=False),
    sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('hours >= 0 AND hours <= 24', name=op.f('ck_service_records_hours_range')),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], name=op.f('fk_service_records_assignment_id_assignments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['users.id'], name=op.f('fk_service_records_confirmed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['member_id'], ['member_profiles.id'], name=op.f('fk_service_records_member_id_member_profiles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_service_records_organization_id_organizations')),
    sa.ForeignKeyConstraint(['session_id'], ['task_sessions.id'], name=op.f('fk_service_records_session_id_task_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_records')),
    sa.UniqueConstraint('assignment_id', 'session_id', name=op.f('uq_service_records_assignment_id_session_id'))
    )
    with op.batch_alter_table('service_records', schema=None) as batch_op:
        batch_op.create_index('ix_service_records_member_id_served_on', ['member_id', 'served_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_records_session_id'), ['session_id'], unique=False)

    with op.batch_alter_table('member_skill_index', schema=None) as batch_op:
        batch_op.add_column(sa.Column('radius_km', sa.Integer(), nullable=False, server_default="5"))
        batch_op.add_column(sa.Column('availability_mask', sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column('limits', sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column('pool_rank', sa.Integer(), nullable=False, server_default="0"))

    op.execute("""
        UPDATE member_skill_index SET
          radius_km = (SELECT p.service_radius_km FROM member_profiles p WHERE p.id = member_skill_index.member_id),
          availability_mask = (SELECT p.availability_mask FROM member_profiles p
                               WHERE p.id = member_skill_index.member_id),
          limits = (SELECT (CASE WHEN p.no_night THEN 1 ELSE 0 END) + (CASE WHEN p.no_outdoor THEN 2 ELSE 0 END)
                    FROM member_profiles p WHERE p.id = member_skill_index.member_id),
          pool_rank = (SELECT COALESCE(MAX(CASE e.level WHEN 'county' THEN 1 WHEN 'city' THEN 2
                                                        WHEN 'province' THEN 3 END), 0)
                       FROM pool_entries e WHERE e.member_id = member_skill_index.member_id
                       AND e.status = 'approved')
    """)
    with op.batch_alter_table('member_skill_index', schema=None) as batch_op:
        for column in ('radius_km', 'availability_mask', 'limits', 'pool_rank'):
            batch_op.alter_column(column, server_default=None)



def downgrade():
    with op.batch_alter_table('member_skill_index', schema=None) as batch_op:
        batch_op.drop_column('pool_rank')
        batch_op.drop_column('limits')
        batch_op.drop_column('availability_mask')
        batch_op.drop_column('radius_km')

    with op.batch_alter_table('service_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_records_session_id'))
        batch_op.drop_index('ix_service_records_member_id_served_on')

    op.drop_table('service_records')
    with op.batch_alter_table('task_skills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_skills_task_id'))
        batch_op.drop_index(batch_op.f('ix_task_skills_skill_id'))

    op.drop_table('task_skills')
    with op.batch_alter_table('task_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_sessions_task_id'))
        batch_op.drop_index('ix_task_sessions_starts_at')

    op.drop_table('task_sessions')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignments_task_id'))
        batch_op.drop_index('ix_assignments_member_id_status')

    op.drop_table('assignments')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_status_lat_lon')
        batch_op.drop_index(batch_op.f('ix_tasks_status'))
        batch_op.drop_index(batch_op.f('ix_tasks_region_code'))
        batch_op.drop_index(batch_op.f('ix_tasks_organization_id'))

    op.drop_table('tasks')
