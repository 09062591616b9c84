"""Venue and booking forms: shape and format only; every rule is in services."""

from __future__ import annotations

import re
from datetime import datetime, time

from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from app.bookings.models import ActivityType
from app.clock import WEEKDAYS
from app.forms import BaseForm, Finite, PlainText, input_required, length, options, required, strip
from app.venues.models import Facility, VenueKind

KINDS = [(k.value, k.label) for k in VenueKind]
FACILITIES = [(f.value, f.label) for f in Facility]
ACTIVITIES = [(a.value, a.label) for a in ActivityType]
NUMBER = {"inputmode": "numeric", "class": "short"}


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def time_choices(first: time = time(6, 0), last: time = time(22, 0)) -> list[tuple[str, str]]:
    """Quarter hours from first to last, as ("08:30", "8:30")."""
    result, minutes = [], first.hour * 60 + first.minute
    while minutes <= last.hour * 60 + last.minute:
        result.append((f"{minutes // 60:02d}:{minutes % 60:02d}", f"{minutes // 60}:{minutes % 60:02d}"))
        minutes += 15
    return result


def parse_hm(value: str) -> time:
    return datetime.strptime(value, "%H:%M").time()


def date_field(label: str, message: str = "请选择日期", **kw) -> DateField:
    return DateField(label, validators=[required(message)], format="%Y-%m-%d", **kw)


# --- booking: a short wizard, one form whose fields are asked step by step ----------------------

# One question a page: when, what, which package (only where the venue offers any), how many
# people, whether it repeats; then the check page, which also takes a note for the manager.
STEPS = ["time", "activity", "package", "people", "repeat", "confirm"]
STEP_TITLES = {"time": "选择时间", "activity": "办什么活动？", "package": "要不要选活动套餐？",
               "people": "有多少人参加？", "repeat": "是否重复", "confirm": "核对并提交"}
STEP_FIELDS = {
    "time": ["date", "start", "end"],
    "activity": ["organization", "activity", "title"],
    "package": ["package"],
    "people": ["attendees", "co_host_1", "co_attendees_1", "co_host_2", "co_attendees_2", "co_host_3",
               "co_attendees_3"],
    "repeat": ["repeat", "interval", "weekdays", "monthly", "until"],
    "confirm": ["note", "skip_conflicts"],
}


