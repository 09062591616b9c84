"""The worker's entry point: `python -m huey.bin.huey_consumer app.jobs.worker.queue -w 2 -k thread`.
The app is made from the environment as the web server's is; its queue has every task."""

from app import create_app

app = create_app()
queue = app.extensions["jobs"].huey
