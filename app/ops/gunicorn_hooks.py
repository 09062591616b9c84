"""What gunicorn.conf.py calls so that Prometheus metrics add up across worker processes, and so
that a worker's long-lived objects stay out of the cycle collector's way (settle()).

In gunicorn.conf.py, which loads this module by its path (importing it as app.ops.gunicorn_hooks
would import the application into the master and pin its code for every reload):

    gunicorn_hooks.prepare_multiprocess(os.environ.get("PROMETHEUS_MULTIPROC_DIR", "/run/yinhui/metrics"))

    def child_exit(server, worker):
        gunicorn_hooks.child_exit(server, worker)

    def post_worker_init(worker):
        gunicorn_hooks.post_worker_init(worker)

    def post_request(worker, req, environ, resp):
        gunicorn_hooks.post_request(worker, req, environ, resp)

prepare_multiprocess() runs once in the master, before the workers are forked: it empties the
directory (values of an earlier run would otherwise be added in) and switches prometheus_client to
writing its values there. Every metric of app.ops.metrics has labels, so none holds a value before
its first request and the order of imports does not matter.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

from prometheus_client import multiprocess, values


def prepare_multiprocess(directory: str | os.PathLike[str]) -> Path:
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    # prometheus_client chose its value class when it was imported, perhaps before the variable was
    # set; metrics look it up when a labelled value is first made, so choosing again here suffices.
    values.ValueClass = values.get_value_class()
    return path


def child_exit(_server: Any, worker: Any) -> None:
    """A worker ended: its live gauges no longer count (counters and histograms stay summed)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


# Requests after which a worker settles again: by then it has compiled the statements and templates
# of the pages it serves, which live as long as it does.
SETTLE_AFTER = (1_000, 10_000, 100_000)


def settle() -> None:
    """Collect once, then freeze what is alive (gc.freeze): the application's modules, classes and
    mappers, and the statements and templates compiled so far, live as long as the worker. Left in
    the collector's generations, every full collection walked all of them again: in a warmed
    worker about 235,000 objects, 120 ms (a full collection came about once in 200 requests), and
    the request that triggered it, and the worker's other threads, waited. Frozen: about 1 ms
    (bench/README.md). Freezing only hides them from the cycle collector; reference counting still
    frees what they stop using."""
    gc.collect()
    gc.freeze()


def post_worker_init(_worker: Any) -> None:
    """The worker has imported the application: settle what importing it made."""
    settle()


def post_request(worker: Any, *_: Any) -> None:
    """After SETTLE_AFTER's numbers of requests, settle what serving them compiled. A worker's
    threads may both see a number pass; settling twice is harmless."""
    due = getattr(worker, "yinhui_settle_at", SETTLE_AFTER[0])
    if due is None or worker.nr < due:
        return
    worker.yinhui_settle_at = next((n for n in SETTLE_AFTER if n > worker.nr), None)
    settle()
