"""Organization forms."""

from __future__ import annotations

import re

from wtforms import DecimalField, SelectField, StringField
from wtforms.validators import NumberRange, Optional, ValidationError

from app.forms import BaseForm, Finite, PlainText, length, options, required, strip
from app.organizations.models import OrganizationKind

KINDS = [(k.value, k.label) for k in OrganizationKind]
_CONTACT = re.compile(r"^[0-9０-９\-－ ()（）+]{5,20}$")


class OrganizationForm(BaseForm):
    name = StringField("组织名称", filters=[strip],
                       validators=[required("请填写组织名称"), length(80, "组织名称"),
                                   PlainText("组织名称", allow_emoji=False)],
                       description="例如：东关南里社区、新县英雄山党支部")
    kind = SelectField("类型", choices=options(KINDS), validators=[required("请选择组织类型")])
    county = SelectField("所在县（市、区）", choices=[], validators=[required("请选择所在县（市、区）")])
    address = StringField("详细地址", filters=[strip],
                          validators=[length(200, "详细地址"), PlainText("详细地址", allow_emoji=False)],
                          description="街道、门牌号。用来估算位置，方便就近安排。")
    contact_phone = StringField("联系电话（选填）", filters=[strip],
                                validators=[Optional(), length(20, "联系电话")])
    lat = DecimalField("纬度（选填）", places=None, validators=[
        Optional(), Finite(), NumberRange(min=3, max=54, message="纬度应在 3 到 54 之间")],
        description="不填时按地址或县政府驻地估算。")
    lon = DecimalField("经度（选填）", places=None, validators=[
        Optional(), Finite(), NumberRange(min=73, max=136, message="经度应在 73 到 136 之间")])

    def validate_contact_phone(self, field):
        if field.data and not _CONTACT.match(field.data):
            raise ValidationError("联系电话只能包含数字、空格、括号和“-”，例如 0371-6000 0000")

    def values(self) -> dict:
        return dict(name=self.name.data, kind=OrganizationKind(self.kind.data),
                    county_code=self.county.data, address=self.address.data or "",
                    contact_phone=self.contact_phone.data or None,
                    lat=float(self.lat.data) if self.lat.data is not None else None,
                    lon=float(self.lon.data) if self.lon.data is not None else None)


class OrganizationFilterForm(BaseForm):
    class Meta:
        csrf = False

    q = StringField("名称包含", filters=[strip],
                    validators=[Optional(), length(40, "名称"), PlainText("名称")])
    kind = SelectField("类型", choices=options(KINDS, "全部类型"), validate_choice=False)
    county = SelectField("县（市、区）", choices=[], validate_choice=False)