class BookingForm(BaseForm):
    step = HiddenField(default="time")

    date = date_field("日期", "请选择活动的日期", description="例如：2026年12月4日")
    start = SelectField("开始时间", validators=[required("请选择开始时间")])
    end = SelectField("结束时间", validators=[required("请选择结束时间")])

    organization = SelectField("预约单位", validators=[required("请选择为哪个组织预约")], validate_choice=False)
    activity = RadioField("活动类型", choices=options(ACTIVITIES, None), validators=[required("请选择活动类型")])
    title = StringField("活动主题", filters=[strip],
                        validators=[required("请填写活动主题"), length(80, "活动主题"),
                                    PlainText("活动主题", allow_emoji=False)],
                        description="例如：“向党说句心里话”主题党日")
    package = RadioField("活动套餐（选填）", choices=[], validate_choice=False, default="")
    attendees = IntegerField("本单位参加人数", validators=[input_required("请填写参加人数（至少 1 人）"),
                                                         NumberRange(min=1, message="参加人数至少 1 人")],
                             render_kw=NUMBER)
    co_host_1 = SelectField("联合主办支部一", validate_choice=False, default="")
    co_attendees_1 = IntegerField("支部一参加人数", validators=[Optional()], render_kw=NUMBER)
    co_host_2 = SelectField("联合主办支部二", validate_choice=False, default="")
    co_attendees_2 = IntegerField("支部二参加人数", validators=[Optional()], render_kw=NUMBER)
    co_host_3 = SelectField("联合主办支部三", validate_choice=False, default="")
    co_attendees_3 = IntegerField("支部三参加人数", validators=[Optional()], render_kw=NUMBER)
    note = TextAreaField("给场地管理员的话（选填）", filters=[strip],
                         validators=[length(500, "备注"), PlainText("备注", multiline=True)])

    repeat = RadioField("是否重复", choices=options([("none", "不重复，只约这一次"), ("weekly", "每周重复"),
                                                     ("monthly", "每月重复")], None), default="none",
                        validators=[required("请选择是否重复")])
    interval = SelectField("隔几周（每周重复时）", choices=options([(1, "每周"), (2, "每两周"), (3, "每三周"), (4, "每四周")], None),
                           default="1")
    weekdays = MultiCheckboxField("每周的哪几天（每周重复时）", choices=options(list(enumerate(WEEKDAYS)), None),
                                  validate_choice=False)
    monthly = RadioField("每月的哪一天（每月重复时）", choices=[], validate_choice=False, default="")
    until = DateField("重复到哪天为止", validators=[Optional()], format="%Y-%m-%d",
                      description="不填则重复到可以预约的最后一天")

    skip_conflicts = BooleanField("跳过已被预约的日期，只预约其余日期")

    def validate_end(self, field):
        if self.start.data and field.data and field.data <= self.start.data:
            raise ValidationError("结束时间要晚于开始时间")

    def validate_weekdays(self, field):
        field.data = [d for d in field.data or [] if d]
        if self.repeat.data == "weekly" and not field.data:
            raise ValidationError("请选择每周的哪几天")
        if any(d not in {str(i) for i in range(7)} for d in field.data):
            raise ValidationError("请从列表中选择")

    def validate_monthly(self, field):
        if self.repeat.data == "monthly" and field.data not in ("day", "nth"):
            raise ValidationError("请选择每月的哪一天")

    def validate_co_attendees_1(self, field):
        self._co_host_pair(self.co_host_1, field)

    def validate_co_attendees_2(self, field):
        self._co_host_pair(self.co_host_2, field)

    def validate_co_attendees_3(self, field):
        self._co_host_pair(self.co_host_3, field)

    @staticmethod
    def _co_host_pair(host, count):
        if host.data and not count.data:
            raise ValidationError("请填写这个支部的参加人数（至少 1 人）")
        if count.data is not None and count.data < 1 and host.data:
            raise ValidationError("参加人数至少 1 人")

    def validate_steps(self, last: str) -> bool:
        """Validate the CSRF token and the fields of every step up to `last`; later steps'
        fields are not asked yet."""
        names = {"csrf_token"}
        for step in STEPS[: STEPS.index(last) + 1]:
            names.update(STEP_FIELDS[step])
        ok = True
        for name, field in self._fields.items():
            if name not in names:
                continue
            inline = getattr(self.__class__, f"validate_{name}", None)
            ok = field.validate(self, [inline] if inline else []) and ok
        return ok

    def start_end(self) -> tuple[datetime, datetime]:
        day = self.date.data
        return (datetime.combine(day, parse_hm(self.start.data)), datetime.combine(day, parse_hm(self.end.data)))


# --- finding a venue ---------------------------------------------------------------------------------


class FindForm(BaseForm):
    class Meta:
        csrf = False  # a GET search

    near = StringField("在哪里附近", filters=[strip], validators=[Optional(), length(60, "地点"), PlainText("地点")],
                       description="写县（市、区）或地址，例如：管城回族区、淅川县")
    radius = SelectField("距离", choices=options([(5, "5 公里以内"), (10, "10 公里以内"), (30, "30 公里以内"),
                                                   (100, "100 公里以内")], "不限"), default="", validate_choice=False)
    kind = SelectField("场地类型", choices=options(KINDS, "全部类型"), validate_choice=False, default="")
    capacity = IntegerField("至少能坐多少人", validators=[Optional(), NumberRange(min=1, max=100_000, message="请填 1 到 100000 之间的人数")],
                            render_kw=NUMBER)
    facilities = MultiCheckboxField("需要的设施", choices=options(FACILITIES, None), validate_choice=False)
    date = DateField("哪天有空（选填）", validators=[Optional()], format="%Y-%m-%d")
    start = SelectField("从几点", choices=options(time_choices(), "不限"), validate_choice=False, default="")
    end = SelectField("到几点", choices=options(time_choices(), "不限"), validate_choice=False, default="")

    def validate_end(self, field):
        if self.start.data and field.data and field.data <= self.start.data:
            raise ValidationError("结束时间要晚于开始时间")

    def validate_date(self, field):
        if field.data and not (self.start.data and self.end.data):
            raise ValidationError("查哪天有空时，请同时选择从几点到几点")


