"""The yardstick: a Flask hello-world served under the storefront's own gunicorn settings."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return {"hello": "world"}
