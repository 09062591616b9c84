"""Task forms: one section of a need per page, invitations, answers and attendance."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import NumberRange, Optional, ValidationError

from app.clock import WEEKDAYS
from app.forms import BaseForm, Finite, PlainText, input_required, length, options, required, strip
from app.members.models import SKILL_LEVELS, Capacity
from app.tasks.models import ScheduleKind, TaskCategory, TaskMode


class BasicsForm(BaseForm):
    organization = SelectField("发布需求的组织", choices=[], validate_choice=False)
    title = StringField("需求名称", filters=[strip], validators=[
        required("请填写需求名称"), length(80, "需求名称"), PlainText("需求名称", allow_emoji=False)],
        description="一句话说清楚，例如：为社区居民提供法律咨询")
    category = RadioField("类别", choices=options([(c.value, c.label) for c in TaskCategory], None),
                          validators=[required("请选择类别")])
    description = TextAreaField("具体要做什么（选填）", filters=[strip], validators=[
        length(2000, "需求说明"), PlainText("需求说明", multiline=True)])

    def validate_organization(self, field):
        if field.choices and field.data not in {c.value for c in field.choices}:
            raise ValidationError("请选择发布需求的组织")


class PlaceForm(BaseForm):
    mode = RadioField("在哪里服务", choices=options([(m.value, m.label) for m in TaskMode], None),
                      validators=[required("请选择在哪里服务")])
    address = StringField("服务地点（到现场时填写）", filters=[strip], validators=[
        length(200, "服务地点"), PlainText("服务地点", allow_emoji=False)],
        description="不填则用本组织的地址。线上服务请不要填。")
    radius_km = IntegerField("从多远的范围内找人（公里）", default=10, validators=[
        Optional(), NumberRange(min=1, max=100, message="招募范围应在 1 到 100 公里之间")],
        render_kw={"inputmode": "numeric", "class": "short"})


class TimeForm(BaseForm):
    kind = RadioField("服务几次", choices=options([(k.value, k.label) for k in ScheduleKind], None),
                      validators=[required("请选择服务几次")])
    first_date = DateField("日期（每周固定时，为开始日期）", validators=[required("请选择日期")],
                           render_kw={"class": "short"})
    last_date = DateField("结束日期（每周固定时填写）", validators=[Optional()], render_kw={"class": "short"})
    start_time = TimeField("开始时间", validators=[required("请填写开始时间")], render_kw={"class": "short"})
    end_time = TimeField("结束时间", validators=[required("请填写结束时间")], render_kw={"class": "short"})

    def weekday_fields(self):
        return [self[f"weekday_{d}"] for d in range(7)]

    @property
    def weekdays(self) -> int:
        return sum(1 << d for d in range(7) if self[f"weekday_{d}"].data)

    def validate_last_date(self, field):
        if self.kind.data == ScheduleKind.WEEKLY.value and not field.data:
            raise ValidationError("每周固定的服务请填写结束日期")


for _d in range(7):
    setattr(TimeForm, f"weekday_{_d}", BooleanField(WEEKDAYS[_d]))


class NeedsForm(BaseForm):
    headcount = IntegerField("需要几个人", validators=[
        input_required("请填写需要几个人"), NumberRange(min=1, max=200, message="需要人数应在 1 到 200 人之间")],
        render_kw={"inputmode": "numeric", "class": "short"})
    demand = RadioField("活动强度", choices=options([(c.value, f"{c.label}：{c.description}") for c in Capacity], None),
                        validators=[required("请选择活动强度")])
    outdoor = BooleanField("主要在户外")


class TaskSkillForm(BaseForm):
    skill = SelectField("需要的专长", choices=[], validate_choice=False)
    min_level = RadioField("至少什么程度", choices=options(list(SKILL_LEVELS.items()), None), validate_choice=False)
    preferred = BooleanField("有更好，没有也行（不勾选则为必须具备）")

    def validate_skill(self, field):
        if field.data and field.data not in {c.value for c in field.choices}:
            raise ValidationError("请从列表中选择专长")

    def validate_min_level(self, field):
        if self.skill.data and field.data not in ("1", "2", "3"):
            raise ValidationError("请选择至少什么程度")


class InviteForm(BaseForm):
    message = TextAreaField("想对老同志说的话（选填）", filters=[strip], validators=[
        length(500, "邀请的话"), PlainText("邀请的话", multiline=True)],
        description="例如：这次咨询在社区二楼，有电梯，大约两个小时。")


class PhoneAnswerForm(BaseForm):
    """The answer a member without a phone account gave on the phone, recorded by an organizer."""

    accept = RadioField("老同志怎么回复的？", choices=options([("1", "去"), ("0", "这次不去")], None),
                        validators=[required("请选择老同志的回复")])
    note = StringField("怎么问到的（选填）", filters=[strip], validators=[length(200, "说明"), PlainText("说明")],
                       description="例如：电话问了本人；支部书记转告。会记入操作记录。")


class CancelForm(BaseForm):
    reason = TextAreaField("取消的原因（参加的老同志会看到）", filters=[strip], validators=[
        required("请写明取消的原因"), length(500, "原因"), PlainText("原因", multiline=True)])


class ApplyForm(BaseForm):
    message = TextAreaField("想对组织者说的话（选填）", filters=[strip], validators=[
        length(500, "留言"), PlainText("留言", multiline=True)])


def attendance_form(assignments, defaults: dict[int, float]):
    """A form with, for each member still to confirm, attended / hours / feedback / reason fields;
    `defaults` is the hours each starts with (assignment id → hours proposed by check-in)."""

    class AttendanceForm(BaseForm):
        pass

    for a in assignments:
        setattr(AttendanceForm, f"attended_{a.id}", BooleanField(f"{a.member.user.name} 参加了", default=True))
        setattr(AttendanceForm, f"hours_{a.id}", DecimalField(
            f"{a.member.user.name} 服务时长（小时）", default=defaults[a.id], places=None,
            validators=[Optional(), Finite(),
                        NumberRange(min=0, max=24, message="服务时长应在 0 到 24 小时之间")],
            render_kw={"inputmode": "decimal", "class": "short"}))
        setattr(AttendanceForm, f"feedback_{a.id}", StringField(
            f"对{a.member.user.name}的评价（选填）", filters=[strip],
            validators=[length(500, "评价"), PlainText("评价")]))
        setattr(AttendanceForm, f"reason_{a.id}", StringField(
            "时长与签到签退不同时，请写明原因", filters=[strip],
            validators=[length(500, "原因"), PlainText("原因")]))
    return AttendanceForm


class CorrectionForm(BaseForm):
    hours = DecimalField("更正后的服务时长（小时）", places=None, validators=[
        input_required("请填写更正后的服务时长"), Finite(),
        NumberRange(min=0, max=24, message="服务时长应在 0 到 24 小时之间")],
        render_kw={"inputmode": "decimal", "class": "short"})
    reason = TextAreaField("更正的原因（老同志会看到）", filters=[strip], validators=[
        required("请写明更正的原因"), length(500, "原因"), PlainText("原因", multiline=True)])
    seen = DecimalField(places=None, validators=[Optional(), Finite()])


__all__ = ["BasicsForm", "PlaceForm", "TimeForm", "NeedsForm", "TaskSkillForm", "InviteForm", "CancelForm",
           "ApplyForm", "attendance_form", "CorrectionForm"]
