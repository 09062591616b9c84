"""Forms of the registration wizard (one question per page), the profile, the pool and import.

Each wizard form knows how to fill itself from a ProfileData and how to write its answer back
(`fill` / `apply`); the services check the rules when the profile is saved.
"""

from __future__ import annotations

from flask import current_app
from wtforms import (
    BooleanField,
    DateField,
    FileField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, NumberRange, Optional, ValidationError

from app.accounts.forms import phone_field
from app.clock import PERIODS, WEEKDAYS, local_today
from app.forms import BaseForm, PersonName, PlainText, length, options, required, strip
from app.members.models import SKILL_LEVELS, Capacity, ConsentMethod, Gender, slot_bit
from app.members.profile import PeriodInput, SkillInput, oldest_birth_year, youngest_birth_year
from app.regions.gazetteer import resolve

RADII = [1, 3, 5, 10, 20, 50]


def _int(message: str, low: int, high: int):
    return [NumberRange(min=low, max=high, message=message)]


class WizardForm(BaseForm):
    """A page of the wizard. Each page defines `fill(data, meta)`, which shows the saved answer, and
    `apply(data, meta)`, which stores the new one (data: ProfileData; meta: the draft's other
    answers). A page class without them is refused when it is defined."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        missing = [name for name in ("fill", "apply") if not callable(getattr(cls, name, None))]
        if missing:
            raise TypeError(f"wizard page {cls.__name__} must define {' and '.join(missing)}")


class PhoneStepForm(WizardForm):
    phone = phone_field("老同志本人的手机号码（没有可以不填）", optional=True)

    def fill(self, data, meta):
        self.phone.data = meta.get("phone") or ""

    def apply(self, data, meta):
        meta["phone"] = self.phone.data or None


class NameForm(WizardForm):
    name = StringField("姓名", filters=[strip], validators=[
        required("请填写姓名"), length(40, "姓名"), PlainText("姓名", allow_emoji=False), PersonName()],
        render_kw={"autocomplete": "name"})

    def fill(self, data, meta):
        self.name.data = data.name

    def apply(self, data, meta):
        data.name = self.name.data


class GenderForm(WizardForm):
    gender = RadioField("性别", choices=options([(g.value, g.label) for g in Gender], None),
                        validators=[required("请选择性别")])

    def fill(self, data, meta):
        self.gender.data = data.gender.value if data.gender else None

    def apply(self, data, meta):
        data.gender = Gender(self.gender.data)


class BirthYearForm(WizardForm):
    birth_year = IntegerField("出生年份", description="四位数字，例如 1952",
                              validators=[required("请填写出生年份"),
                                          NumberRange(min=oldest_birth_year(), max=2100,
                                                      message="请填写四位数字的出生年份，例如 1952")],
                              render_kw={"inputmode": "numeric", "class": "short", "autocomplete": "bday-year"})

    def validate_birth_year(self, field):
        if field.data and field.data > youngest_birth_year():
            raise ValidationError(f"出生年份应在 {oldest_birth_year()} 年到 {youngest_birth_year()} 年之间")

    def fill(self, data, meta):
        self.birth_year.data = data.birth_year

    def apply(self, data, meta):
        data.birth_year = self.birth_year.data


class HomeForm(WizardForm):
    address = StringField("家庭住址", filters=[strip], validators=[
        required("请填写家庭住址"), length(200, "家庭住址"), PlainText("家庭住址", allow_emoji=False)],
        description="请写上县（市、区），例如：郑州市管城回族区东大街12号。只用来安排就近的服务。",
        render_kw={"autocomplete": "street-address"})

    def validate_address(self, field):
        resolved = resolve(field.data or "", within=current_app.config["HOME_PROVINCE"][:2])
        place = resolved.place
        if resolved.ambiguous:
            raise ValidationError(resolved.reason())
        if place is None or place.level != "county":
            raise ValidationError("没有认出是哪个县（市、区），请把县（市、区）的名字写上，"
                                  "例如：郑州市管城回族区东大街12号")
        self.county_code = place.code

    def fill(self, data, meta):
        self.address.data = data.address

    def apply(self, data, meta):
        data.address, data.county_code = self.address.data, self.county_code


class BranchForm(WizardForm):
    branch = SelectField("所在党支部", choices=[], validate_choice=False,
                         description="找不到您的支部可以先不选，以后再补。")

    def validate_branch(self, field):
        if field.data and field.data not in {c.value for c in field.choices}:
            raise ValidationError("请从列表中选择党支部")

    def fill(self, data, meta):
        self.branch.data = str(data.branch_id) if data.branch_id else ""

    def apply(self, data, meta):
        data.branch_id = int(self.branch.data) if self.branch.data else None


class WorkForm(WizardForm):
    work_unit = StringField("原工作单位（选填）", filters=[strip], validators=[
        length(100, "原工作单位"), PlainText("原工作单位", allow_emoji=False)])
    post = StringField("原职务（选填）", filters=[strip], validators=[
        length(60, "原职务"), PlainText("原职务", allow_emoji=False)])

    def fill(self, data, meta):
        self.work_unit.data, self.post.data = data.work_unit, data.post

    def apply(self, data, meta):
        data.work_unit, data.post = self.work_unit.data or "", self.post.data or ""


class ConsentForm(WizardForm):
    consent = BooleanField("我同意保存我的身体状况和按家庭住址确定的位置，用于推荐适合我、离我近的志愿服务")

    def fill(self, data, meta):
        self.consent.data = data.consent

    def apply(self, data, meta):
        data.consent = bool(self.consent.data)
        if not data.consent:
            data.capacity = None


class ProxyConsentForm(ConsentForm):
    consent = BooleanField("老同志本人同意保存其身体状况和按家庭住址确定的位置")
    consent_method = RadioField("老同志是怎样表示同意的？", choices=options(
        [(m.value, m.label) for m in (ConsentMethod.PAPER, ConsentMethod.SPOKEN)], None),
        validate_choice=False)

    def validate_consent_method(self, field):
        if self.consent.data and field.data not in (ConsentMethod.PAPER.value, ConsentMethod.SPOKEN.value):
            raise ValidationError("请选择老同志是怎样表示同意的")

    def fill(self, data, meta):
        super().fill(data, meta)
        self.consent_method.data = meta.get("consent_method")

    def apply(self, data, meta):
        super().apply(data, meta)
        meta["consent_method"] = self.consent_method.data if data.consent else None


class CapacityForm(WizardForm):
    capacity = RadioField("身体能承担的活动强度", choices=options([(c.value, c.label) for c in Capacity], None),
                          validators=[required("请选择一项")])

    def fill(self, data, meta):
        self.capacity.data = data.capacity.value if data.capacity else None

    def apply(self, data, meta):
        data.capacity = Capacity(self.capacity.data)


class LimitsForm(WizardForm):
    no_night = BooleanField("晚上不方便参加")
    no_outdoor = BooleanField("不参加户外活动")
    max_hours_week = IntegerField("每周最多服务几个小时（选填）", validators=[
        Optional(), *_int("请填写 1 到 60 之间的数字", 1, 60)],
        render_kw={"inputmode": "numeric", "class": "short"})

    def fill(self, data, meta):
        self.no_night.data, self.no_outdoor.data = data.no_night, data.no_outdoor
        self.max_hours_week.data = data.max_hours_week

    def apply(self, data, meta):
        data.no_night, data.no_outdoor = bool(self.no_night.data), bool(self.no_outdoor.data)
        data.max_hours_week = self.max_hours_week.data


class RadiusForm(WizardForm):
    radius_km = RadioField("愿意到离家多远的地方服务", choices=options([(r, f"{r} 公里以内") for r in RADII], None),
                           validators=[required("请选择服务范围")])

    def fill(self, data, meta):
        self.radius_km.data = str(data.radius_km) if data.radius_km in RADII else "5"

    def apply(self, data, meta):
        data.radius_km = int(self.radius_km.data)


# One tap for the common answers: (label, days, parts of the day).
SHORTCUTS = {
    "weekday_mornings": ("工作日上午都行", range(5), (0,)),
    "weekday_afternoons": ("工作日下午都行", range(5), (1,)),
    "weekdays": ("工作日白天都行", range(5), (0, 1)),
    "every_day": ("每天白天都行", range(7), (0, 1)),
}


class AvailabilityForm(WizardForm):
    """Seven days × morning / afternoon / evening, as checkboxes d{day}p{period}; or one of the
    SHORTCUTS, sent by its own button. Someone who said evenings are hard is not shown evenings,
    and an answer leaves them out."""

    shortcut = StringField(validators=[Optional(), AnyOf(list(SHORTCUTS), message="请从按钮中选择")])

    def fill(self, data, meta):
        for day in range(7):
            for period in range(3):
                self[f"d{day}p{period}"].data = bool(data.availability_mask & slot_bit(day, period))

    def apply(self, data, meta):
        mask = 0
        if self.shortcut.data:
            _, days, parts = SHORTCUTS[self.shortcut.data]
            for day in days:
                for period in parts:
                    mask |= slot_bit(day, period)
        else:
            for day in range(7):
                for period in range(3):
                    if self[f"d{day}p{period}"].data and not (period == 2 and data.no_night):
                        mask |= slot_bit(day, period)
        data.availability_mask = mask

    def grid(self, no_night: bool = False):
        parts = range(2) if no_night else range(3)
        return [(WEEKDAYS[d], [self[f"d{d}p{p}"] for p in parts]) for d in range(7)]

    @staticmethod
    def shortcuts():
        return [(key, label) for key, (label, _, _) in SHORTCUTS.items()]


for _d in range(7):
    for _p in range(3):
        setattr(AvailabilityForm, f"d{_d}p{_p}", BooleanField(f"{WEEKDAYS[_d]}{PERIODS[_p]}"))


class PeriodForm(WizardForm):
    """Adds one range of dates the member cannot serve; the page lists those already added."""

    start = DateField("从哪天开始", validators=[Optional()], render_kw={"class": "short"})
    end = DateField("到哪天结束", validators=[Optional()], render_kw={"class": "short"})
    reason = StringField("原因（选填）", filters=[strip], validators=[length(60, "原因"), PlainText("原因")],
                         description="例如：外出、住院、农忙")

    def validate_end(self, field):
        if bool(self.start.data) != bool(field.data):
            raise ValidationError("请把开始和结束日期都填上")
        if self.start.data and field.data and field.data < self.start.data:
            raise ValidationError("结束日期不能早于开始日期")
        if field.data and field.data < local_today():
            raise ValidationError("这段时间已经过去了，不用填")

    def fill(self, data, meta):
        pass

    def apply(self, data, meta):
        if self.start.data:
            data.unavailable.append(PeriodInput(self.start.data, self.end.data, self.reason.data or ""))
            data.unavailable.sort(key=lambda p: p.start)


class SkillForm(WizardForm):
    """Adds one skill; the page lists those already added."""

    skill = SelectField("专长", choices=[], validate_choice=False)
    level = RadioField("掌握程度", choices=options(list(SKILL_LEVELS.items()), None), validate_choice=False)
    years = IntegerField("从事了多少年（选填）", validators=[Optional(), *_int("请填写 0 到 80 之间的数字", 0, 80)],
                         render_kw={"inputmode": "numeric", "class": "short"})
    certificate = StringField("相关证书（选填）", filters=[strip], validators=[
        length(100, "证书名称"), PlainText("证书名称", allow_emoji=False)], description="例如：执业医师证、律师执业证")
    certificate_expires = DateField("证书有效期至（选填）", validators=[Optional()], render_kw={"class": "short"})

    def validate_skill(self, field):
        if field.data and field.data not in {c.value for c in field.choices}:
            raise ValidationError("请从列表中选择专长")

    def validate_level(self, field):
        if self.skill.data and field.data not in ("1", "2", "3"):
            raise ValidationError("请选择掌握程度")

    def fill(self, data, meta):
        pass

    def apply(self, data, meta):
        if not self.skill.data:
            return
        skill_id = int(self.skill.data)
        data.skills = [s for s in data.skills if s.skill_id != skill_id]
        data.skills.append(SkillInput(skill_id, int(self.level.data), self.years.data,
                                      self.certificate.data or None, self.certificate_expires.data))


class PoolForm(WizardForm):
    """Joining the county pool: a question of its own, answered yes or no (meta["join_pool"])."""

    join_pool = RadioField("要不要加入本县（市、区）银发人才库？", choices=options([
        ("yes", "加入。老干部局审核通过后，会在需要时请我出力"),
        ("no", "暂不加入。只看附近的志愿服务，以后想加入再申请")], None), validators=[required("请选择加入或暂不加入")])

    def fill(self, data, meta):
        self.join_pool.data = meta.get("join_pool")

    def apply(self, data, meta):
        meta["join_pool"] = self.join_pool.data


class ProxyPoolForm(PoolForm):
    join_pool = RadioField("老同志要不要加入本县（市、区）银发人才库？", choices=options([
        ("yes", "加入。由我推荐，老干部局审核通过后，会在需要时请他出力"),
        ("no", "暂不加入。以后想加入可以再推荐")], None), validators=[required("请选择加入或暂不加入")])


class SubmitForm(BaseForm):
    """The check page's button: everything it sends was answered on the pages before."""


class ClaimForm(BaseForm):
    code = StringField("认领码", filters=[strip], validators=[required("请填写认领码"), length(30, "认领码")],
                       description="组织者给您的纸条上印着，例如 123-ABCD-EFGH")
    phone = phone_field("您的手机号码")
    password = PasswordField("设置密码", validators=[required("请设置密码")], description="至少 8 个字符。",
                             render_kw={"autocomplete": "new-password"})
    password_confirm = PasswordField("再输入一次密码", validators=[required("请再输入一次密码")],
                                     render_kw={"autocomplete": "new-password"})

    def validate_password_confirm(self, field):
        if self.password.data and field.data != self.password.data:
            raise ValidationError("两次输入的密码不一样，请重新输入")


class ReasonForm(BaseForm):
    note = TextAreaField("原因", filters=[strip], validators=[length(500, "原因"), PlainText("原因", multiline=True)])


class NominateForm(BaseForm):
    level = RadioField("推荐到", choices=[], validate_choice=False)
    reason = TextAreaField("推荐理由", filters=[strip], validators=[
        required("请写明推荐理由"), length(500, "推荐理由"), PlainText("推荐理由", multiline=True)],
        description="例如：退休前从事法律工作三十年，长期参与社区调解。")


class DeleteForm(BaseForm):
    understood = BooleanField("我明白：注销后我的姓名、电话、住址等信息将被删除，无法恢复",
                              validators=[required("请确认您明白注销的后果")])


class SearchForm(BaseForm):
    class Meta:
        csrf = False

    skill = SelectField("专长", choices=[], validate_choice=False)
    min_level = SelectField("最低程度", choices=options([(k, v) for k, v in SKILL_LEVELS.items()], "不限"),
                            validate_choice=False)
    pool_level = SelectField("人才库层级", choices=options([("county", "县级及以上"), ("city", "市级及以上"),
                                                       ("province", "省级")], "不限（含未入库）"),
                             validate_choice=False)
    region = SelectField("地区", choices=[], validate_choice=False)
    free = SelectField("有空的时间", choices=options(
        [(f"{d}-{p}", f"{WEEKDAYS[d]}{PERIODS[p]}") for d in range(7) for p in range(3)], "不限"),
        validate_choice=False)
    capacity = SelectField("能承担的强度", choices=options(
        [(c.value, f"{c.label}及以上") for c in Capacity], "不限"), validate_choice=False)
    near = StringField("离这个地方近（选填）", filters=[strip], validators=[
        Optional(), length(100, "地点"), PlainText("地点", allow_emoji=False)],
        description="写县（市、区）或地址，例如：淅川县")
    within_km = SelectField("范围", choices=options([(r, f"{r} 公里以内") for r in (5, 10, 20, 50, 100)], "不限"),
                            validate_choice=False)
    q = StringField("姓名包含（选填）", filters=[strip], validators=[
        Optional(), length(40, "姓名"), PlainText("姓名", allow_emoji=False)])


class ImportForm(BaseForm):
    file = FileField("名册文件（.xlsx、.xls 或 .csv）", validators=[required("请选择要导入的名册文件")],
                     description="可以是局里现有的名册，也可以用下载的模板填写；最多 100,000 行，15 MB。",
                     render_kw={"accept": ".xlsx,.xls,.csv"})
    mode = RadioField("有错误的行怎么办？", choices=options([
        ("valid", "导入没有错误的行，有错误的行列出来，改好后再导入"),
        ("all", "只要有一行有错误，就全部不导入")], None), default="valid", validators=[required("请选择导入方式")])


class ImportStepForm(BaseForm):
    """A step of an import whose answers are one select per column or per skill, read by the view
    (their number depends on the file); this form carries the CSRF token and the errors."""

    sheet = HiddenField()
    columns = HiddenField()
    skills = HiddenField()
    confirm = HiddenField()


class CategoryForm(BaseForm):
    name = StringField("类别名称", filters=[strip], validators=[
        required("请填写类别名称"), length(40, "类别名称"), PlainText("类别名称", allow_emoji=False)])


class SkillEditForm(BaseForm):
    category = SelectField("所属类别", choices=[], validate_choice=False)
    name = StringField("专长名称", filters=[strip], validators=[
        required("请填写专长名称"), length(40, "专长名称"), PlainText("专长名称", allow_emoji=False)])
    description = StringField("说明（选填）", filters=[strip], validators=[
        length(200, "说明"), PlainText("说明")])
    active = BooleanField("在用（不勾选则停用：不再出现在选择列表中，也不参与推荐）", default=True)

