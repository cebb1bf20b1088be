"""Storage backends: the local folder, and S3-compatible object storage through boto3 against moto's S3
server (a local double speaking the S3 HTTP protocol), including an upload through the API."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import boto3
import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from quanzi.app import create_app
from quanzi.kit.db import Database
from quanzi.media.errors import StorageUnavailable
from quanzi.media.models import Media
from quanzi.media.storage import LocalStorage, S3Storage, make_storage
from tests.conftest import make_settings, make_user
from tests.media import images

CREDS = {"access_key": "test-key", "secret_key": "test-secret", "region": "us-east-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def make_bucket(endpoint: str, name: str) -> None:
    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test-key", aws_secret_access_key="test-secret",
                 region_name="us-east-1").create_bucket(Bucket=name)


def test_local_storage_writes_whole_files_inside_its_root(tmp_path: Path) -> None:
    st = LocalStorage(tmp_path / "m")
    st.put("ab/abc/full.jpg", b"one", "image/jpeg")
    st.put("ab/abc/full.jpg", b"two", "image/jpeg")  # idempotent overwrite
    assert st.get("ab/abc/full.jpg") == b"two" and st.get("ab/none.jpg") is None
    assert st.url("ab/abc/full.jpg") == "/media/ab/abc/full.jpg"
    assert not [p for p in (tmp_path / "m").rglob(".up-*")]  # no temporary file left
    with pytest.raises(ValueError):
        st.put("../../etc/passwd", b"x", "text/plain")


def test_s3_storage_round_trip(s3_endpoint: str) -> None:
    make_bucket(s3_endpoint, "quanzi-rt")
    st = S3Storage("quanzi-rt", endpoint_url=s3_endpoint, prefix="media/", public_url="https://img.example.cn", **CREDS)
    st.put("ab/abc/full.jpg", images.jpeg(), "image/jpeg")
    assert st.get("ab/abc/full.jpg") == images.jpeg() and st.get("ab/missing.jpg") is None
    head = st.client.head_object(Bucket="quanzi-rt", Key="media/ab/abc/full.jpg")
    assert head["ContentType"] == "image/jpeg" and "immutable" in head["CacheControl"]
    assert st.url("ab/abc/full.jpg") == "https://img.example.cn/media/ab/abc/full.jpg"


def test_s3_storage_unreachable_is_a_clean_refusal() -> None:
    st = S3Storage("nope", endpoint_url=f"http://127.0.0.1:{free_port()}", **CREDS)
    st.client.meta.config.retries = {"max_attempts": 1}
    with pytest.raises(StorageUnavailable):
        st.put("a/b.jpg", b"x", "image/jpeg")


def test_make_storage_refuses_incomplete_settings(db_url: str) -> None:
    with pytest.raises(ValueError, match="BUCKET"):
        make_storage(make_settings(db_url, media_storage="s3"))
    with pytest.raises(ValueError, match="local or s3"):
        make_storage(make_settings(db_url, media_storage="ftp"))


async def test_upload_through_the_api_into_s3(s3_endpoint: str, db_url: str, db: Database) -> None:
    make_bucket(s3_endpoint, "quanzi-api")
    settings = make_settings(db_url, media_storage="s3", media_s3_bucket="quanzi-api",
                             media_s3_endpoint_url=s3_endpoint, media_s3_access_key="test-key",
                             media_s3_secret_key="test-secret", media_s3_region="us-east-1",
                             media_public_url="https://img.example.cn")
    app = create_app(settings, db, start_worker=False)
    _, fan = await make_user(db, "13900000021")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        r = await client.post("/api/media", data={"purpose": "review"},
                              files={"file": ("p.jpg", images.jpeg(1000, 800, gps=True), "image/jpeg")}, headers=fan)
        assert r.status_code == 201, r.text
        bad = await client.post("/api/media", data={"purpose": "review"},
                                files={"file": ("p.jpg", images.truncated_jpeg(), "image/jpeg")}, headers=fan)
        assert bad.json()["error"]["code"] == "media.damaged"
    body = r.json()
    assert body["url"].startswith("https://img.example.cn/media/") and body["url"].endswith("/full.jpg")
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="test-key",
                      aws_secret_access_key="test-secret", region_name="us-east-1")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="quanzi-api")["Contents"])
    assert len(keys) == 3 and all(k.startswith(f"media/{body['content_hash'][:2]}/{body['content_hash']}/") for k in keys)
    full = s3.get_object(Bucket="quanzi-api", Key=keys[-1])["Body"].read()  # .../full.jpg sorts last
    assert Image.open(BytesIO(full)).size == (1000, 800) and b"Exif" not in full
    async with db.read() as s:
        assert await s.scalar(select(func.count(Media.id))) == 1
