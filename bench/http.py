"""Whole pages under load: Yinhui under gunicorn, driven by wrk, against a hello-world floor.

    .venv/bin/python -m bench.http --members 1000000 --clients 32 --seconds 15 --json out.json [--reuse]

The database comes from DATABASE_URL (SQLite in bench/out/ by default). Without --reuse it is
emptied and filled afresh with bench.population (a PostgreSQL database must have "bench" in its
name); --members 0 gives the demo data alone. Either way the demo accounts, venues and bookings
are loaded (idempotent) and a few accounts made ready to sign in (bench/README.md says which).

Then, in one run: gunicorn serves the app with the production settings and, on another port,
bench/hello.py with the same gunicorn settings; every page is fetched once as its signed-in user
(200 and its own text, so that a redirect to /login cannot pass for a fast page), and wrk drives
the floor, each page for --seconds at --clients connections, and the floor again. Prints a table
and writes the JSON described in bench/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import json
import os
import pstats
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from flask.testing import FlaskClient
from sqlalchemy import event, func, select

from app import create_app
from app.accounts.models import Role, RoleGrant, User
from app.accounts.passwords import hash_password
from app.demo import DEMO_PASSWORD, seed_demo
from app.extensions import db
from app.members.models import MemberProfile, MemberSkill, SkillLocation
from app.organizations.models import Organization
from app.regions.models import Region
from app.reports.summary import last_refresh, refresh_apart
from app.tasks.models import Task, TaskStatus
from app.venues.models import Venue
from bench.matching import OUT, fresh_database
from bench.population import ready

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
ORGANIZER_PHONE = "19900000011"        # the demo's 东关南里社区 organizer
ADMIN_PHONE = "19900000003"            # the demo's 管城回族区 admin: the county's dashboard
MEMBER_PHONES = ("19900000021", "19900000022")   # the demo's 王老师 and 李大夫
COUNTY = "410104"                      # 管城回族区: the demo organizer's county
VENUE = "管城回族区东大街街道老党员共享家园"
SECRET = "bench-http-secret-key-0123456789abcdef"   # production wants 32 characters or more
# What app/production.py asks of a production start, for the app under test and the floor alike:
# the rate limiter and the job queue in Redis (as with several web workers in production), links
# to an https address, the embedded database allowed on purpose when the bench runs on it, and an
# SMS provider that is complete but unreachable (no job worker runs, so nothing is ever sent).
PRODUCTION = {"YINHUI_ENV": "production", "SECRET_KEY": SECRET, "BASE_URL": "https://yinhui.bench.invalid",
              "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
              "ALLOW_SQLITE_IN_PRODUCTION": "1",
              "SMS_BACKEND": "aliyun", "SMS_ALIYUN_ENDPOINT": "https://sms.bench.invalid/",
              "SMS_ALIYUN_ACCESS_KEY_ID": "bench", "SMS_ALIYUN_ACCESS_KEY_SECRET": "bench",
              "SMS_TEMPLATE_CODES": '{"login_code": "SMS_0", "notice": "SMS_0", "reminder": "SMS_0"}'}
PAGES = ("member_home", "tasks_near_me", "candidates", "venue_week", "pool_search", "dashboard")
SIGNED_IN = "退出登录"                  # the log-out button: only a signed-in page has it


@dataclass
class Target:
    """One page: the requests wrk picks from at random, as (path, cookie) pairs, and the text each
    must show to count as rendered for its user."""

    name: str
    requests: list[tuple[str, str]] = field(default_factory=list)
    markers: list[str] = field(default_factory=list)


# --- the database and the accounts ------------------------------------------------------------


def prepare(members_wanted: int) -> dict:
    """Demo data on top of whatever is there, and the accounts the run signs in as: the demo's
    organizer (also organizing the population's community and party branch of 管城回族区, when
    there is a population) and members of that branch with a known password. Returns what to ask."""
    seed_demo()
    db.session.flush()
    organizer = db.session.scalars(select(User).where(User.phone == ORGANIZER_PHONE)).one()
    for org in db.session.scalars(select(Organization).where(Organization.region_code == COUNTY,
                                                              Organization.name.like("测试%"))):
        if not any(g.role is Role.ORGANIZER and g.organization_id == org.id for g in organizer.grants):
            organizer.grants.append(RoleGrant(role=Role.ORGANIZER, organization_id=org.id))
    db.session.flush()
    organized = [g.organization_id for g in organizer.grants if g.role is Role.ORGANIZER]

    demo_members = list(db.session.scalars(select(User).where(User.phone.in_(MEMBER_PHONES)).order_by(User.phone)))
    matchable = select(SkillLocation.member_id).distinct().scalar_subquery()
    population = list(db.session.scalars(
        select(User).join(MemberProfile, MemberProfile.id == User.id)
        .where(MemberProfile.branch_id.in_(organized), MemberProfile.id.in_(matchable), User.phone.like("170%"))
        .order_by(User.id).limit(max(0, members_wanted - len(demo_members)))))
    password_hash = hash_password(DEMO_PASSWORD)
    for user in population:
        if user.password_hash is None:
            user.password_hash = password_hash
        if not user.has_role(Role.MEMBER):
            user.grants.append(RoleGrant(role=Role.MEMBER))
    db.session.flush()

    tasks = list(db.session.scalars(select(Task).where(Task.organization_id.in_(organized),
                                                       Task.status == TaskStatus.OPEN).order_by(Task.id).limit(30)))
    venue = db.session.scalars(select(Venue).where(Venue.name == VENUE)).one()
    county = db.session.get_one(Region, COUNTY)
    skills = list(db.session.scalars(
        select(MemberSkill.skill_id).join(MemberProfile, MemberProfile.id == MemberSkill.member_id)
        .where(MemberProfile.branch_id.in_(organized)).group_by(MemberSkill.skill_id)
        .order_by(func.count().desc(), MemberSkill.skill_id).limit(4)))
    plan = {
        "organizer": ORGANIZER_PHONE,
        "members": [(u.phone, u.name) for u in demo_members + population],
        "tasks": [(t.id, t.title) for t in tasks],
        "venue": (venue.id, venue.name),
        "pool_queries": [""] + [urlencode({"skill": s}) for s in skills],
        "admin": ADMIN_PHONE,
        "dashboard": (COUNTY, county.name),
    }
    db.session.commit()
    if last_refresh() is None:
        # The dashboards read precounted figures: count them once (the hourly job's work; about
        # two minutes at a million members on SQLite), as a running service would have them.
        refresh_apart()
    return plan


def build(url: str, members: int, reuse: bool, seed: int, sign_in: int) -> tuple[str, dict]:
    """Fill (unless reusing) and prepare the database; its engine's name and the plan."""
    if not reuse:
        fresh_database(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": False, "SECRET_KEY": SECRET})
    with app.app_context():
        engine = db.engine.dialect.name
        ready(members, seed=seed, reuse=reuse)
        plan = prepare(sign_in)
        db.session.remove()
        db.engine.dispose()
    return engine, plan


# --- gunicorn -----------------------------------------------------------------------------------


def gunicorn_settings(args: argparse.Namespace) -> list[str]:
    conf = args.config or ROOT / "gunicorn.conf.py"
    return ["-c", str(conf)] if conf.exists() else ["-w", str(args.workers), "-k", "sync"]


def gunicorn(app: str, port: int, args: argparse.Namespace, env: dict[str, str], root: Path = ROOT) -> subprocess.Popen:
    """gunicorn serving `app` on `port`: --config, or the repository's gunicorn.conf.py when there is
    one, otherwise --workers sync workers. The same settings serve the floor. `root`: the checkout
    whose code it serves (bench.http_pair serves another's with the same settings)."""
    settings = gunicorn_settings(args)
    command = [sys.executable, "-m", "gunicorn", *settings, "--bind", f"{HOST}:{port}", app]
    log = (OUT / f"gunicorn-{port}.log").open("w")
    return subprocess.Popen(command, cwd=root, env={**os.environ, **env, "PYTHONPATH": str(root)},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_ready(port: int, path: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"gunicorn on port {port} exited: see {OUT / f'gunicorn-{port}.log'}")
        try:
            status, _, _ = fetch(port, "GET", path)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    sys.exit(f"gunicorn on port {port} did not answer {path} within {timeout:.0f} s")


# --- signing in -------------------------------------------------------------------------------


def fetch(port: int, method: str, path: str, cookies: dict[str, str] | None = None,
          form: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """One request; Set-Cookie values are folded into `cookies` (kept by hand: the production
    settings mark cookies Secure, which a cookie jar would not send back over plain HTTP)."""
    headers = {"Host": f"{HOST}:{port}"}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn = http.client.HTTPConnection(HOST, port, timeout=300)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        if cookies is not None:
            for value in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = value.partition("=")
                cookie_value = rest.split(";", 1)[0]
                if cookie_value and "max-age=0" not in value.lower() and "expires=thu, 01 jan 1970" not in value.lower():
                    cookies[name.strip()] = cookie_value
                else:
                    cookies.pop(name.strip(), None)
        return response.status, dict(response.headers), text
    finally:
        conn.close()


def sign_in(port: int, phone: str) -> str:
    """Sign in through the login form; the Cookie header that carries the session."""
    cookies: dict[str, str] = {}
    status, _, page = fetch(port, "GET", "/login", cookies)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', page)
    if status != 200 or token is None:
        sys.exit(f"GET /login answered {status} without a CSRF token")
    status, headers, _ = fetch(port, "POST", "/login", cookies,
                               {"csrf_token": token.group(1) or token.group(2), "phone": phone,
                                "password": DEMO_PASSWORD, "next": ""})
    if status != 302 or "/login" in headers.get("Location", ""):
        sys.exit(f"signing in as {phone} failed: {status}")
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def targets(port: int, plan: dict) -> list[Target]:
    organizer = sign_in(port, plan["organizer"])
    admin = sign_in(port, plan["admin"])
    members = [(sign_in(port, phone), name) for phone, name in plan["members"]]
    venue_id, venue_name = plan["venue"]
    found = {name: Target(name) for name in PAGES}
    for cookie, name in members:
        found["member_home"].requests.append(("/", cookie))
        found["member_home"].markers.append(f"{name}，您好")
        found["tasks_near_me"].requests.append(("/my/tasks", cookie))
        found["tasks_near_me"].markers.append("<h1>志愿服务</h1>")
    for task_id, title in plan["tasks"]:
        found["candidates"].requests.append((f"/tasks/{task_id}/candidates", organizer))
        found["candidates"].markers.append(f"为“{title}”推荐")
    for week in ("", "?start=" + time.strftime("%Y-%m-%d", time.localtime(time.time() + 7 * 86400))):
        found["venue_week"].requests.append((f"/venues/{venue_id}/week{week}", organizer))
        found["venue_week"].markers.append(f"<h1>{venue_name}</h1>")
    for query in plan["pool_queries"]:
        found["pool_search"].requests.append((f"/pool/?{query}" if query else "/pool/", organizer))
        found["pool_search"].markers.append("共找到")
    code, county = plan["dashboard"]
    found["dashboard"].requests.append((f"/reports/regions/{code}", admin))
    found["dashboard"].markers.append(f"{county}银发人才工作统计")
    return [found[name] for name in PAGES]


def check(port: int, target: Target) -> int:
    """Every request of the page once: 200, signed in, and the page's own text. Mean body size."""
    sizes = []
    for (path, cookie), marker in zip(target.requests, target.markers, strict=True):
        cookies = dict(part.split("=", 1) for part in cookie.split("; "))
        status, headers, page = fetch(port, "GET", path, cookies)
        if status != 200 or SIGNED_IN not in page or marker not in page:
            sys.exit(f"{target.name}: GET {path} answered {status} {headers.get('Location', '')} "
                     f"without {marker!r}: not the signed-in page")
        sizes.append(len(page.encode()))
    if not target.requests:
        sys.exit(f"{target.name}: nothing to ask (no task, venue or member found)")
    return round(statistics.mean(sizes))


# --- wrk ----------------------------------------------------------------------------------------

LUA = """
local requests = {%s}
local threads = {}
local prepared = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
  for i, r in ipairs(requests) do
    prepared[i] = wrk.format("GET", r[1], r[2] ~= "" and {["Cookie"] = r[2]} or {})
  end
  math.randomseed(os.time() + #threads)
end

function request()
  return prepared[math.random(#prepared)]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "duration_us": %%d, "non2xx": %%d, "connect": %%d, "read": %%d, "write": %%d, ' ..
    '"timeout": %%d, "p50_us": %%d, "p95_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration, bad, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def drive(port: int, requests: list[tuple[str, str]], clients: int, seconds: int) -> dict:
    """wrk at `clients` connections for `seconds` on a random pick of `requests` each time."""
    script = LUA % ", ".join(f"{{{lua_string(path)}, {lua_string(cookie)}}}" for path, cookie in requests)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        run = subprocess.run(["wrk", "-t", str(min(2, clients)), "-c", str(clients), "-d", f"{seconds}s",
                              "--timeout", "10s", "-s", f.name, f"http://{HOST}:{port}/"],
                             capture_output=True, text=True, check=True)
    finally:
        os.unlink(f.name)
    line = next((x for x in run.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        sys.exit(f"wrk printed no result:\n{run.stdout}\n{run.stderr}")
    raw = json.loads(line[len("RESULT "):])
    errors = raw["non2xx"] + raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    if raw["requests"] == 0:
        errors = max(errors, clients)       # not one answer in the run: every connection failed
    return {"rps": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
            "p50_ms": round(raw["p50_us"] / 1000, 1), "p95_ms": round(raw["p95_us"] / 1000, 1),
            "p99_ms": round(raw["p99_us"] / 1000, 1), "errors": errors}


# --- CPU used by the servers ----------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def server_cpu(master: int) -> float:
    """Seconds of CPU used by a gunicorn master, its live workers and its ended ones (the master's
    children's times): unlike requests per second, CPU per request hardly depends on what else the
    machine runs."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        fields = _stat(pid)
        if fields is None:
            continue
        if int(fields[1]) == master:
            total += (int(fields[11]) + int(fields[12])) / TICK
        if int(pid) == master:
            total += sum(int(x) for x in fields[11:15]) / TICK
    return total


def database_cpu() -> float:
    """Seconds of CPU used by this machine's PostgreSQL processes (0 without PostgreSQL): the
    database's share of a page, which the app's own CPU leaves out."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "postgres":
                    continue
        except OSError:
            continue
        fields = _stat(pid)
        if fields is not None:
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def drive_counted(port: int, master: int, requests: list[tuple[str, str]], clients: int, seconds: int) -> dict:
    """drive(), with the server's and the database's CPU per answered request (ms)."""
    app, database = server_cpu(master), database_cpu()
    result = drive(port, requests, clients, seconds)
    answered = max(result["rps"] * seconds, 1)
    result["cpu_ms"] = round(1000 * (server_cpu(master) - app) / answered, 2)
    result["db_cpu_ms"] = round(1000 * (database_cpu() - database) / answered, 2)
    return result


# --- the run ------------------------------------------------------------------------------------


def settle(port: int, probes: int = 24) -> None:
    """Wait until the app has worked off what wrk left queued: a sync worker answers the requests
    it accepted even after wrk has gone, and would slow the next page's run. Probes /healthz on
    more connections than it has workers (and threads) and waits for every answer."""
    with ThreadPoolExecutor(probes) as pool:
        list(pool.map(lambda _: fetch(port, "GET", "/healthz"), range(probes)))



def measure(args: argparse.Namespace, url: str, engine: str, plan: dict) -> dict:
    env = {**PRODUCTION, "DATABASE_URL": url}
    app_port, floor_port = args.port, args.port + 1
    servers = [gunicorn("wsgi:app", app_port, args, env), gunicorn("bench.hello:app", floor_port, args, env)]
    try:
        wait_ready(app_port, "/healthz", servers[0])
        wait_ready(floor_port, "/", servers[1])
        pages = chosen(args, targets(app_port, plan))
        sizes = {t.name: check(app_port, t) for t in pages}
        floor_requests = [("/", "")]
        # Warm up every worker on every page (statements prepared, templates compiled), unmeasured.
        for target in pages:
            drive(app_port, target.requests, args.clients, 2)
            settle(app_port)
        drive(floor_port, floor_requests, args.clients, 2)

        # The floor before each page and after the last: a page is compared with the floors on
        # either side of it, taken within seconds of it on a machine whose load may change.
        floors = [drive_counted(floor_port, servers[1].pid, floor_requests, args.clients, args.seconds)]
        results = {}
        for target in pages:
            results[target.name] = drive_counted(app_port, servers[0].pid, target.requests, args.clients, args.seconds)
            settle(app_port)
            floors.append(drive_counted(floor_port, servers[1].pid, floor_requests, args.clients, args.seconds))
        for i, target in enumerate(pages):
            results[target.name]["floor_rps"] = round((floors[i]["rps"] + floors[i + 1]["rps"]) / 2, 1)
    finally:
        for server in servers:
            stop(server)
    floor = {"rps": round(statistics.mean(f["rps"] for f in floors), 1),
             "p50_ms": round(statistics.mean(f["p50_ms"] for f in floors), 1),
             "p95_ms": round(statistics.mean(f["p95_ms"] for f in floors), 1),
             "cpu_ms": round(statistics.mean(f["cpu_ms"] for f in floors), 2)}
    report(engine, args, floor, floors, results, sizes, pages)
    return {"engine": engine, "members": args.members, "clients": args.clients, "floor": floor,
            "pages": {name: {k: r[k] for k in ("rps", "p50_ms", "p95_ms", "p99_ms", "errors", "cpu_ms", "db_cpu_ms")}
                      for name, r in results.items()}}


def report(engine: str, args: argparse.Namespace, floor: dict, floors: list[dict], results: dict,
           sizes: dict, pages: list[Target]) -> None:
    print(f"\n{engine}, {args.members:,} members, {args.clients} connections, {args.seconds} s per page, "
          f"gunicorn {' '.join(gunicorn_settings(args))}")
    each = ", ".join(f"{f['rps']:,.0f}" for f in floors)
    print(f"floor (hello world): {floor['rps']:,.0f} req/s, mean of {len(floors)} runs "
          f"({each}), p50 {floor['p50_ms']} ms, p95 {floor['p95_ms']} ms, server CPU {floor['cpu_ms']} ms a request\n")
    print(f"{'page':<15}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}{'floor':>8}{'near':>8}"
          f"{'KB':>7}{'asks':>6}{'CPU ms':>8}{'DB ms':>7}")
    for target in pages:
        r = results[target.name]
        print(f"{target.name:<15}{r['rps']:>9,.1f}{r['p50_ms']:>9}{r['p95_ms']:>9}{r['p99_ms']:>9}{r['errors']:>8}"
              f"{r['rps'] / floor['rps']:>8.1%}{r['rps'] / r['floor_rps']:>8.1%}{sizes[target.name] / 1024:>7.1f}"
              f"{len(target.requests):>6}{r['cpu_ms']:>8.2f}{r['db_cpu_ms']:>7.2f}")
    print("\nfloor: the page's requests per second as a share of the run's mean floor; near: of the mean of the\n"
          "two floors measured just before and just after it. CPU ms: the app server's CPU per answered request\n"
          "(gunicorn's master and workers); DB ms: PostgreSQL's (every postgres process on the machine).")


# --- one request at a time, in process: where the time goes ----------------------------------------


class Queries:
    """Counts the statements the app sends while `on`."""

    def __init__(self) -> None:
        self.on = False
        self.statements: list[str] = []

    def __call__(self, _conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        if self.on:
            self.statements.append(" ".join(statement.split()))


def profile(args: argparse.Namespace, url: str, plan: dict) -> int:
    """Each page's requests one at a time through the test client, under the production settings:
    wall and CPU time per request, statements per request (and which), and cProfile's top entries."""
    os.environ.update(PRODUCTION)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET, "TESTING": False})
    queries = Queries()
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", queries)
    clients: dict[str, FlaskClient] = {}

    def client_for(phone: str) -> FlaskClient:
        if phone not in clients:
            client = app.test_client()
            page = client.get("/login", base_url="https://localhost").get_data(as_text=True)
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
            assert token is not None, "no CSRF token on /login"
            answer = client.post("/login", base_url="https://localhost",
                                 data={"csrf_token": token.group(1), "phone": phone, "password": DEMO_PASSWORD},
                                 headers={"Referer": "https://localhost/login"})   # HTTPS: CSRF checks it
            assert answer.status_code == 302, f"signing in as {phone}: {answer.status_code}"
            client.get("/", base_url="https://localhost")     # the welcome message, shown once
            clients[phone] = client
        return clients[phone]

    member_phones = [phone for phone, _ in plan["members"]][:5]
    asks = {
        "privacy": [(member_phones[0], "/privacy")],     # a page with nothing of its own: what every page pays
        "member_home": [(phone, "/") for phone in member_phones],
        "tasks_near_me": [(phone, "/my/tasks") for phone in member_phones],
        "candidates": [(plan["organizer"], f"/tasks/{task_id}/candidates") for task_id, _ in plan["tasks"][:5]],
        "venue_week": [(plan["organizer"], f"/venues/{plan['venue'][0]}/week")],
        "pool_search": [(plan["organizer"], f"/pool/?{q}") for q in plan["pool_queries"]],
        "dashboard": [(plan["admin"], f"/reports/regions/{plan['dashboard'][0]}")],
    }
    print(f"\n{'page':<15}{'wall p50':>9}{'CPU p50':>9}{'queries':>9}   (ms per request, one at a time)")
    profiler = cProfile.Profile(time.process_time)     # CPU time: other work on the machine does not count
    for name, requests in asks.items():
        if not requests or (args.pages and name in PAGES and name not in args.pages):
            continue    # privacy, what every page pays, is always measured
        for phone, path in requests * 2:                       # warm: templates compiled, statements cached
            client_for(phone).get(path, base_url="https://localhost")
        wall, cpu, counts = [], [], []
        for _ in range(args.profile):
            for phone, path in requests:
                client = client_for(phone)
                queries.statements.clear()
                queries.on = True
                started, started_cpu = time.perf_counter(), time.process_time()
                if name == args.profile_page:
                    profiler.enable()
                response = client.get(path, base_url="https://localhost")
                if name == args.profile_page:
                    profiler.disable()
                wall.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
                queries.on = False
                counts.append(len(queries.statements))
                assert response.status_code == 200, f"{path}: {response.status_code}"
        print(f"{name:<15}{statistics.median(wall):>9.1f}{statistics.median(cpu):>9.1f}{statistics.median(counts):>9.0f}")
        if args.verbose:
            for statement in queries.statements:
                print(f"      {statement[:150]}")
    if args.profile_page:
        stats = pstats.Stats(profiler)
        print(f"\ncProfile of {args.profile_page}, {args.profile} rounds, CPU time by where it is spent:")
        for area, share in areas(stats):
            print(f"  {area:<28}{share:>6.1%}")
        if args.verbose:
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(r"/app/|/templates/|flask_login|flask_limiter|flask_wtf", 40)
    return 0


AREAS = [("templates (Jinja)", ("/jinja2/", "/templates/")), ("the database driver", ("sqlite3", "psycopg")),
         ("SQLAlchemy", ("/sqlalchemy/",)), ("Flask-Login", ("/flask_login/",)), ("Flask-Limiter", ("/flask_limiter/",
         "/limits/")), ("Flask-WTF, WTForms", ("/flask_wtf/", "/wtforms/", "itsdangerous")),
         ("Werkzeug", ("/werkzeug/",)), ("Flask", ("/flask/",)), ("sessions (app/accounts/sessions.py)",
         ("/app/accounts/sessions.py",)), ("the app's own code", ("/app/",))]


def areas(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Each function's own CPU time summed by the library (or part of the app) it belongs to."""
    totals: dict[str, float] = {}
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = filename if filename != "~" else name
        area = next((a for a, marks in AREAS if any(m in where for m in marks)), "other (Python, stdlib)")
        totals[area] = totals.get(area, 0.0) + tottime
    whole = sum(totals.values()) or 1.0
    return sorted(((a, t / whole) for a, t in totals.items()), key=lambda x: -x[1])


def shared_arguments(parser: argparse.ArgumentParser, *, seconds: tuple[int, str], port: tuple[int, str]) -> None:
    """The options bench.http and bench.http_pair share: the population, the load, the server."""
    parser.add_argument("--members", type=int, default=0, help="population size (0: the demo data alone)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections")
    parser.add_argument("--seconds", type=int, default=seconds[0], help=seconds[1])
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--reuse", action="store_true", help="use an already filled database")
    parser.add_argument("--config", type=Path, help="gunicorn settings (default: this checkout's gunicorn.conf.py)")
    parser.add_argument("--workers", type=int, default=4, help="sync workers when there is no gunicorn.conf.py")
    parser.add_argument("--sign-in", type=int, default=20, help="members to sign in as")
    parser.add_argument("--port", type=int, default=port[0], help=port[1])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--pages", nargs="+", choices=PAGES, help="only these pages (default: all)")


def chosen(args: argparse.Namespace, pages: list) -> list:
    """Of `pages` (each with a name), those --pages asks for; all without it."""
    return [page for page in pages if not args.pages or page.name in args.pages]


def prepared(args: argparse.Namespace) -> tuple[str, str, dict]:
    """wrk at hand, and the database filled (or reused) and prepared: its URL, its engine's name and
    the plan of what to ask."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (Debian: apt-get install wrk)")
    OUT.mkdir(exist_ok=True)
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{OUT / f'http-{args.members}.db'}"
    engine, plan = build(url, args.members, args.reuse, args.seed, args.sign_in)
    return url, engine, plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    shared_arguments(parser, seconds=(15, "per page, and for the floor before and after"),
                     port=(8931, "the app's port; the floor's is the next one"))
    parser.add_argument("--profile", type=int, metavar="ROUNDS",
                        help="instead of the load run: each page ROUNDS times, one request at a time, in process")
    parser.add_argument("--profile-page", choices=("privacy", *PAGES),
                        help="with --profile: cProfile this page's requests")
    parser.add_argument("--verbose", action="store_true", help="with --profile: list each page's statements")
    args = parser.parse_args(argv)
    url, engine, plan = prepared(args)
    if args.profile:
        return profile(args, url, plan)
    result = measure(args, url, engine, plan)
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
