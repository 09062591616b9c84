"""Venues, opening hours, closures, activity packages, bookings and their occurrences.

Reviewed and edited by hand:

- No double booking: no two slot-holding (pending or approved) occurrences of one venue overlap,
  intervals being half-open [start_at, end_at) of naive local wall time (Asia/Shanghai).
  PostgreSQL: an exclusion constraint over (venue_id WITH =, tsrange(start_at, end_at, '[)') WITH &&)
  with btree_gist (for the integer's equality in a GiST index). It is declared on the model for
  PostgreSQL only, so autogenerate renders it; it is created here with plain SQL after the table
  so that the same create_table serves SQLite. SQLite: BEFORE INSERT and BEFORE UPDATE triggers that
  abort with 'booking_occurrences_no_overlap' on an overlap (string comparison of SQLAlchemy's
  fixed-width ISO text is time order). The services also serialise booking writes there with
  BEGIN IMMEDIATE.
  A later *batch* migration of booking_occurrences on SQLite recreates the table and loses the
  triggers: such a migration must create them again (see create_sqlite_triggers below).
- btree_gist is left installed on downgrade: other schemas in the database may use it.
- role_grants.venue_id, there since 0001_foundation, gets its foreign key to venues (CASCADE: a
  deleted venue takes its manager grants with it).

Revision ID: 0005_venues
Revises: 0004_tasks
Create Date: 2026-11-27 01:58:59.779047

"""
from alembic import op
import sqlalchemy as sa

SLOT_HOLDING = "status IN ('pending', 'approved')"
OVERLAP = f"""
    SELECT RAISE(ABORT, 'booking_occurrences_no_overlap')
    WHERE EXISTS (SELECT 1 FROM booking_occurrences AS o
                  WHERE o.venue_id = NEW.venue_id AND o.{SLOT_HOLDING}
                    AND o.start_at < NEW.end_at AND NEW.start_at < o.end_at{{other}});
"""


def create_sqlite_triggers():
    op.execute(f"""
CREATE TRIGGER booking_occurrences_no_overlap_insert
BEFORE INSERT ON booking_occurrences
FOR EACH ROW WHEN NEW.{SLOT_HOLDING}
BEGIN{OVERLAP.format(other='')}END""")
    op.execute(f"""
CREATE TRIGGER booking_occurrences_no_overlap_update
BEFORE UPDATE OF venue_id, start_at, end_at, status ON booking_occurrences
FOR EACH ROW WHEN NEW.{SLOT_HOLDING}
BEGIN{OVERLAP.format(other=' AND o.id <> NEW.id')}END""")

