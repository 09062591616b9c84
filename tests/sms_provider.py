"""A local Alibaba Cloud SMS (Dysms) for the tests: a real HTTP server on 127.0.0.1 that speaks the
SendSms API as the provider documents it and checks what the provider checks.

It verifies the signature (HMAC-SHA1 with the AccessKey secret over the sorted, percent-encoded
parameters, version 1.0), refuses a reused SignatureNonce or a timestamp more than 15 minutes off,
knows the approved signature name and templates (with their variables, at most 35 characters
each) and answers with the provider's codes: {"Code": "OK", "BizId": …} or isv.*, SignatureDoesNotMatch
and so on. Delivered messages are kept in `delivered`, in order.

For the failure tests it can be told to answer HTTP 500 while `outage()` says so, or to hold
its answer past the client's timeout (after it has taken the message, as a slow provider does).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from app.notifications.sms import API_VERSION, TEMPLATES, sign

ACCESS_KEY_ID = "LTAItestkeyid"
ACCESS_KEY_SECRET = "test-access-key-secret"
SIGN_NAME = "银晖"
TEMPLATE_CODES = {key: f"SMS_{100000 + i}" for i, key in enumerate(sorted(TEMPLATES))}
REQUIRED = ("AccessKeyId", "Action", "Format", "PhoneNumbers", "RegionId", "SignName", "SignatureMethod",
            "SignatureNonce", "SignatureVersion", "TemplateCode", "Timestamp", "Version", "Signature")


@dataclass
class Delivered:
    phone: str
    template_code: str
    params: dict[str, str]
    out_id: str | None
    text: str
    biz_id: str


@dataclass
class FakeDysms:
    outage: Callable[[], bool] = lambda: False       # answer 500 while this is true
    hold_seconds: float = 0                          # answer only after this long (messages are taken first)
    delivered: list[Delivered] = field(default_factory=list)
    requests: int = 0
    nonces: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def config(self) -> dict:
        """The application settings that point at this provider."""
        return {"SMS_BACKEND": "aliyun", "SMS_ALIYUN_ENDPOINT": self.url, "SMS_ALIYUN_ACCESS_KEY_ID": ACCESS_KEY_ID,
                "SMS_ALIYUN_ACCESS_KEY_SECRET": ACCESS_KEY_SECRET, "SMS_SIGN_NAME": SIGN_NAME,
                "SMS_TEMPLATE_CODES": dict(TEMPLATE_CODES), "SMS_TIMEOUT": 5}

    def to(self, phone: str) -> list[Delivered]:
        return [d for d in self.delivered if d.phone == phone]

    def codes(self, phone: str) -> list[str]:
        """The sign-in codes texted to this number, oldest first. Other texts to the same number
        (a security notice, an invitation) may arrive after a code, or not until quiet hours end,
        so a test that wants the code asks for it by its template, never as the last text."""
        template = TEMPLATE_CODES["login_code"]
        return [d.params["code"] for d in self.to(phone) if d.template_code == template]

    # --- the API --------------------------------------------------------------------------------

    def answer(self, method: str, params: dict[str, str]) -> tuple[int, dict]:
        with self.lock:
            self.requests += 1
        if self.outage():
            return 500, {"Code": "ServiceUnavailable", "Message": "The request has failed due to a temporary failure"}
        missing = [k for k in REQUIRED if not params.get(k)]
        if missing:
            return 400, {"Code": "MissingParameter", "Message": f"missing {missing[0]}"}
        if params["AccessKeyId"] != ACCESS_KEY_ID:
            return 404, {"Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found."}
        signature = params.pop("Signature")
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0" \
                or sign(method, params, ACCESS_KEY_SECRET) != signature:
            return 400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched."}
        try:
            stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return 400, {"Code": "InvalidTimeStamp.Format", "Message": "Specified time stamp is not valid."}
        if abs(datetime.now(UTC) - stamp) > timedelta(minutes=15):
            return 400, {"Code": "InvalidTimeStamp.Expired", "Message": "Specified time stamp is expired."}
        with self.lock:
            if params["SignatureNonce"] in self.nonces:
                return 400, {"Code": "SignatureNonceUsed", "Message": "Specified signature nonce was used already."}
            self.nonces.add(params["SignatureNonce"])
        if params["Action"] != "SendSms" or params["Version"] != API_VERSION:
            return 400, {"Code": "InvalidAction.NotFound", "Message": "Specified api is not found."}
        if params["SignName"] != SIGN_NAME:
            return 200, {"Code": "isv.SMS_SIGNATURE_ILLEGAL", "Message": "该账号下找不到对应签名"}
        template = next((TEMPLATES[k] for k, c in TEMPLATE_CODES.items() if c == params["TemplateCode"]), None)
        if template is None:
            return 200, {"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "该账号下找不到对应模板"}
        phone = params["PhoneNumbers"]
        if not re.fullmatch(r"1[3-9]\d{9}", phone):
            return 200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"}
        try:
            values = json.loads(params.get("TemplateParam") or "{}")
        except json.JSONDecodeError:
            return 200, {"Code": "isv.INVALID_JSON_PARAM", "Message": "JSON参数不合法"}
        if set(values) != set(template.variables):
            return 200, {"Code": "isv.TEMPLATE_MISSING_PARAMETERS", "Message": "模板变量缺少对应参数值"}
        if any(len(str(v)) > 35 for v in values.values()):
            return 200, {"Code": "isv.TEMPLATE_PARAMS_ILLEGAL", "Message": "模板变量里包含非法关键字或超长"}
        biz_id = uuid.uuid4().hex[:20]
        with self.lock:
            self.delivered.append(Delivered(phone, params["TemplateCode"], values, params.get("OutId"),
                                            template.render(values, SIGN_NAME), biz_id))
        return 200, {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": str(uuid.uuid4()).upper()}

    # --- serving --------------------------------------------------------------------------------

    def start(self) -> FakeDysms:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str, raw: str) -> None:
                status, body = fake.answer(method, dict(parse_qsl(raw, keep_blank_values=True)))
                if fake.hold_seconds:
                    time.sleep(fake.hold_seconds)
                data = json.dumps(body, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json;charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:   # the client gave up waiting
                    pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._serve("POST", self.rfile.read(length).decode())

            def do_GET(self) -> None:
                self._serve("GET", urlsplit(self.path).query)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def provider(app):
    """The local Aliyun, and the application pointed at it for the test (import this fixture)."""
    fake = FakeDysms().start()
    saved = {k: app.config[k] for k in fake.config()}
    app.config.update(fake.config())
    yield fake
    app.config.update(saved)
    fake.stop()
