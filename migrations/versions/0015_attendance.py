"""Attendance: check-in and check-out at task sessions and bookings; no-show release of bookings.

Reviewed and written by hand.

- attendances: one row per person and task session or booking occurrence (exactly one of the two,
  a CHECK says so; each unique with the person), the local check-in and check-out times and how
  (scanned or by the organizer's hand). No location columns, by design.
- attendance_scans: the check-in codes a person has used (code key = target and 30-second
  window), unique per person, so a code used twice is refused as a replay. Old rows are only
  needed for a minute and are purged by the no-show job.
- venues.no_show_minutes (default 30, 5 to 240): how long after its start a booking nobody
  checked in to is released. Existing venues get 30. On SQLite the column and its CHECK are added
  with one ALTER TABLE (no batch rebuild of venues, which other tables reference).
- booking_occurrences.checked_in_at (local time of the first arrival) and released_at (the
  instant the no-show job freed it; the occurrence is then cancelled). Plain ADD COLUMNs: the
  table is NOT rebuilt, so the no-overlap triggers made by 0005 on SQLite stay as they are.

Downgrade drops what upgrade added (on SQLite the venue and occurrence columns with
ALTER TABLE DROP COLUMN, SQLite 3.35+).

Revision ID: 0015_attendance
Revises: 0010_sessions_signed_in_only
Create Date: 2026-12-06 15:30:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0015_attendance'
down_revision = '0010_sessions_signed_in_only'
branch_labels = None
depends_on = None

METHOD = sa.Enum('qr', 'manual', name='checkinmethod', native_enum=False, create_constraint=True, length=6)


def upgrade():
    op.create_table(
        'attendances',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=True),
        sa.Column('occurrence_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('checked_in_at', sa.DateTime(timezone=False), nullable=False),
        sa.Column('checked_out_at', sa.DateTime(timezone=False), nullable=True),
        sa.Column('check_in_method', METHOD, nullable=False),
        sa.Column('check_out_method', sa.Enum('qr', 'manual', name='checkinmethod', native_enum=False,
                                              create_constraint=True, length=6), nullable=True),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.CheckConstraint('(session_id IS NULL) <> (occurrence_id IS NULL)', name=op.f('ck_attendances_one_target')),
        sa.CheckConstraint('checked_out_at IS NULL OR checked_out_at >= checked_in_at',
                           name=op.f('ck_attendances_out_after_in')),
        sa.ForeignKeyConstraint(['occurrence_id'], ['booking_occurrences.id'],
                                name=op.f('fk_attendances_occurrence_id_booking_occurrences'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_attendances_recorded_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['session_id'], ['task_sessions.id'],
                                name=op.f('fk_attendances_session_id_task_sessions'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_attendances_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_attendances')),
        sa.UniqueConstraint('occurrence_id', 'user_id', name=op.f('uq_attendances_occurrence_id_user_id')),
        sa.UniqueConstraint('session_id', 'user_id', name=op.f('uq_attendances_session_id_user_id')),
    )
    op.create_index(op.f('ix_attendances_user_id'), 'attendances', ['user_id'], unique=False)
    op.create_table(
        'attendance_scans',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code_key', sa.String(length=40), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_attendance_scans_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance_scans')),
        sa.UniqueConstraint('code_key', 'user_id', name=op.f('uq_attendance_scans_code_key_user_id')),
    )
    op.create_index(op.f('ix_attendance_scans_used_at'), 'attendance_scans', ['used_at'], unique=False)

    if op.get_bind().dialect.name == 'sqlite':
        op.execute("ALTER TABLE venues ADD COLUMN no_show_minutes INTEGER DEFAULT '30' NOT NULL "
                   "CONSTRAINT ck_venues_no_show_range CHECK (no_show_minutes >= 5 AND no_show_minutes <= 240)")
    else:
        op.add_column('venues', sa.Column('no_show_minutes', sa.Integer(), server_default='30', nullable=False))
        op.create_check_constraint(op.f('ck_venues_no_show_range'), 'venues',
                                   'no_show_minutes >= 5 AND no_show_minutes <= 240')
    op.add_column('booking_occurrences', sa.Column('checked_in_at', sa.DateTime(timezone=False), nullable=True))
    op.add_column('booking_occurrences', sa.Column('released_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column('booking_occurrences', 'released_at')
    op.drop_column('booking_occurrences', 'checked_in_at')
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint(op.f('ck_venues_no_show_range'), 'venues', type_='check')
    op.drop_column('venues', 'no_show_minutes')
    op.drop_index(op.f('ix_attendance_scans_used_at'), table_name='attendance_scans')
    op.drop_table('attendance_scans')
    op.drop_index(op.f('ix_attendances_user_id'), table_name='attendances')
    op.drop_table('attendances')
