"""Fixtures of the backup tests: an S3 stand-in (moto's server on loopback) and stores."""

from __future__ import annotations

import pytest

from tests.backup.support import backup_env, create_bucket
from tests.support.servers import free_port


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3-compatible server on loopback: the stand-in for AWS S3 / MinIO."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_store(s3_endpoint, request) -> tuple[str, dict[str, str]]:
    """A fresh bucket: its s3:// URL and the environment that reaches it."""
    bucket = "peakshop-" + request.node.name.lower().replace("_", "-")[:40].strip("-[]")
    bucket = "".join(c if c.isalnum() or c == "-" else "-" for c in bucket)
    create_bucket(s3_endpoint, bucket)
    env = backup_env({"PEAKSHOP_BACKUP_S3_ENDPOINT": s3_endpoint,
                      "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
    return f"s3://{bucket}/shop", env


@pytest.fixture
def file_store(tmp_path) -> tuple[str, dict[str, str]]:
    return f"file://{tmp_path / 'store'}", backup_env()
