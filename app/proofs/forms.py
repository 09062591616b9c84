"""Forms for the training and commendation blocks of a volunteer record."""

from __future__ import annotations

from wtforms import DateField, DecimalField, RadioField, StringField
from wtforms.validators import NumberRange

from app.forms import BaseForm, Finite, PlainText, input_required, length, options, required, strip
from app.proofs.models import CommendationLevel


class TrainingForm(BaseForm):
    name = StringField("培训名称", filters=[strip], validators=[
        required("请填写培训名称"), length(100, "培训名称"), PlainText("培训名称", allow_emoji=False)])
    trained_on = DateField("培训日期", validators=[required("请填写培训日期")], render_kw={"class": "short"})
    hours = DecimalField("培训时长（小时）", places=None, validators=[
        input_required("请填写培训时长"), Finite(), NumberRange(min=0.5, max=200, message="培训时长应在 0.5 到 200 小时之间")],
        render_kw={"inputmode": "decimal", "class": "short"})
    provider = StringField("培训单位", filters=[strip], validators=[
        required("请填写培训单位"), length(100, "培训单位"), PlainText("培训单位", allow_emoji=False)])


class CommendationForm(BaseForm):
    title = StringField("表彰奖励名称", filters=[strip], validators=[
        required("请填写表彰奖励名称"), length(100, "表彰奖励名称"), PlainText("表彰奖励名称", allow_emoji=False)])
    level = RadioField("级别", choices=options([(c.value, c.label) for c in CommendationLevel], None),
                       validators=[required("请选择级别")])
    awarded_by = StringField("授予单位", filters=[strip], validators=[
        required("请填写授予单位"), length(100, "授予单位"), PlainText("授予单位", allow_emoji=False)])
    awarded_on = DateField("表彰日期", validators=[required("请填写表彰日期")], render_kw={"class": "short"})
