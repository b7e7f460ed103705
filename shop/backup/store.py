"""Where backups go: a folder (`file:///path`) or S3-compatible object storage
(`s3://bucket/prefix`). Both are the same five verbs over keys; only ciphertext passes here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO, Protocol
from urllib.parse import unquote, urlparse

from shop.backup.errors import BackupError

ENDPOINT_VARIABLE = "PEAKSHOP_BACKUP_S3_ENDPOINT"
URL_FORMS = "file:///absolute/path or s3://bucket/prefix"


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: datetime  # naive UTC, when the store received it


class Store(Protocol):
    url: str

    def put(self, key: str, source: BinaryIO) -> int: ...
    def open(self, key: str) -> BinaryIO: ...
    def list(self, prefix: str) -> list[StoredObject]: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, keys: list[str]) -> None: ...


def open_store(url: str, environ: Mapping[str, str] | None = None) -> Store:
    """The store a URL names; BackupError with the accepted forms when it names none."""
    environ = os.environ if environ is None else environ
    parsed = urlparse(url or "")
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost") or not parsed.path.startswith("/"):
            raise BackupError(f"{url!r} is not a usable backup URL: a folder is written "
                              "file:///absolute/path (three slashes)")
        if parsed.query or parsed.fragment or url.rstrip().endswith(("?", "#")):
            raise BackupError(f"{url!r} has a query or a fragment, which a folder has not: "
                              "write file:///absolute/path (a '?' or '#' in a folder's name "
                              "is written %3F or %23)")
        # A URL's path is percent-encoded: file:///backups/my%20shop is "/backups/my shop".
        return FileStore(url, unquote(parsed.path).rstrip("/") or "/")
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise BackupError(f"{url!r} names no bucket: write s3://bucket/prefix")
        return S3Store(url, parsed.netloc, parsed.path.strip("/"), environ)
    raise BackupError(f"{url!r} is not a backup URL: use {URL_FORMS}")


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


class FileStore:
    """A folder, on another disk or a mounted off-site volume. Writes are atomic (rename)."""

    def __init__(self, url: str, root: str):
        self.url = url
        self.root = root

    def _path(self, key: str) -> str:
        return os.path.join(self.root, *key.split("/"))

    def put(self, key: str, source: BinaryIO) -> int:
        path = self._path(key)
        parent = os.path.dirname(self.root.rstrip("/")) or "/"
        if not os.path.isdir(parent):
            # The store's own folder is made on first use, but not a whole path: a volume
            # that is not mounted must fail the backup, not fill the local disk.
            raise BackupError(f"{parent} does not exist: mount the backup volume, or create "
                              f"the folder, or choose another --to")
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            target = tempfile.NamedTemporaryFile(dir=os.path.dirname(path),
                                                 prefix=".incoming-", delete=False)
        except PermissionError:
            raise BackupError(f"cannot write to {self.root}: give this user write access "
                              "to the folder or choose another --to") from None
        except OSError as problem:
            raise BackupError(f"cannot write to {self.root} ({problem.strerror}): "
                              "check the folder and its free space") from None
        try:
            with target:
                shutil.copyfileobj(source, target, length=1024 * 1024)
                target.flush()
                os.fsync(target.fileno())
            os.replace(target.name, path)
        except BaseException as problem:
            # Never leave half an object under a real name; the next run starts over.
            with contextlib.suppress(OSError):
                os.remove(target.name)
            if isinstance(problem, OSError):
                raise BackupError(f"cannot write to {self.root} ({problem.strerror}): "
                                  "check the folder and its free space") from None
            raise
        return os.path.getsize(path)

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError:
            raise BackupError(f"{key} is missing from {self.url}: the backup is incomplete; "
                              "restore from another one") from None

    def list(self, prefix: str) -> list[StoredObject]:
        if not os.path.isdir(self.root):
            raise BackupError(f"{self.root} does not exist: check the URL "
                              "(file:///absolute/path) or mount the backup volume")
        found = []
        # Walk only the top folder the prefix names ("base/", "wal/"), never the whole root.
        start = self._path(prefix.split("/")[0]) if prefix else self.root
        if not os.path.isdir(start):
            return []
        for folder, _, names in os.walk(start):
            for name in names:
                if name.startswith(".incoming-"):
                    continue
                path = os.path.join(folder, name)
                key = os.path.relpath(path, self.root).replace(os.sep, "/")
                if key.startswith(prefix):
                    stat = os.stat(path)
                    found.append(StoredObject(key, stat.st_size, _utc(
                        datetime.fromtimestamp(stat.st_mtime, UTC))))
        return sorted(found, key=lambda item: item.key)

    def exists(self, key: str) -> bool:
        return os.path.exists(self._path(key))

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            try:
                os.remove(self._path(key))
            except FileNotFoundError:
                pass


class S3Store:
    """A bucket of an S3-compatible service (AWS S3, MinIO, Ceph RGW...) through boto3."""

    def __init__(self, url: str, bucket: str, prefix: str, environ: Mapping[str, str]):
        import boto3
        from botocore.config import Config

        self.url = url
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        import botocore.exceptions as aws

        self.endpoint = environ.get(ENDPOINT_VARIABLE) or None
        try:
            self._client = boto3.client(
                "s3", endpoint_url=self.endpoint,
                region_name=environ.get("AWS_DEFAULT_REGION") or environ.get("AWS_REGION")
                or "us-east-1",
                # Fail within seconds when the store is unreachable instead of retrying for
                # minutes.
                config=Config(connect_timeout=5, read_timeout=60,
                              retries={"max_attempts": 3, "mode": "standard"}))
        except ValueError as problem:  # botocore: "Invalid endpoint: ..."
            raise BackupError(f"{ENDPOINT_VARIABLE} is not usable ({problem}): give the "
                              "store's URL, like http://minio:9000") from None
        except aws.BotoCoreError as problem:  # e.g. a key id without its secret
            raise BackupError(f"the S3 settings are incomplete ({problem}): set both "
                              "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") from None

    def _call(self, action, *args, **kwargs):
        import botocore.exceptions as aws

        where = self.endpoint or "AWS S3"
        try:
            return action(*args, **kwargs)
        except (aws.EndpointConnectionError, aws.ConnectTimeoutError,
                aws.ReadTimeoutError):
            raise BackupError(f"the backup store at {where} is unreachable: check "
                              f"{ENDPOINT_VARIABLE} and the network") from None
        except aws.NoCredentialsError:
            raise BackupError("no S3 credentials: set AWS_ACCESS_KEY_ID and "
                              "AWS_SECRET_ACCESS_KEY") from None
        except aws.ClientError as problem:
            code = problem.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchBucket",):
                raise BackupError(f"bucket {self.bucket!r} does not exist at {where}: "
                                  "create it or fix the URL") from None
            if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"):
                raise BackupError(f"the store at {where} refused the credentials ({code}): "
                                  "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY and "
                                  "the bucket policy") from None
            if code in ("NoSuchKey", "404"):
                raise BackupError(f"an object is missing from {self.url}: the backup is "
                                  "incomplete; restore from another one") from None
            raise BackupError(f"the store at {where} answered {code}: "
                              f"{problem.response.get('Error', {}).get('Message', '')}"
                              ) from None
        except aws.BotoCoreError as problem:
            raise BackupError(f"the backup store at {where} failed ({problem}): check "
                              f"{ENDPOINT_VARIABLE} and the credentials") from None

    def put(self, key: str, source: BinaryIO) -> int:
        from boto3.s3.transfer import TransferConfig

        counted = _CountingReader(source)
        # Multipart in 16 MiB parts: memory stays bounded whatever the database's size.
        self._call(self._client.upload_fileobj, counted, self.bucket, self.prefix + key,
                   Config=TransferConfig(multipart_chunksize=16 * 1024 * 1024,
                                         max_concurrency=4))
        return counted.count

    def open(self, key: str) -> BinaryIO:
        response = self._call(self._client.get_object, Bucket=self.bucket,
                              Key=self.prefix + key)
        return response["Body"]

    def list(self, prefix: str) -> list[StoredObject]:
        found = []
        paginator = self._client.get_paginator("list_objects_v2")
        pages = self._call(lambda: list(paginator.paginate(Bucket=self.bucket,
                                                           Prefix=self.prefix + prefix)))
        for page in pages:
            for item in page.get("Contents", []):
                found.append(StoredObject(item["Key"][len(self.prefix):], item["Size"],
                                          _utc(item["LastModified"])))
        return sorted(found, key=lambda item: item.key)

    def exists(self, key: str) -> bool:
        # A listing rather than HEAD: a missing key is then an empty answer, not an error
        # to tell apart from the store's real ones.
        full_key = self.prefix + key
        listed = self._call(self._client.list_objects_v2, Bucket=self.bucket,
                            Prefix=full_key, MaxKeys=1)
        return any(item["Key"] == full_key for item in listed.get("Contents", []))

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": self.prefix + key} for key in keys[start:start + 1000]]
            self._call(self._client.delete_objects, Bucket=self.bucket,
                       Delete={"Objects": batch, "Quiet": True})


class _CountingReader:
    def __init__(self, source: BinaryIO):
        self.source = source
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.count += len(data)
        return data
