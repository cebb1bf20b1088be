"""Where accepted images are kept: a storage interface with a local folder (default) and S3-compatible
object storage (production; AWS S3, Tencent COS, Aliyun OSS, MinIO… through boto3)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

from quanzi.config import Settings
from quanzi.media.errors import StorageUnavailable


class Storage(Protocol):
    """Keys are relative paths like "ab/abcd…/750.jpg". `put` is idempotent: the same key holds the same
    bytes (keys derive from the content), so a retry or a concurrent upload of the same file is harmless."""

    def put(self, key: str, data: bytes, content_type: str) -> None: ...
    def get(self, key: str) -> bytes | None: ...
    def url(self, key: str) -> str: ...


class LocalStorage:
    """Files under `root`, served by the app under `base_url` (/media)."""

    def __init__(self, root: Path, base_url: str = "/media/") -> None:
        self.root = root
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):  # keys are ours, but never write outside the root
            raise ValueError(f"bad media key {key!r}")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file and rename: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".up-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.is_file() else None

    def url(self, key: str) -> str:
        return self.base_url + key


class S3Storage:
    """An S3-compatible bucket through boto3. Objects are public-read through `public_url` (a CDN or the
    bucket's public endpoint); the bucket policy, not this code, decides who may read."""

    def __init__(self, bucket: str, *, endpoint_url: str | None = None, region: str | None = None,
                 access_key: str | None = None, secret_key: str | None = None, prefix: str = "",
                 public_url: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix
        self.client: Any = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region, aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=20),
        )
        base = public_url or (f"{endpoint_url.rstrip('/')}/{bucket}" if endpoint_url
                              else f"https://{bucket}.s3.amazonaws.com")
        self.public_url = base.rstrip("/") + "/"

    def put(self, key: str, data: bytes, content_type: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data, ContentType=content_type,
                                   CacheControl="public, max-age=31536000, immutable")
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable() from exc

    def get(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            return bytes(self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise

    def url(self, key: str) -> str:
        return self.public_url + self.prefix + key


def make_storage(settings: Settings) -> Storage:
    if settings.media_storage == "local":
        return LocalStorage(settings.media_dir)
    if settings.media_storage == "s3":
        if not settings.media_s3_bucket:
            raise ValueError("QUANZI_MEDIA_STORAGE=s3 needs QUANZI_MEDIA_S3_BUCKET")
        return S3Storage(settings.media_s3_bucket, endpoint_url=settings.media_s3_endpoint_url,
                         region=settings.media_s3_region, access_key=settings.media_s3_access_key,
                         secret_key=settings.media_s3_secret_key, prefix=settings.media_s3_prefix,
                         public_url=settings.media_public_url)
    raise ValueError(f"unknown QUANZI_MEDIA_STORAGE {settings.media_storage!r} (local or s3)")
