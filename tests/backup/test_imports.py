"""Web pods and workers never load the backup code or boto3 (the `backup` extra)."""

from __future__ import annotations

import subprocess
import sys

from tests.backup.support import REPO_ROOT, backup_env


def test_storefront_worker_and_cli_start_without_boto3():
    probe = ("import sys, shop.app, shop.orders.worker, shop.cli; "
             "shop.app.create_app({'database_url': 'sqlite://', 'testing': True, "
             "'log_json': False, 'redis_url': 'redis://127.0.0.1:1/0'}); "
             "print(sorted(m for m in ('boto3', 'botocore', 'shop.backup') "
             "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, env=backup_env(),
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
