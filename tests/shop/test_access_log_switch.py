"""gunicorn builds an access line only where PEAKSHOP_ACCESS_LOG asks for one.

gunicorn switches access lines on whenever a logging config is given, and the storefront's
config gives one (`logconfig_dict`, for the format of gunicorn's own lines): without this
switch every request built and redacted a line that was then thrown away. The real gunicorn
`Config` is loaded from the project's own configuration file.
"""

from __future__ import annotations

import pytest
from gunicorn.config import Config

from shop.core.logging import RedactingAccessLogger


def project_config(**overrides) -> Config:
    config = Config()
    config.set("config", "python:shop.gunicorn_conf")
    from shop import gunicorn_conf

    for name in ("logconfig_dict", "logger_class"):
        config.set(name, getattr(gunicorn_conf, name))
    for name, value in overrides.items():
        config.set(name, value)
    return config


class CountingLogger(RedactingAccessLogger):
    """Counts the access lines it is asked to build (their content is tested live, in
    tests/shop/test_live_edges.py, with a real request)."""
    built = 0

    def atoms(self, resp, req, environ, request_time):
        CountingLogger.built += 1
        return {}


def test_the_projects_logging_config_alone_builds_no_access_line():
    logger = CountingLogger(project_config())
    assert project_config().logconfig_dict  # the trap: gunicorn's own switch would be on
    assert logger.access_log_enabled is False
    CountingLogger.built = 0
    logger.access(None, None, {}, None)  # nothing is read from a request it will not log
    assert CountingLogger.built == 0


@pytest.mark.parametrize("destination", ["-", "access.log"])
def test_an_access_log_destination_switches_lines_on(tmp_path, destination):
    target = destination if destination == "-" else str(tmp_path / destination)
    logger = CountingLogger(project_config(accesslog=target))
    assert logger.access_log_enabled is True
    CountingLogger.built = 0
    logger.access(None, None, {}, None)
    assert CountingLogger.built == 1
