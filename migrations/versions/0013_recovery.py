"""Getting back in, SMS, reminders and account care: the SMS outbox, recovery codes, task reminders, channel choices, failed-login counts, deceased_at.

Reviewed and written by hand:
- sms_outbox: one row per text. The state is a checked list (pending, sending, sent, failed,
  uncertain, expired, capped) and a sent row has its time. Senders find due rows by
  (state, next_attempt_at); the daily cap counts a number's rows by (phone, local_day).
- recovery_codes: a keyed digest of each code (never the code), its phone, tries and expiry. A
  staff-issued code must name its user; an SMS code asked for an unknown number has none.
- users: notify_sms (NULL: the default, SMS when there is no email), notify_email and notify_app
  (default true, so existing users keep what they had: app and email); failed_logins with the
  start of its rolling day and when the member was last told. Existing rows get 0 and NULLs.
- task_reminders: one row per (assignment, session) reminded the day before, unique, so that a
  member is reminded of a session once; answered_at when its link was used ("去不了了").
- booking_reminders: the same for an approved booking date and its booker (unique per date and person).
- member_profiles.deceased_at: when staff marked the member 逝世 (NULL for everyone so far).
- The new columns of users and member_profiles are added in place (ALTER TABLE … ADD COLUMN),
  never by rebuilding the tables: on SQLite a batch rebuild of users at a million members ran for
  over ten minutes (measured on the benchmark database).
- Downgrade drops the four tables (pending texts and live codes are lost: they expire within a day)
  and the columns.

Revision ID: 0013_recovery
Revises: 0012_roster_import
Create Date: 2026-12-06 15:00:23.010757

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_recovery'
down_revision = '0012_roster_import'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.Enum('sms', 'staff', name='recoverypurpose', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('phone', sa.String(length=11), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('code_digest', sa.String(length=64), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("purpose <> 'staff' OR (user_id IS NOT NULL)", name=op.f('ck_recovery_codes_staff_code_has_user')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_recovery_codes_attempts_not_negative')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_recovery_codes_issued_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recovery_codes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes'))
    )
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.create_index('ix_recovery_codes_phone_created_at', ['phone', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_recovery_codes_user_id'), ['user_id'], unique=False)

    op.create_table('sms_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('notification_id', sa.Integer(), nullable=True),
    sa.Column('phone', sa.String(length=11), nullable=False),
    sa.Column('template', sa.String(length=40), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('local_day', sa.String(length=10), nullable=True),
    sa.Column('provider_id', sa.String(length=64), nullable=True),
    sa.CheckConstraint("state <> 'sent' OR sent_at IS NOT NULL", name=op.f('ck_sms_outbox_sent_has_time')),
    sa.CheckConstraint("state IN ('pending', 'sending', 'sent', 'failed', 'uncertain', 'expired', 'capped')", name=op.f('ck_sms_outbox_state_known')),
    sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'], name=op.f('fk_sms_outbox_notification_id_notifications'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sms_outbox_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_outbox'))
    )
    with op.batch_alter_table('sms_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_sms_outbox_due', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_sms_outbox_phone_local_day', ['phone', 'local_day'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_outbox_user_id'), ['user_id'], unique=False)

    op.create_table('task_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], name=op.f('fk_task_reminders_assignment_id_assignments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['task_sessions.id'], name=op.f('fk_task_reminders_session_id_task_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_reminders')),
    sa.UniqueConstraint('assignment_id', 'session_id', name=op.f('uq_task_reminders_assignment_id_session_id'))
    )
    with op.batch_alter_table('task_reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_reminders_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_reminders_session_id'), ['session_id'], unique=False)

    op.create_table('booking_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['occurrence_id'], ['booking_occurrences.id'], name=op.f('fk_booking_reminders_occurrence_id_booking_occurrences'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_booking_reminders_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_reminders')),
    sa.UniqueConstraint('occurrence_id', 'user_id', name=op.f('uq_booking_reminders_occurrence_id_user_id'))
    )
    with op.batch_alter_table('booking_reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_reminders_occurrence_id'), ['occurrence_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_booking_reminders_user_id'), ['user_id'], unique=False)

    # Plain ALTER TABLE … ADD COLUMN on both databases: constant defaults, no constraint to change.
    # Batch mode would rebuild users and member_profiles on SQLite (copy, drop, rename: many
    # minutes at a million members, and the drop checks every foreign key pointing at users).
    op.add_column('member_profiles', sa.Column('deceased_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('users', sa.Column('notify_sms', sa.Boolean(), nullable=True))
    op.add_column('users', sa.Column('notify_email', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.add_column('users', sa.Column('notify_app', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.add_column('users', sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
    op.add_column('users', sa.Column('failed_logins_since', sa.DateTime(timezone=True), nullable=True))
    op.add_column('users', sa.Column('failed_logins_told_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('booking_reminders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_booking_reminders_user_id'))
        batch_op.drop_index(batch_op.f('ix_booking_reminders_occurrence_id'))

    op.drop_table('booking_reminders')
    with op.batch_alter_table('member_profiles', schema=None) as batch_op:
        batch_op.drop_column('deceased_at')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('failed_logins_told_at')
        batch_op.drop_column('failed_logins_since')
        batch_op.drop_column('failed_logins')
        batch_op.drop_column('notify_app')
        batch_op.drop_column('notify_email')
        batch_op.drop_column('notify_sms')

    with op.batch_alter_table('task_reminders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_reminders_session_id'))
        batch_op.drop_index(batch_op.f('ix_task_reminders_assignment_id'))

    op.drop_table('task_reminders')
    with op.batch_alter_table('sms_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_outbox_user_id'))
        batch_op.drop_index('ix_sms_outbox_phone_local_day')
        batch_op.drop_index('ix_sms_outbox_due')

    op.drop_table('sms_outbox')
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_codes_user_id'))
        batch_op.drop_index('ix_recovery_codes_phone_created_at')

    op.drop_table('recovery_codes')
