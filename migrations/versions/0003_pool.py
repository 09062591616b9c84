"""The silver talent pool: member profiles, skills, availability, the three-level pool with
its append-only history, the skill-location index for matching, drafts and roster imports.

Reviewed by hand: sensitive fields (capacity, a precise location) are allowed only with consent
(CHECK sensitive_needs_consent); one live (nominated or approved) pool entry per member and level
(partial unique index); the covering index of member_skill_index serves the matching query
(skill_id, lat, lon → member_id, level, capacity). The skill taxonomy the bureaus asked for is
loaded here, as data, so every new database starts with it.

Revision ID: 0003_pool
Revises: 0002_notifications
Create Date: 2026-11-27 02:00:41.077756

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_pool'
down_revision = '0002_notifications'
branch_labels = None
depends_on = None


SKILL_TAXONOMY = [
    ('政策宣讲', [
        ('党史宣讲', '讲党史、新中国史，讲身边的红色故事'),
        ('政策解读', '把惠民政策讲明白'),
        ('微党课', '十到二十分钟的小党课'),
        ('红色故事讲述', '在学校、社区讲红色故事'),
    ]),
    ('法律与调解', [
        ('法律咨询', '婚姻、继承、赡养等常见法律问题'),
        ('矛盾纠纷调解', '邻里、家庭纠纷调解'),
        ('普法宣传', '法律知识进社区、进乡村'),
        ('信访接待', '协助接待群众来访'),
    ]),
    ('医疗健康', [
        ('健康咨询', '常见病、慢性病咨询'),
        ('中医养生', '中医保健知识'),
        ('康复护理指导', '居家护理与康复'),
        ('急救知识普及', '心肺复苏、外伤处理'),
    ]),
    ('教育与关心下一代', [
        ('课业辅导', '中小学课业辅导'),
        ('青少年思想教育', '理想信念教育'),
        ('家庭教育指导', '家长课堂'),
        ('书法教学', '青少年书法课'),
    ]),
    ('农业技术', [
        ('种植技术', '粮食、果蔬种植指导'),
        ('养殖技术', '畜禽水产养殖指导'),
        ('农机维修', '农业机械保养维修'),
        ('农产品营销', '电商、合作社经营'),
    ]),
    ('生态与水源保护', [
        ('水质监测', '水源地水质巡查记录'),
        ('河道巡护', '河湖库区巡护'),
        ('植树造林', '绿化、护林'),
        ('垃圾分类宣传', '环保宣传'),
    ]),
    ('文化艺术', [
        ('书法绘画', '书画创作与教学'),
        ('戏曲', '豫剧等地方戏曲'),
        ('文艺演出', '合唱、舞蹈、器乐'),
        ('地方史志编纂', '村史、厂史、地方志'),
    ]),
    ('财务会计', [
        ('财务咨询', '家庭与集体财务咨询'),
        ('集体经济账目审核', '村集体账目监督'),
    ]),
    ('工程建设', [
        ('工程技术咨询', '建设工程技术咨询'),
        ('安全生产检查', '协助安全检查'),
        ('房屋安全排查', '农村危房排查'),
    ]),
    ('社区治理', [
        ('网格协管', '协助网格员入户走访'),
        ('物业纠纷协调', '业委会、物业协调'),
        ('志愿服务组织', '组织志愿活动'),
        ('邻里互助', '结对帮扶独居老人'),
    ]),
    ('为老数字帮扶', [
        ('智能手机教学', '教老年人用手机'),
        ('网上办事指导', '医保、社保网上办理'),
        ('防范电信诈骗宣传', '反诈知识宣传'),
    ]),
]


def _load_taxonomy():
    categories = sa.table("skill_categories", sa.column("id", sa.Integer), sa.column("name", sa.String),
                          sa.column("sort_order", sa.Integer), sa.column("active", sa.Boolean))
    skills = sa.table("skills", sa.column("category_id", sa.Integer), sa.column("name", sa.String),
                      sa.column("description", sa.String), sa.column("sort_order", sa.Integer),
                      sa.column("active", sa.Boolean))
    for cat_order, (category, items) in enumerate(SKILL_TAXONOMY, start=1):
        op.bulk_insert(categories, [{"id": cat_order, "name": category, "sort_order": cat_order, "active": True}])
        op.bulk_insert(skills, [{"category_id": cat_order, "name": name, "description": description,
                                 "sort_order": order, "active": True}
                                for order, (name, description) in enumerate(items, start=1)])
    if op.get_bind().dialect.name == "postgresql":  # explicit ids: move the sequence past them
        op.execute("SELECT setval(pg_get_serial_sequence('skill_categories', 'id'), "
                   "(SELECT MAX(id) FROM skill_categories))")


def upgrade():
    op.create_table('skill_categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_skill_categories')),
    sa.UniqueConstraint('name', name=op.f('uq_skill_categories_name'))
    )
    op.create_table('import_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=True),
    sa.Column('total_rows', sa.Integer(), nullable=False),
    sa.Column('processed_rows', sa.Integer(), nullable=False),
    sa.Column('valid_rows', sa.Integer(), nullable=False),
    sa.Column('error_rows', sa.Integer(), nullable=False),
    sa.Column('blank_rows', sa.Integer(), nullable=False),
    sa.Column('imported_rows', sa.Integer(), nullable=False),
    sa.Column('report', sa.Text(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_import_jobs_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_jobs'))
    )
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_jobs_created_by_id'), ['created_by_id'], unique=False)

    op.create_table('profile_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_profile_drafts_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_profile_drafts')),
    sa.UniqueConstraint('owner_id', 'kind', name=op.f('uq_profile_drafts_owner_id_kind'))
    )
    op.create_table('skills',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['skill_categories.id'], name=op.f('fk_skills_category_id_skill_categories')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_skills')),
    sa.UniqueConstraint('name', name=op.f('uq_skills_name'))
    )
    with op.batch_alter_table('skills', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_skills_category_id'), ['category_id'], unique=False)

    op.create_table('member_profiles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('gender', sa.Enum('male', 'female', name='gender', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('birth_year', sa.Integer(), nullable=True),
    sa.Column('work_unit', sa.String(length=100), nullable=False),
    sa.Column('post', sa.String(length=60), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=True),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('lat', sa.Double(), nullable=False),
    sa.Column('lon', sa.Double(), nullable=False),
    sa.Column('location_precision', sa.Enum('county', 'address', name='locationprecision', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('service_radius_km', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Enum('light', 'moderate', 'heavy', name='capacity', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('no_night', sa.Boolean(), nullable=False),
    sa.Column('no_outdoor', sa.Boolean(), nullable=False),
    sa.Column('max_hours_week', sa.Integer(), nullable=True),
    sa.Column('availability_mask', sa.Integer(), nullable=False),
    sa.Column('consent_version', sa.String(length=20), nullable=True),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('consent_method', sa.Enum('online', 'paper', 'spoken', name='consentmethod', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('consent_taken_by_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('active', 'paused', 'deleted', name='memberstatus', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('registered_by_id', sa.Integer(), nullable=True),
    sa.Column('claim_code_hash', sa.String(length=255), nullable=True),
    sa.Column('claim_code_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("consent_at IS NOT NULL OR (capacity IS NULL AND location_precision = 'county')", name=op.f('ck_member_profiles_sensitive_needs_consent')),
    sa.CheckConstraint('availability_mask >= 0 AND availability_mask < 2097152', name=op.f('ck_member_profiles_availability_bits')),
    sa.CheckConstraint('birth_year IS NULL OR (birth_year BETWEEN 1900 AND 2100)', name=op.f('ck_member_profiles_birth_year_range')),
    sa.CheckConstraint('max_hours_week IS NULL OR (max_hours_week BETWEEN 1 AND 60)', name=op.f('ck_member_profiles_hours_range')),
    sa.CheckConstraint('service_radius_km BETWEEN 1 AND 100', name=op.f('ck_member_profiles_radius_range')),
    sa.ForeignKeyConstraint(['branch_id'], ['organizations.id'], name=op.f('fk_member_profiles_branch_id_organizations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['consent_taken_by_id'], ['users.id'], name=op.f('fk_member_profiles_consent_taken_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['id'], ['users.id'], name=op.f('fk_member_profiles_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_member_profiles_region_code_regions')),
    sa.ForeignKeyConstraint(['registered_by_id'], ['users.id'], name=op.f('fk_member_profiles_registered_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_profiles'))
    )
    with op.batch_alter_table('member_profiles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_profiles_branch_id'), ['branch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_member_profiles_region_code'), ['region_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_member_profiles_status'), ['status'], unique=False)

    op.create_table('member_skill_index',
    sa.Column('skill_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('lat', sa.Double(), nullable=False),
    sa.Column('lon', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member_profiles.id'], name=op.f('fk_member_skill_index_member_id_member_profiles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['skill_id'], ['skills.id'], name=op.f('fk_member_skill_index_skill_id_skills')),
    sa.PrimaryKeyConstraint('skill_id', 'member_id', name=op.f('pk_member_skill_index'))
    )
    with op.batch_alter_table('member_skill_index', schema=None) as batch_op:
        batch_op.create_index('ix_member_skill_index_covering', ['skill_id', 'lat', 'lon', 'member_id', 'level', 'capacity'], unique=False)
        batch_op.create_index(batch_op.f('ix_member_skill_index_member_id'), ['member_id'], unique=False)

    op.create_table('member_skills',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('skill_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('years', sa.Integer(), nullable=True),
    sa.Column('certificate', sa.String(length=100), nullable=True),
    sa.Column('certificate_expires', sa.Date(), nullable=True),
    sa.CheckConstraint('level BETWEEN 1 AND 3', name=op.f('ck_member_skills_level_range')),
    sa.CheckConstraint('years IS NULL OR (years BETWEEN 0 AND 80)', name=op.f('ck_member_skills_years_range')),
    sa.ForeignKeyConstraint(['member_id'], ['member_profiles.id'], name=op.f('fk_member_skills_member_id_member_profiles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['skill_id'], ['skills.id'], name=op.f('fk_member_skills_skill_id_skills')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_skills')),
    sa.UniqueConstraint('member_id', 'skill_id', name=op.f('uq_member_skills_member_id_skill_id'))
    )
    with op.batch_alter_table('member_skills', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_skills_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_member_skills_skill_id'), ['skill_id'], unique=False)

    op.create_table('pool_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Enum('county', 'city', 'province', name='poollevel', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('status', sa.Enum('nominated', 'approved', 'rejected', 'withdrawn', name='entrystatus', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('origin', sa.Enum('applied', 'nominated', name='entryorigin', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('basis_id', sa.Integer(), nullable=True),
    sa.Column('nominated_by_id', sa.Integer(), nullable=True),
    sa.Column('nominated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=False),
    sa.Column('withdrawn_by_id', sa.Integer(), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawal_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['basis_id'], ['pool_entries.id'], name=op.f('fk_pool_entries_basis_id_pool_entries')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_pool_entries_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['member_id'], ['member_profiles.id'], name=op.f('fk_pool_entries_member_id_member_profiles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['nominated_by_id'], ['users.id'], name=op.f('fk_pool_entries_nominated_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_pool_entries_region_code_regions')),
    sa.ForeignKeyConstraint(['withdrawn_by_id'], ['users.id'], name=op.f('fk_pool_entries_withdrawn_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pool_entries'))
    )
    with op.batch_alter_table('pool_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pool_entries_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pool_entries_region_code'), ['region_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_pool_entries_status'), ['status'], unique=False)
        batch_op.create_index('uq_pool_entries_live', ['member_id', 'level'], unique=True, sqlite_where=sa.text("status IN ('nominated', 'approved')"), postgresql_where=sa.text("status IN ('nominated', 'approved')"))

    op.create_table('unavailable_periods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=60), nullable=False),
    sa.CheckConstraint('end_date >= start_date', name=op.f('ck_unavailable_periods_ordered')),
    sa.ForeignKeyConstraint(['member_id'], ['member_profiles.id'], name=op.f('fk_unavailable_periods_member_id_member_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unavailable_periods'))
    )
    with op.batch_alter_table('unavailable_periods', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unavailable_periods_member_id'), ['member_id'], unique=False)

    op.create_table('pool_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_pool_events_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['entry_id'], ['pool_entries.id'], name=op.f('fk_pool_events_entry_id_pool_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pool_events'))
    )
    with op.batch_alter_table('pool_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pool_events_entry_id'), ['entry_id'], unique=False)

    _load_taxonomy()



def downgrade():
    with op.batch_alter_table('pool_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pool_events_entry_id'))

    op.drop_table('pool_events')
    with op.batch_alter_table('unavailable_periods', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unavailable_periods_member_id'))

    op.drop_table('unavailable_periods')
    with op.batch_alter_table('pool_entries', schema=None) as batch_op:
        batch_op.drop_index('uq_pool_entries_live', sqlite_where=sa.text("status IN ('nominated', 'approved')"), postgresql_where=sa.text("status IN ('nominated', 'approved')"))
        batch_op.drop_index(batch_op.f('ix_pool_entries_status'))
        batch_op.drop_index(batch_op.f('ix_pool_entries_region_code'))
        batch_op.drop_index(batch_op.f('ix_pool_entries_member_id'))

    op.drop_table('pool_entries')
    with op.batch_alter_table('member_skills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_skills_skill_id'))
        batch_op.drop_index(batch_op.f('ix_member_skills_member_id'))

    op.drop_table('member_skills')
    with op.batch_alter_table('member_skill_index', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_skill_index_member_id'))
        batch_op.drop_index('ix_member_skill_index_covering')

    op.drop_table('member_skill_index')
    with op.batch_alter_table('member_profiles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_profiles_status'))
        batch_op.drop_index(batch_op.f('ix_member_profiles_region_code'))
        batch_op.drop_index(batch_op.f('ix_member_profiles_branch_id'))

    op.drop_table('member_profiles')
    with op.batch_alter_table('skills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_skills_category_id'))

    op.drop_table('skills')
    op.drop_table('profile_drafts')
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_jobs_created_by_id'))

    op.drop_table('import_jobs')
    op.drop_table('skill_categories')
