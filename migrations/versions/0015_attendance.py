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

- service_records becomes an append-only ledger: proposed_hours (from check-in and check-out),
  reason, corrects_id (a correction points at the confirmed entry it corrects and holds the
  difference, which may be negative). The unique (assignment_id, session_id) becomes a partial
  unique index over confirmed entries only (corrects_id IS NULL); the hours CHECK allows a
  negative difference for corrections only. On SQLite the table is rebuilt (batch), nothing
  references it yet. A trigger on both databases refuses any UPDATE that changes hours or
  attended: confirmed hours are locked (service_records_locked).
- certificates (proofs of service: random unique number, issuing organization, period, total,
  revocation) and certificate_records (the entries a proof counted, with their hours then).
- volunteer_trainings and volunteer_commendations: the training and commendation blocks of a
  volunteer record (《志愿服务记录与证明出具办法》), recorded by staff.

Downgrade drops what upgrade added (on SQLite the venue and occurrence columns with
ALTER TABLE DROP COLUMN, SQLite 3.35+).

Revision ID: 0015_attendance
Revises: 0014_dashboard_figures
Create Date: 2026-12-06 15:30:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0015_attendance'
down_revision = '0014_dashboard_figures'
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
        sa.Column('check_out_method', sa.Enum('qr', 'manual', name='checkoutmethod', native_enum=False,
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

    with op.batch_alter_table('service_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proposed_hours', sa.Numeric(precision=5, scale=2, asdecimal=False),
                                      nullable=True))
        batch_op.add_column(sa.Column('reason', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('corrects_id', sa.Integer(), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_service_records_assignment_id_session_id'), type_='unique')
        batch_op.drop_constraint(batch_op.f('ck_service_records_hours_range'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_service_records_hours_range'), 'hours >= -24 AND hours <= 24 AND (corrects_id IS NOT NULL OR hours >= 0)')
        batch_op.create_foreign_key(batch_op.f('fk_service_records_corrects_id_service_records'), 'service_records',
                                    ['corrects_id'], ['id'], ondelete='CASCADE')
        batch_op.create_index('ix_service_records_corrects_id', ['corrects_id'], unique=False)
    op.create_index('uq_service_records_original', 'service_records', ['assignment_id', 'session_id'], unique=True,
                    sqlite_where=sa.text('corrects_id IS NULL'), postgresql_where=sa.text('corrects_id IS NULL'))
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("""
            CREATE TRIGGER service_records_locked BEFORE UPDATE OF hours, attended ON service_records
            WHEN NEW.hours IS NOT OLD.hours OR NEW.attended IS NOT OLD.attended
            BEGIN SELECT RAISE(ABORT, 'service_records_locked: confirmed hours are corrected by a new entry'); END
        """)
    else:
        op.execute("""
            CREATE FUNCTION service_records_locked() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION 'service_records_locked: confirmed hours are corrected by a new entry'
                USING ERRCODE = 'integrity_constraint_violation';
            END $$
        """)
        op.execute("""
            CREATE TRIGGER service_records_locked BEFORE UPDATE OF hours, attended ON service_records
            FOR EACH ROW WHEN (NEW.hours IS DISTINCT FROM OLD.hours OR NEW.attended IS DISTINCT FROM OLD.attended)
            EXECUTE FUNCTION service_records_locked()
        """)

    op.create_table(
        'certificates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=24), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('period_end', sa.Date(), nullable=False),
        sa.Column('total_hours', sa.Numeric(precision=7, scale=2, asdecimal=False), nullable=False),
        sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('issued_by_id', sa.Integer(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoke_reason', sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_certificates_issued_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['member_id'], ['member_profiles.id'],
                                name=op.f('fk_certificates_member_id_member_profiles'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                name=op.f('fk_certificates_organization_id_organizations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_certificates')),
        sa.UniqueConstraint('number', name=op.f('uq_certificates_number')),
    )
    op.create_index(op.f('ix_certificates_member_id'), 'certificates', ['member_id'], unique=False)
    op.create_index(op.f('ix_certificates_organization_id'), 'certificates', ['organization_id'], unique=False)
    op.create_table(
        'certificate_records',
        sa.Column('certificate_id', sa.Integer(), nullable=False),
        sa.Column('record_id', sa.Integer(), nullable=False),
        sa.Column('served_on', sa.Date(), nullable=False),
        sa.Column('activity', sa.String(length=80), nullable=False),
        sa.Column('hours', sa.Numeric(precision=5, scale=2, asdecimal=False), nullable=False),
        sa.ForeignKeyConstraint(['certificate_id'], ['certificates.id'],
                                name=op.f('fk_certificate_records_certificate_id_certificates'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['record_id'], ['service_records.id'],
                                name=op.f('fk_certificate_records_record_id_service_records'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('certificate_id', 'record_id', name=op.f('pk_certificate_records')),
    )
    op.create_index('ix_certificate_records_record_id', 'certificate_records', ['record_id'], unique=False)

    op.create_table(
        'volunteer_trainings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('trained_on', sa.Date(), nullable=False),
        sa.Column('hours', sa.Numeric(precision=5, scale=1, asdecimal=False), nullable=False),
        sa.Column('provider', sa.String(length=100), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('hours > 0 AND hours <= 200', name=op.f('ck_volunteer_trainings_hours_range')),
        sa.ForeignKeyConstraint(['member_id'], ['member_profiles.id'],
                                name=op.f('fk_volunteer_trainings_member_id_member_profiles'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'],
                                name=op.f('fk_volunteer_trainings_recorded_by_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_trainings')),
    )
    op.create_index(op.f('ix_volunteer_trainings_member_id'), 'volunteer_trainings', ['member_id'], unique=False)
    op.create_table(
        'volunteer_commendations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=100), nullable=False),
        sa.Column('level', sa.Enum('national', 'province', 'city', 'county', 'other', name='commendationlevel',
                                   native_enum=False, create_constraint=True, length=8), nullable=False),
        sa.Column('awarded_by', sa.String(length=100), nullable=False),
        sa.Column('awarded_on', sa.Date(), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['member_id'], ['member_profiles.id'],
                                name=op.f('fk_volunteer_commendations_member_id_member_profiles'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'],
                                name=op.f('fk_volunteer_commendations_recorded_by_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_commendations')),
    )
    op.create_index(op.f('ix_volunteer_commendations_member_id'), 'volunteer_commendations', ['member_id'],
                    unique=False)


def downgrade():
    op.drop_index(op.f('ix_volunteer_commendations_member_id'), table_name='volunteer_commendations')
    op.drop_table('volunteer_commendations')
    op.drop_index(op.f('ix_volunteer_trainings_member_id'), table_name='volunteer_trainings')
    op.drop_table('volunteer_trainings')
    op.drop_index('ix_certificate_records_record_id', table_name='certificate_records')
    op.drop_table('certificate_records')
    op.drop_index(op.f('ix_certificates_organization_id'), table_name='certificates')
    op.drop_index(op.f('ix_certificates_member_id'), table_name='certificates')
    op.drop_table('certificates')
    op.execute("DROP TRIGGER IF EXISTS service_records_locked" +
               ("" if op.get_bind().dialect.name == 'sqlite' else " ON service_records"))
    if op.get_bind().dialect.name != 'sqlite':
        op.execute("DROP FUNCTION IF EXISTS service_records_locked()")
    op.execute("DELETE FROM service_records WHERE corrects_id IS NOT NULL")
    op.drop_index('uq_service_records_original', table_name='service_records')
    with op.batch_alter_table('service_records', schema=None) as batch_op:
        batch_op.drop_index('ix_service_records_corrects_id')
        batch_op.drop_constraint(batch_op.f('fk_service_records_corrects_id_service_records'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('ck_service_records_hours_range'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_service_records_hours_range'), 'hours >= 0 AND hours <= 24')
        batch_op.create_unique_constraint(batch_op.f('uq_service_records_assignment_id_session_id'), ['assignment_id', 'session_id'])
        batch_op.drop_column('corrects_id')
        batch_op.drop_column('reason')
        batch_op.drop_column('proposed_hours')
    op.drop_column('booking_occurrences', 'released_at')
    op.drop_column('booking_occurrences', 'checked_in_at')
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint(op.f('ck_venues_no_show_range'), 'venues', type_='check')
    op.drop_column('venues', 'no_show_minutes')
    op.drop_index(op.f('ix_attendance_scans_used_at'), table_name='attendance_scans')
    op.drop_table('attendance_scans')
    op.drop_index(op.f('ix_attendances_user_id'), table_name='attendances')
    op.drop_table('attendances')
