"""The worker's entry point: `python -m huey.bin.huey_consumer app.jobs.worker.queue -w 2 -k thread`.
The app is made from the environment as the web server's is; its queue has every task. In
production with missing or unsafe settings the worker refuses as the web server does: one line per
setting and exit 1 (Huey's consumer adds a line saying the import failed), no traceback."""

import sys

from app import create_app
from app.production import UnsafeProduction

try:
    app = create_app()
except UnsafeProduction as refusal:
    for problem in refusal.problems:
        print(f"拒绝启动 refusing to start — {problem.line()}", file=sys.stderr)
    sys.exit(1)
queue = app.extensions["jobs"].huey
