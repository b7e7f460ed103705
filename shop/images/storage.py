"""Where image files live: a folder on local disk (the default) or an S3-compatible bucket.

A small seam with four operations, so the service neither knows nor cares which one runs.
Keys are content-hashed (`.../640-<sha256 prefix>.webp`): a file under a key never changes,
which is what lets browsers and CDNs keep it for a year (`IMMUTABLE`).

- `PEAKSHOP_MEDIA_URL` unset: files under `<instance>/media`, served by the storefront itself
  at `/media/<key>` (`file:///srv/media` puts them elsewhere).
- `PEAKSHOP_MEDIA_URL=s3://bucket/prefix`: objects in the bucket, written with their
  Content-Type and Cache-Control, read by browsers from `PEAKSHOP_MEDIA_PUBLIC_URL` (a CDN
  or the bucket's public address; default `<endpoint>/<bucket>`). `PEAKSHOP_MEDIA_S3_ENDPOINT`
  names an S3-compatible server (MinIO, Ceph, ...); credentials come the usual AWS way
  (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, an instance role, ...). boto3 is needed then:
  it comes with `peakshop[s3]` (and `peakshop[all]`).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from shop.core.settings import ConfigError, Settings

log = logging.getLogger(__name__)

IMMUTABLE = "public, max-age=31536000, immutable"
LOCAL_PREFIX = "/media"


@dataclass(frozen=True)
class StoredFile:
    key: str
    modified_at: datetime  # aware, UTC


class MediaStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key` (overwriting is harmless: keys are content-hashed)."""

    def delete(self, key: str) -> None:
        """Remove `key`; a key already gone is no error."""

    def url(self, key: str) -> str:
        """Where a browser loads `key` from: a path on this site or an absolute URL."""

    def files(self, under: str) -> Iterator[StoredFile]:
        """Every file whose key starts with `under`, with when it was last written."""


class FolderStore:
    """Files in a folder; the storefront serves them (shop.images.views)."""

    def __init__(self, root: Path):
        self.root = root

    def path_of(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"media key {key!r} leaves the media folder")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        target = self.path_of(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        partial.write_bytes(data)
        os.replace(partial, target)  # atomic: a reader never sees half a file

    def delete(self, key: str) -> None:
        path = self.path_of(key)
        path.unlink(missing_ok=True)
        # Each upload has a folder of its own: once its last file is gone, so is the folder
        # (no other upload writes there, so this cannot race with a put).
        if path.parent != self.root.resolve():
            try:
                path.parent.rmdir()
            except OSError:  # still holds the upload's other files
                pass

    def url(self, key: str) -> str:
        return f"{LOCAL_PREFIX}/{key}"

    def files(self, under: str) -> Iterator[StoredFile]:
        top = self.root / under
        if not top.is_dir():
            return
        for path in top.rglob("*"):
            try:
                stat = path.lstat()
            except FileNotFoundError:  # removed while we walked: nothing left to judge
                continue
            if path.is_file() and not path.is_symlink():
                # Partial files of a write that died (".<name>.<pid>.tmp") are listed too.
                yield StoredFile(path.relative_to(self.root).as_posix(),
                                 datetime.fromtimestamp(stat.st_mtime, UTC))


class BucketStore:
    """Objects in an S3-compatible bucket, public for reading through `public_url`."""

    def __init__(self, bucket: str, prefix: str, public_url: str, client):
        self.bucket = bucket
        self.prefix = prefix
        self.public_url = public_url.rstrip("/")
        self.client = client

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data,
                               ContentType=content_type, CacheControl=IMMUTABLE)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)

    def url(self, key: str) -> str:
        return f"{self.public_url}/{self.prefix}{key}"

    def files(self, under: str) -> Iterator[StoredFile]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + under)
        for page in pages:
            for item in page.get("Contents", []):
                yield StoredFile(item["Key"][len(self.prefix):], item["LastModified"])


def store_for(settings: Settings) -> MediaStore:
    """The store `PEAKSHOP_MEDIA_URL` names; ConfigError names a setting that cannot work."""
    if not settings.media_url:
        return FolderStore(Path(settings.instance_path) / "media")
    parts = urlparse(settings.media_url)
    if parts.scheme == "file":
        return FolderStore(Path(parts.path))
    if importlib.util.find_spec("boto3") is None:
        raise ConfigError("PEAKSHOP_MEDIA_URL is an s3:// bucket, which needs boto3: install "
                          "peakshop[s3] (or peakshop[all]), or unset it to keep images on disk")
    import boto3
    from botocore.config import Config

    endpoint = settings.media_s3_endpoint
    client = boto3.client("s3", endpoint_url=endpoint,
                          config=Config(retries={"max_attempts": 3, "mode": "standard"},
                                        connect_timeout=5, read_timeout=30))
    public = settings.media_public_url or (
        f"{endpoint.rstrip('/')}/{parts.netloc}" if endpoint
        else f"https://{parts.netloc}.s3.amazonaws.com")
    prefix = parts.path.strip("/")
    return BucketStore(parts.netloc, f"{prefix}/" if prefix else "", public, client)


def public_origin(store: MediaStore) -> str | None:
    """The origin images load from when it is not this site (for the pages' CSP)."""
    if isinstance(store, BucketStore):
        parts = urlparse(store.public_url)
        return f"{parts.scheme}://{parts.netloc}"
    return None
