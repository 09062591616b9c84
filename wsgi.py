"""WSGI entry point: `gunicorn wsgi:app`, or `flask --app wsgi run`."""

import gc

from app import create_app

app = create_app()

# Everything loaded so far (the application, its models, routes and libraries: hundreds of
# thousands of objects that live as long as the worker) is moved out of the garbage collector's
# reach. Otherwise each full collection walks all of it again: about one per request on the pages
# that load many rows, 1.3 ms of tasks near me's 15 ms at a million members. Objects made by
# requests are collected as before.
gc.collect()
gc.freeze()