# --- managing a venue ---------------------------------------------------------------------------------


class VenueForm(BaseForm):
    name = StringField("场地名称", filters=[strip], validators=[required("请填写场地名称"), length(80, "场地名称"),
                                                              PlainText("场地名称", allow_emoji=False)],
                       description="例如：管城回族区东大街街道老党员共享家园")
    kind = SelectField("类型", choices=options(KINDS), validators=[required("请选择场地类型")])
    operator = SelectField("运营单位", validators=[required("请选择运营单位")])
    county = SelectField("所在县（市、区）", validators=[required("请选择所在县（市、区）")])
    address = StringField("详细地址", filters=[strip], validators=[required("请填写详细地址"), length(200, "详细地址"),
                                                                 PlainText("详细地址", allow_emoji=False)])
    capacity = IntegerField("最多容纳人数", validators=[input_required("请填写最多容纳人数"),
                                                        NumberRange(min=1, max=10_000, message="容纳人数应在 1 到 10000 之间")],
                            render_kw=NUMBER)
    facilities = MultiCheckboxField("设施", choices=options(FACILITIES, None), validate_choice=False)
    description = TextAreaField("介绍（选填）", filters=[strip], validators=[length(2000, "介绍"),
                                                                          PlainText("介绍", multiline=True)])
    contact_phone = StringField("场地电话（选填）", filters=[strip], validators=[Optional(), length(20, "场地电话")])
    min_lead_hours = IntegerField("至少提前多少小时预约", default=24, render_kw=NUMBER,
                                  validators=[input_required("请填写提前预约的小时数"),
                                              NumberRange(min=0, max=720, message="应在 0 到 720 小时之间")])
    horizon_days = IntegerField("最多可以预约多少天以内", default=90, render_kw=NUMBER,
                                validators=[input_required("请填写可以预约的天数"),
                                            NumberRange(min=1, max=366, message="应在 1 到 366 天之间")])
    no_show_minutes = IntegerField("开始后多少分钟无人签到，自动释放预约（不填为 30 分钟）", default=30,
                                   render_kw=NUMBER, validators=[
                                       Optional(), NumberRange(min=5, max=240, message="应在 5 到 240 分钟之间")])
    closed_on_holidays = BooleanField("法定节假日闭馆", default=True)
    active = BooleanField("开放预约", default=True)
    lat = DecimalField("纬度（选填）", places=None, validators=[
        Optional(), Finite(), NumberRange(min=3, max=54, message="纬度应在 3 到 54 之间")])
    lon = DecimalField("经度（选填）", places=None, validators=[
        Optional(), Finite(), NumberRange(min=73, max=136, message="经度应在 73 到 136 之间")])

    def validate_contact_phone(self, field):
        if field.data and not re.match(r"^[0-9０-９\-－ ()（）+]{5,20}$", field.data):
            raise ValidationError("电话只能包含数字、空格、括号和“-”，例如 0371-6000 0000")


_PERIOD = re.compile(r"^\s*(\d{1,2})[:：](\d{2})\s*[-－—–~～至到]+\s*(\d{1,2})[:：](\d{2})\s*$")