# revision identifiers, used by Alembic.
revision = '0005_venues'
down_revision = '0004_tasks'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calendar_feeds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_calendar_feeds_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_calendar_feeds_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_feeds')),
    sa.UniqueConstraint('organization_id', name=op.f('uq_calendar_feeds_organization_id')),
    sa.UniqueConstraint('token', name=op.f('uq_calendar_feeds_token'))
    )
    op.create_table('venues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.Enum('political_life_hall', 'shared_home', 'education_base', name='venuekind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('lat', sa.Double(), nullable=False),
    sa.Column('lon', sa.Double(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('contact_phone', sa.String(length=20), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('closed_on_holidays', sa.Boolean(), nullable=False),
    sa.Column('min_lead_hours', sa.Integer(), nullable=False),
    sa.Column('horizon_days', sa.Integer(), nullable=False),
    sa.Column('feed_token', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['operator_id'], ['organizations.id'], name=op.f('fk_venues_operator_id_organizations')),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_venues_region_code_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_venues')),
    sa.UniqueConstraint('feed_token', name=op.f('uq_venues_feed_token')),
    sa.UniqueConstraint('region_code', 'name', name=op.f('uq_venues_region_code_name'))
    )
    with op.batch_alter_table('venues', schema=None) as batch_op:
        batch_op.create_index('ix_venues_lat_lon', ['lat', 'lon'], unique=False)
        batch_op.create_index(batch_op.f('ix_venues_operator_id'), ['operator_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_venues_region_code'), ['region_code'], unique=False)

    op.create_table('activity_packages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('provides', sa.String(length=300), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('max_participants', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('duration_minutes >= 15 AND duration_minutes <= 720', name=op.f('ck_activity_packages_duration_range')),
    sa.CheckConstraint('max_participants > 0', name=op.f('ck_activity_packages_max_participants_positive')),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_activity_packages_venue_id_venues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_packages'))
    )
    with op.batch_alter_table('activity_packages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activity_packages_venue_id'), ['venue_id'], unique=False)

    op.create_table('closures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=100), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('first_day <= last_day', name=op.f('ck_closures_ordered')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_closures_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_closures_venue_id_venues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_closures'))
    )
    with op.batch_alter_table('closures', schema=None) as batch_op:
        batch_op.create_index('ix_closures_venue_id_last_day', ['venue_id', 'last_day'], unique=False)

    op.create_table('opening_hours',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('opens', sa.Time(), nullable=False),
    sa.Column('closes', sa.Time(), nullable=False),
    sa.CheckConstraint('opens < closes', name=op.f('ck_opening_hours_opens_before_closes')),
    sa.CheckConstraint('weekday >= 0 AND weekday <= 6', name=op.f('ck_opening_hours_weekday_range')),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_opening_hours_venue_id_venues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opening_hours')),
    sa.UniqueConstraint('venue_id', 'weekday', 'opens', name=op.f('uq_opening_hours_venue_id_weekday_opens'))
    )
    op.create_table('venue_facilities',
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('facility', sa.Enum('accessible_entrance', 'lift', 'accessible_toilet', 'projector', 'sound_system', 'oath_wall', 'parking', 'air_conditioning', name='facility', native_enum=False, create_constraint=True), nullable=False),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_venue_facilities_venue_id_venues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('venue_id', 'facility', name=op.f('pk_venue_facilities'))
    )
    op.create_table('bookings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('booked_by_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=80), nullable=False),
    sa.Column('activity', sa.Enum('theme_party_day', 'three_meetings', 'micro_lecture', 'political_birthday', 'organizational_life', 'other', name='activitytype', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('package_id', sa.Integer(), nullable=True),
    sa.Column('attendees', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('recurrence', sa.String(length=200), nullable=True),
    sa.Column('status', sa.Enum('pending', 'approved', 'rejected', 'cancelled', name='bookingstatus', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('attendees > 0', name=op.f('ck_bookings_attendees_positive')),
    sa.ForeignKeyConstraint(['booked_by_id'], ['users.id'], name=op.f('fk_bookings_booked_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_bookings_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_bookings_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['package_id'], ['activity_packages.id'], name=op.f('fk_bookings_package_id_activity_packages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_bookings_venue_id_venues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bookings'))
    )
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bookings_booked_by_id'), ['booked_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bookings_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bookings_venue_id'), ['venue_id'], unique=False)

    op.create_table('package_facilities',
    sa.Column('package_id', sa.Integer(), nullable=False),
    sa.Column('facility', sa.Enum('accessible_entrance', 'lift', 'accessible_toilet', 'projector', 'sound_system', 'oath_wall', 'parking', 'air_conditioning', name='facility', native_enum=False, create_constraint=True), nullable=False),
    sa.ForeignKeyConstraint(['package_id'], ['activity_packages.id'], name=op.f('fk_package_facilities_package_id_activity_packages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('package_id', 'facility', name=op.f('pk_package_facilities'))
    )
    op.create_table('booking_hosts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('attendees', sa.Integer(), nullable=False),
    sa.CheckConstraint('attendees > 0', name=op.f('ck_booking_hosts_attendees_positive')),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_booking_hosts_booking_id_bookings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_booking_hosts_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_hosts')),
    sa.UniqueConstraint('booking_id', 'organization_id', name=op.f('uq_booking_hosts_booking_id_organization_id'))
    )
    with op.batch_alter_table('booking_hosts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_hosts_organization_id'), ['organization_id'], unique=False)

    op.create_table('booking_occurrences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('start_at', sa.DateTime(), nullable=False),
    sa.Column('end_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'approved', 'rejected', 'cancelled', name='bookingstatus', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('cancelled_by_id', sa.Integer(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.String(length=300), nullable=False),
    sa.CheckConstraint('start_at < end_at', name=op.f('ck_booking_occurrences_start_before_end')),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_booking_occurrences_booking_id_bookings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['cancelled_by_id'], ['users.id'], name=op.f('fk_booking_occurrences_cancelled_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_booking_occurrences_venue_id_venues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_occurrences'))
    )
    with op.batch_alter_table('booking_occurrences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_occurrences_booking_id'), ['booking_id'], unique=False)
        batch_op.create_index('ix_booking_occurrences_venue_id_start_at', ['venue_id', 'start_at'], unique=False)

    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(f"""
ALTER TABLE booking_occurrences ADD CONSTRAINT ex_booking_occurrences_no_overlap
EXCLUDE USING gist (venue_id WITH =, tsrange(start_at, end_at, '[)') WITH &&) WHERE ({SLOT_HOLDING})""")
    elif dialect == "sqlite":
        create_sqlite_triggers()

    with op.batch_alter_table('role_grants', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_role_grants_venue_id_venues'), 'venues', ['venue_id'], ['id'], ondelete='CASCADE')



def downgrade():
    with op.batch_alter_table('role_grants', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_role_grants_venue_id_venues'), type_='foreignkey')

    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("ALTER TABLE booking_occurrences DROP CONSTRAINT ex_booking_occurrences_no_overlap")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER booking_occurrences_no_overlap_update")
        op.execute("DROP TRIGGER booking_occurrences_no_overlap_insert")

    with op.batch_alter_table('booking_occurrences', schema=None) as batch_op:
        batch_op.drop_index('ix_booking_occurrences_venue_id_start_at')
        batch_op.drop_index(batch_op.f('ix_booking_occurrences_booking_id'))

    op.drop_table('booking_occurrences')
    with op.batch_alter_table('booking_hosts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_booking_hosts_organization_id'))

    op.drop_table('booking_hosts')
    op.drop_table('package_facilities')
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bookings_venue_id'))
        batch_op.drop_index(batch_op.f('ix_bookings_organization_id'))
        batch_op.drop_index(batch_op.f('ix_bookings_booked_by_id'))

    op.drop_table('bookings')
    op.drop_table('venue_facilities')
    op.drop_table('opening_hours')
    with op.batch_alter_table('closures', schema=None) as batch_op:
        batch_op.drop_index('ix_closures_venue_id_last_day')

    op.drop_table('closures')
    with op.batch_alter_table('activity_packages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activity_packages_venue_id'))

    op.drop_table('activity_packages')
    with op.batch_alter_table('venues', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_venues_region_code'))
        batch_op.drop_index(batch_op.f('ix_venues_operator_id'))
        batch_op.drop_index('ix_venues_lat_lon')

    op.drop_table('venues')
    op.drop_table('calendar_feeds')
