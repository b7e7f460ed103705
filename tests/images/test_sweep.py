"""Image files no row points to — what a crash between storing an upload's files and
committing its row leaves — are removed by `peakshop images sweep` and by the worker's
hourly chore; files in use, and files young enough to belong to an upload in progress, stay.

The orphans are written with the media store's own `put` under keys shaped as an upload
shapes them: exactly what such a crash leaves behind (killing a process at that instant
cannot be arranged reliably from a test).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from shop.core.timeutil import utcnow
from shop.images.storage import BucketStore, FolderStore
from shop.images.sweep import sweep_chore, sweep_orphans
from tests.images.support import picture, upload

WEBP = "image/webp"


def crash_leftovers(store, merchant_id: int = 1) -> list[str]:
    """The files of an upload whose row never committed."""
    upload_id = uuid.uuid4().hex[:16]
    keys = [f"products/{merchant_id}/{upload_id}/{width}-{uuid.uuid4().hex[:20]}.webp"
            for width in (320, 640)]
    for key in keys:
        store.put(key, b"RIFF....WEBP", WEBP)
    return keys


def age(root: Path, keys: list[str], minutes: float) -> None:
    then = time.time() - minutes * 60
    for key in keys:
        os.utime(root / key, (then, then))


def all_files(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}


@pytest.fixture
def media(app, api, shop, client):
    """A product with one uploaded image; the local media folder; that image's keys."""
    api.add_product(shop, "MUG")
    image = upload(client, shop, "MUG", picture(700, 500))
    assert image.status_code == 201, image.get_json()
    root = Path(app.extensions["peakshop"].settings.instance_path) / "media"
    in_use = all_files(root)
    assert len(in_use) == 3
    return root, in_use


def run_sweep(settings_overrides, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PEAKSHOP_DATABASE_URL": settings_overrides["database_url"],
           "PEAKSHOP_REDIS_URL": settings_overrides["redis_url"],
           "PEAKSHOP_INSTANCE_PATH": settings_overrides["instance_path"],
           "PEAKSHOP_SECRET_KEY": "test-secret"}
    return subprocess.run([sys.executable, "-m", "peakshop.cli", "images", "sweep", *args],
                          env=env, capture_output=True, text=True, timeout=120)


