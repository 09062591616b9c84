"""Real servers for the serving tests: gunicorn started from gunicorn.conf.py as production starts
it, and a small HTTP client (the standard library's) that keeps cookies and does not follow
redirects."""

from __future__ import annotations

import http.cookiejar
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from flask_migrate import upgrade

from app.accounts.models import User
from app.accounts.passwords import hash_password
from app.extensions import db
from app.regions.services import load_gazetteer
from tests.conftest import CSRF_RE, database_url_for, make_app, reset_database

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 90     # a loaded two-core machine imports the app slowly; this is a limit, not a measure


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def migrated_database(name: str, users: dict[str, str] | None = None) -> str:
    """A database of this test run's kind (SQLite or PostgreSQL) for servers to share: migrated,
    Henan's regions loaded, and the given accounts (phone → password) committed."""
    url = database_url_for(name)
    reset_database(url)
    app = make_app(url)
    with app.app_context():
        upgrade()
        load_gazetteer(prefix="41")
        for phone, password in (users or {}).items():
            db.session.add(User(name=f"用户{phone[-4:]}", phone=phone, password_hash=hash_password(password)))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return url


def run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """A command in the repository root with only the given environment (and PATH)."""
    return subprocess.run(args, cwd=ROOT, env={"PATH": os.environ["PATH"], **env}, capture_output=True,
                          text=True, timeout=timeout, check=False)


def flask(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "flask", "--app", "wsgi", *args], env)


@dataclass
class Gunicorn:
    """`gunicorn -c gunicorn.conf.py wsgi:app` on a port of its own; its logs go to files."""

    env: dict[str, str]
    logs: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Gunicorn:
        self.logs.mkdir(parents=True, exist_ok=True)
        env = {"PATH": os.environ["PATH"], "BIND": f"127.0.0.1:{self.port}", **self.env}
        with (self.logs / "stdout.log").open("wb") as out, (self.logs / "stderr.log").open("wb") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                                            cwd=ROOT, env=env, stdout=out, stderr=err)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.stderr()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=5) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer /healthz:\n{self.stderr()}")

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def stderr(self) -> str:
        path = self.logs / "stderr.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stdout(self) -> str:
        path = self.logs / "stdout.log"
        return path.read_text(errors="replace") if path.exists() else ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Response:
    status: int
    body: str
    headers: dict[str, str]


class Browser:
    """Cookies kept like a browser's, for one server or (sharing the jar) several."""

    def __init__(self, jar: http.cookiejar.CookieJar | None = None):
        self.jar = jar if jar is not None else http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def request(self, url: str, data: dict[str, str] | None = None) -> Response:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(urllib.request.Request(url, data=body), timeout=120) as r:
                return Response(r.status, r.read().decode(errors="replace"), dict(r.headers))
        except urllib.error.HTTPError as e:
            return Response(e.code, e.read().decode(errors="replace"), dict(e.headers))

    def csrf(self, url: str) -> str:
        page = self.request(url)
        match = CSRF_RE.search(page.body)
        assert match, f"no CSRF token on {url}: {page.status}"
        return match.group(1)

    def login(self, base: str, phone: str, password: str) -> Response:
        token = self.csrf(base + "/login")
        return self.request(base + "/login", {"phone": phone, "password": password, "csrf_token": token})
