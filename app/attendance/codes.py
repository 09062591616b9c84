"""The check-in code: a signed, short-lived token naming what it checks into (a task session or
a booking occurrence) and its 30-second window. Pure: the secret and the time are passed in.

The organizer's screen shows a new code every window; a code is accepted in its own window and
the next (30 to 60 seconds), long enough to scan, too short to forward. A valid scan is turned
into a ticket for the one-tap page, good for ten minutes, so a member who must sign in first
does not lose the scan. The key (target and window) is what a person may use only once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer

WINDOW_SECONDS = 30
CODE_WINDOWS = 2               # its own window and the next
TICKET_SECONDS = 600
SESSION, OCCURRENCE = "s", "o"
KINDS = (SESSION, OCCURRENCE)


class CodeRefused(ValueError):
    """A code or ticket that does not check in; the message is Chinese."""


@dataclass(frozen=True)
class Scan:
    kind: str         # SESSION or OCCURRENCE
    target_id: int
    window: int

    @property
    def key(self) -> str:
        return f"{self.kind}{self.target_id}:{self.window}"


def window_of(now: datetime) -> int:
    return int(now.timestamp()) // WINDOW_SECONDS


def seconds_left(now: datetime) -> int:
    """Until the screen should show the next code."""
    return WINDOW_SECONDS - int(now.timestamp()) % WINDOW_SECONDS


def _serializer(secret: str, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=f"yinhui.checkin.{purpose}")


def make_code(secret: str, kind: str, target_id: int, now: datetime) -> str:
    return _serializer(secret, "code").dumps([kind, target_id, window_of(now)])


def _read(secret: str, purpose: str, token: str, kind: str, target_id: int) -> Scan:
    try:
        value = _serializer(secret, purpose).loads(token)
    except BadSignature:
        raise CodeRefused("这个二维码无效，请扫描组织者屏幕上的二维码") from None
    if (not isinstance(value, list) or len(value) != 3 or value[0] not in KINDS
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:])):
        raise CodeRefused("这个二维码无效，请扫描组织者屏幕上的二维码")
    scan = Scan(value[0], value[1], value[2])
    if (scan.kind, scan.target_id) != (kind, target_id):
        raise CodeRefused("这个二维码不是这次活动的，请扫描本场活动屏幕上的二维码")
    return scan


def read_code(secret: str, token: str, kind: str, target_id: int, now: datetime) -> Scan:
    """The scan a fresh code stands for; refused when forged, for another target, or expired."""
    scan = _read(secret, "code", token, kind, target_id)
    age = window_of(now) - scan.window
    if not 0 <= age < CODE_WINDOWS:
        raise CodeRefused("二维码已过期，请扫描屏幕上最新的二维码")
    return scan


def make_ticket(secret: str, scan: Scan) -> str:
    return _serializer(secret, "ticket").dumps([scan.kind, scan.target_id, scan.window])


def read_ticket(secret: str, token: str, kind: str, target_id: int, now: datetime) -> Scan:
    scan = _read(secret, "ticket", token, kind, target_id)
    age = window_of(now) - scan.window
    if not 0 <= age * WINDOW_SECONDS <= TICKET_SECONDS:
        raise CodeRefused("扫码已超过 10 分钟，请重新扫描屏幕上的二维码")
    return scan
