"""The floor for bench/http.py: the smallest Flask app, served by gunicorn with the same settings as
Yinhui, so that a page's requests per second can be read as a share of what the stack can do."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, World!"