def test_the_command_removes_old_orphans_only(settings_overrides, media):
    root, in_use = media
    store = FolderStore(root)
    old = crash_leftovers(store)
    young = crash_leftovers(store)
    age(root, old, minutes=90)
    age(root, young, minutes=20)
    # A partial file of a write that died is garbage too, once old.
    partial = root / "products/1/deadbeefdeadbeef/.640-abc.webp.123.tmp"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"half")
    age(root, [partial.relative_to(root).as_posix()], minutes=90)
    # The files in use are older still: age alone never removes anything.
    age(root, sorted(in_use), minutes=600)

    dry = run_sweep(settings_overrides, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert sorted(line.split()[-1] for line in dry.stdout.splitlines()
                  if line.startswith("would remove")) == sorted(
        [*old, partial.relative_to(root).as_posix()])
    assert all_files(root) == {*in_use, *old, *young, partial.relative_to(root).as_posix()}

    done = run_sweep(settings_overrides)
    assert done.returncode == 0, done.stderr
    assert "3 unreferenced files removed; 3 in use; 2 unreferenced but younger than 60 " \
           "minutes, kept" in done.stdout
    assert all_files(root) == {*in_use, *young}
    assert not (root / old[0]).parent.exists()  # the upload's own folder went with its files

    shorter = run_sweep(settings_overrides, "--older-than-minutes", "15")
    assert shorter.returncode == 0, shorter.stderr
    assert all_files(root) == in_use


def test_images_still_load_after_a_sweep(client, settings_overrides, media, shop):
    root, in_use = media
    age(root, sorted(in_use), minutes=600)
    assert run_sweep(settings_overrides).returncode == 0
    image = client.get(f"/api/v1/shops/{shop.slug}/products/MUG").get_json()["images"][0]
    for source in image["sources"]:
        served = client.get(source["url"].split("localhost", 1)[1])
        served.get_data()
        served.close()
        assert served.status_code == 200


@pytest.mark.parametrize("args, fix", [
    (["--older-than-minutes", "1"], "1 is not in the range 5<=x<=5256000"),
    (["--older-than-minutes", "soon"], "'soon' is not a valid integer"),
])
def test_bad_options_are_one_line(settings_overrides, args, fix):
    refused = run_sweep(settings_overrides, *args)
    assert refused.returncode == 2
    assert fix in refused.stderr and "Traceback" not in refused.stderr


def test_an_unreachable_database_removes_nothing(settings_overrides, media, tmp_path):
    root, in_use = media
    old = crash_leftovers(FolderStore(root))
    age(root, old, minutes=90)
    refused = run_sweep({**settings_overrides,
                         "database_url": "postgresql+psycopg://nobody@127.0.0.1:9/none"})
    assert refused.returncode == 1
    assert "nothing was removed: the database is unreachable" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert all_files(root) == {*in_use, *old}


def test_the_worker_chore_keeps_a_day_of_grace(app, media):
    root, in_use = media
    store = FolderStore(root)
    day_old, hours_old = crash_leftovers(store), crash_leftovers(store)
    age(root, day_old, minutes=25 * 60)
    age(root, hours_old, minutes=5 * 60)
    resources = app.extensions["peakshop"]
    report = sweep_chore(resources.settings, resources.database)()
    assert sorted(report.removed) == sorted(day_old)
    assert all_files(root) == {*in_use, *hours_old}


def test_the_worker_runs_the_sweep_among_its_chores(app, media, redis_client):
    """The chore the order worker's housekeeping thread runs, found by its name."""
    from shop.orders.metrics import WorkerStats
    from shop.orders.worker import chores
    from shop.orders.worker_settings import load_worker_settings

    root, in_use = media
    old = crash_leftovers(FolderStore(root))
    age(root, old, minutes=25 * 60)
    resources = app.extensions["peakshop"]
    settings = resources.settings
    found = {chore.name: chore for chore in chores(
        settings, load_worker_settings(settings.instance_path, {}), resources.database,
        redis_client, WorkerStats())}
    sweep = found["image file sweep"]
    assert sweep.interval_s == 3600
    sweep.run()
    assert all_files(root) == in_use


def test_a_grace_too_short_to_be_safe_is_refused(app):
    resources = app.extensions["peakshop"]
    with pytest.raises(ValueError, match="upload in progress"):
        sweep_orphans(resources.database, FolderStore(Path("/nonexistent")), now=utcnow(),
                      older_than=timedelta(minutes=1))


def test_orphans_in_the_bucket_are_removed(make_app, api, shop, s3_server, s3_credentials):
    """The bucket is moto's S3-compatible server (tests/images/conftest.py). Objects there
    cannot be back-dated, so the sweep is asked about a moment two hours ahead instead."""
    name = f"peakshop-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_server)
    client.create_bucket(Bucket=name)
    app = make_app(media_url=f"s3://{name}/media", media_s3_endpoint=s3_server)
    api.add_product(shop, "MUG")
    assert upload(app.test_client(), shop, "MUG", picture(700, 500)).status_code == 201
    store = app.extensions["peakshop_media"]
    assert isinstance(store, BucketStore)
    orphans = crash_leftovers(store)
    client.put_object(Bucket=name, Key="elsewhere/not-ours.txt", Body=b"x")

    def stored():
        listed = client.list_objects_v2(Bucket=name).get("Contents", [])
        return {item["Key"] for item in listed}

    everything = stored()
    database = app.extensions["peakshop"].database
    now = sweep_orphans(database, store, now=utcnow())
    assert now.removed == () and now.too_young == 2 and now.referenced == 3
    ahead = utcnow() + timedelta(hours=2)
    dry = sweep_orphans(database, store, now=ahead, dry_run=True)
    assert sorted(dry.removed) == sorted(orphans) and stored() == everything
    swept = sweep_orphans(database, store, now=ahead)
    assert sorted(swept.removed) == sorted(orphans) and swept.failed == ()
    assert stored() == everything - {f"media/{key}" for key in orphans}
    assert "elsewhere/not-ours.txt" in stored()  # outside the images' keys: never ours
    client.close()