class HoursField(StringField):
    """One weekday's opening periods as text: "8:30-11:30，14:30-17:30"; empty: closed."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self.periods: list[tuple[time, time]] = []

    def pre_validate(self, form):
        self.periods = []
        text = (self.data or "").strip()
        if len(text) > 100:
            raise ValidationError("太长了，请按“8:30-11:30，14:30-17:30”的样子填写")
        for part in filter(None, re.split(r"[,，;；、\s]+(?=\d)", text)):
            match = _PERIOD.match(part)
            if not match:
                raise ValidationError("请按“8:30-11:30，14:30-17:30”的样子填写，不开放请留空")
            h1, m1, h2, m2 = map(int, match.groups())
            if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
                raise ValidationError("时间不对：小时是 0 到 23，分钟是 00 到 59")
            self.periods.append((time(h1, m1), time(h2, m2)))


class HoursForm(BaseForm):
    day0 = HoursField("周一")
    day1 = HoursField("周二")
    day2 = HoursField("周三")
    day3 = HoursField("周四")
    day4 = HoursField("周五")
    day5 = HoursField("周六")
    day6 = HoursField("周日")

    def days(self):
        return [getattr(self, f"day{d}") for d in range(7)]

    def hours(self) -> dict[int, list[tuple[time, time]]]:
        return {d: f.periods for d, f in enumerate(self.days()) if f.periods}


class ClosureForm(BaseForm):
    first_day = date_field("从哪天", "请选择闭馆的第一天")
    last_day = date_field("到哪天（含这一天）", "请选择闭馆的最后一天")
    reason = StringField("原因", filters=[strip], validators=[required("请填写闭馆原因"), length(100, "原因"),
                                                              PlainText("原因", allow_emoji=False)],
                         description="例如：设备维修、上级检查")


class PackageForm(BaseForm):
    name = StringField("套餐名称", filters=[strip], validators=[required("请填写套餐名称"), length(60, "套餐名称"),
                                                              PlainText("套餐名称", allow_emoji=False)],
                       description="例如：重温入党誓词、红色观影、政治生日")
    content = TextAreaField("活动内容", filters=[strip], validators=[required("请写一写活动内容"), length(2000, "活动内容"),
                                                                   PlainText("活动内容", multiline=True)])
    provides = StringField("场地提供", filters=[strip], validators=[length(300, "场地提供"), PlainText("场地提供")],
                           description="例如：党旗、誓词墙、讲解员")
    duration_minutes = IntegerField("需要多少分钟", render_kw=NUMBER,
                                    validators=[input_required("请填写活动时长"),
                                                NumberRange(min=15, max=720, message="应在 15 到 720 分钟之间")])
    max_participants = IntegerField("最多多少人", render_kw=NUMBER,
                                    validators=[input_required("请填写最多人数"),
                                                NumberRange(min=1, max=10_000, message="应在 1 到 10000 人之间")])
    needs = MultiCheckboxField("需要场地有这些设施", choices=options(FACILITIES, None), validate_choice=False)
    active = BooleanField("可以预约", default=True)


class ReasonForm(BaseForm):
    reason = TextAreaField("原因", filters=[strip], validators=[required("请填写原因"), length(300, "原因"),
                                                              PlainText("原因", multiline=True)])


CANCEL_SCOPES = options([("one", "只取消这一天"), ("rest", "这一天和以后的所有日期"), ("all", "所有还没到的日期")], None)


class CancelForm(ReasonForm):
    scope = RadioField("取消哪些日期", choices=CANCEL_SCOPES, default="all",
                       validators=[required("请选择取消哪些日期")])
    occurrence = HiddenField()


class ManagerForm(BaseForm):
    phone = StringField("手机号码（完整 11 位）", filters=[strip], validators=[required("请填写手机号码"), length(40, "手机号码")],
                        render_kw={"inputmode": "tel", "autocomplete": "off"},
                        description="此人要先在银晖注册账号")


class ConfirmForm(BaseForm):
    """A button that changes something: only the CSRF token."""


def facility_set(values) -> frozenset[Facility]:
    return frozenset(Facility(v) for v in values or [] if v in {f.value for f in Facility})
