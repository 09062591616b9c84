"""Every permission rule in one place (app.access.rules), the region-scope helper it stands on
(app.access.scope), loading rows an actor may see (app.access.loaders) and the web layer's decorator
and template helper (app.access.web). Callers write `from app import access` and ask
`access.may_manage_task(actor, task)`, `access.get_or_404(Task, task_id, actor)` and so on."""

from app.access.loaders import VISIBLE, check_or_403, check_or_404, get, get_or_404, visible
from app.access.rules import *  # the rules are this package's API
from app.access.scope import (
    admin_prefixes,
    admin_regions,
    covers,
    highest_admin_level,
    is_admin,
    is_province_admin,
    managed_venues,
    organized,
    regions_administered,
    regions_in_scope,
    signed_in,
)
from app.access.web import Permissions, requires, template_helper

