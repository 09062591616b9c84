"""Fixtures shared with other test folders: the local Aliyun SMS and the fixed application clock."""

from tests.sms_provider import provider  # noqa: F401
from tests.venues.conftest import clock  # noqa: F401
