"""Fixtures of the image tests: an S3-compatible server for the bucket store."""

from __future__ import annotations

import pytest

from tests.support.servers import free_port


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3-compatible server on loopback (`ThreadedMotoServer`): the stand-in for AWS S3,
    MinIO or any other S3-compatible store, none of which can run here. boto3 talks to it
    over real HTTP exactly as to them."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_credentials(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
