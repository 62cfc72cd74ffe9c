"""Storage on S3 (moto's server on loopback) and the Storage contract on both backends.

The contract tests run against LocalStorage and S3Storage alike; the S3 tests add multipart
uploads, presigned links, Range streaming through `file_response`, the read-through cache,
and the real app storing and serving files in a bucket.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid
from pathlib import Path

import anyio
import httpx
import pytest
from fastapi import FastAPI, HTTPException, Query
from fastapi.testclient import TestClient

from soundstage.platform.http import install_error_handlers
from soundstage.platform.storage import (
    InvalidKey,
    LocalStorage,
    RemoteStorage,
    Storage,
    StorageUnavailable,
    file_response,
    open_storage,
    read_download,
)
from soundstage.platform.storage import s3 as s3_module
from soundstage.platform.storage.api import MalformedRange, RangeNotSatisfiable, parse_range
from soundstage.platform.storage.s3 import S3Location, S3Storage
from tests.conftest import TEST_SECRET, make_settings
from tests.helpers import wait_job
from tests.s3 import BUCKET, MotoS3

pytestmark = pytest.mark.timeout(300)

MiB = 1024 * 1024


def s3_storage_for(s3: MotoS3, data_dir: Path, **settings: object) -> S3Storage:
    """S3Storage built by the real factory from settings, on its own key prefix."""
    values = {
        **s3.overrides(),
        "s3_multipart_threshold_bytes": MiB,
        "s3_multipart_chunk_bytes": 5 * MiB,
        **settings,
    }
    storage = open_storage(make_settings(data_dir, **values))
    assert isinstance(storage, S3Storage)
    storage.ensure_dirs()
    return storage


@pytest.fixture
def s3_storage(s3_server: MotoS3, tmp_path: Path) -> S3Storage:
    return s3_storage_for(s3_server, tmp_path / "data")


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """Each contract test runs once per backend."""
    if request.param == "local":
        local = LocalStorage(tmp_path / "files", secret_key=TEST_SECRET)
        local.ensure_dirs()
        return local
    return s3_storage_for(request.getfixturevalue("s3_server"), tmp_path / "data")


def temp_leftovers(storage: Storage) -> list[Path]:
    """Temporary files the backend left behind."""
    tmp_root = storage.cache.tmp_root if isinstance(storage, S3Storage) else storage.tmp_root
    return list(tmp_root.iterdir()) if tmp_root.is_dir() else []


def object_keys(s3: MotoS3, storage: S3Storage) -> list[str]:
    """Keys really in the bucket under the storage's prefix (read with another client)."""
    listing = s3.client().list_objects_v2(Bucket=BUCKET, Prefix=storage.location.prefix + "/")
    return sorted(obj["Key"] for obj in listing.get("Contents", ()))


# -- the Storage contract, on both backends --------------------------------------------------


def test_put_read_exists_size(storage: Storage) -> None:
    key = "users/u1/tracks/t1/track.mp3"
    assert not storage.exists(key)
    storage.put_bytes(key, b"ID3" + b"\0" * 100)
    assert storage.exists(key) and storage.size(key) == 103
    with storage.open_read(key) as fh:
        assert fh.read() == b"ID3" + b"\0" * 100
    storage.put_bytes(key, b"replaced")
    assert storage.size(key) == 8
    with pytest.raises(FileNotFoundError):
        storage.size("users/u1/missing.mp3")
    with pytest.raises(FileNotFoundError):
        storage.open_read("users/u1/missing.mp3")


def test_writer_publishes_only_when_the_block_succeeds(storage: Storage) -> None:
    key = "users/u1/tracks/t1/track.flac"
    with storage.writer(key) as tmp:
        assert tmp.suffix == ".flac"  # tools that pick a format from the name keep working
        tmp.write_bytes(b"fLaC" * 10)
        assert not storage.exists(key)  # invisible until the block succeeds
    assert storage.size(key) == 40
    assert temp_leftovers(storage) == []


def test_failing_writer_leaves_no_object_and_keeps_the_old_one(storage: Storage) -> None:
    with pytest.raises(RuntimeError, match="encoder crashed"), storage.writer("a/new.mp3") as tmp:
        tmp.write_bytes(b"half a file")
        raise RuntimeError("encoder crashed")
    assert not storage.exists("a/new.mp3")
    storage.put_bytes("a/b.txt", b"old")
    with pytest.raises(ValueError), storage.writer("a/b.txt") as tmp:
        tmp.write_bytes(b"new but broken")
        raise ValueError
    with storage.open_read("a/b.txt") as fh:
        assert fh.read() == b"old"
    with pytest.raises(FileNotFoundError), storage.writer("a/empty.bin"):
        pass  # nothing written: nothing published
    assert storage.list_keys("a") == ["a/b.txt"]
    assert temp_leftovers(storage) == []


def test_put_file_copy_and_move(storage: Storage, tmp_path: Path) -> None:
    src = tmp_path / "render.wav"
    src.write_bytes(b"RIFF" * 10)
    storage.put_file("users/u/a.wav", src)
    assert src.exists() and storage.size("users/u/a.wav") == 40
    storage.put_file("users/u/b.wav", src, move=True)
    assert not src.exists() and storage.size("users/u/b.wav") == 40
    assert storage.list_keys("users/u") == ["users/u/a.wav", "users/u/b.wav"]
    with pytest.raises(FileNotFoundError):
        storage.put_file("users/u/c.wav", tmp_path / "missing.wav")


def test_list_usage_delete_and_folder_boundaries(storage: Storage) -> None:
    storage.put_bytes("users/u1/tracks/t1/track.mp3", b"x" * 1000)
    storage.put_bytes("users/u1/tracks/t1/cover.png", b"x" * 24)
    storage.put_bytes("users/u1/tracks/t2/track.mp3", b"x" * 500)
    storage.put_bytes("users/u10/tracks/t9/track.mp3", b"x" * 7)  # u1 is not a prefix of u10
    assert storage.list_keys("users/u1") == [
        "users/u1/tracks/t1/cover.png",
        "users/u1/tracks/t1/track.mp3",
        "users/u1/tracks/t2/track.mp3",
    ]
    assert storage.list_keys("users/u1/tracks/t2/track.mp3") == ["users/u1/tracks/t2/track.mp3"]
    assert storage.list_keys("users/nobody") == []
    assert len(storage.list_keys()) == 4
    assert storage.usage_bytes("users/u1") == 1524
    assert storage.usage_bytes("users/u1/tracks/t1/track.mp3") == 1000
    assert storage.usage_bytes() == 1531
    assert storage.delete_prefix("users/u1/tracks/t1") == 1024
    assert storage.usage_bytes("users/u1") == 500
    assert storage.delete_prefix("users/u1/") == 500
    assert storage.delete_prefix("users/nobody") == 0
    assert storage.list_keys() == ["users/u10/tracks/t9/track.mp3"]
    assert storage.delete("users/u10/tracks/t9/track.mp3")
    assert not storage.delete("users/u10/tracks/t9/track.mp3")
    assert storage.usage_bytes() == 0
    with pytest.raises(InvalidKey):
        storage.delete_prefix("")


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../x", "a/../../x", "a//b", "a\\b", ".tmp/x"])
def test_bad_keys_are_rejected_everywhere(storage: Storage, key: str) -> None:
    for call in (
        lambda: storage.put_bytes(key, b"x"),
        lambda: storage.exists(key),
        lambda: storage.open_read(key),
        lambda: storage.local_path(key),
        lambda: storage.delete(key),
        lambda: storage.sign_download(key, 60),
    ):
        with pytest.raises(InvalidKey):
            call()
    with pytest.raises(InvalidKey):
        storage.delete_prefix("../elsewhere")


def test_local_path_is_a_readable_file_with_the_key_suffix(storage: Storage) -> None:
    storage.put_bytes("users/u/tracks/t/track.wav", b"RIFF" + bytes(range(200)))
    path = storage.local_path("users/u/tracks/t/track.wav")
    assert path.name == "track.wav" and path.read_bytes() == b"RIFF" + bytes(range(200))


def test_ping(storage: Storage) -> None:
    assert storage.ping()


def test_signed_app_token_names_the_key(storage: Storage) -> None:
    token = storage.sign_download("users/u/a.mp3", ttl_s=60, filename="My Song.mp3")
    grant = read_download(TEST_SECRET, token)
    assert (grant.key, grant.filename) == ("users/u/a.mp3", "My Song.mp3")


# -- file_response: the same HTTP behaviour on both backends --------------------------------


def files_client(storage: Storage) -> TestClient:
    """A small app serving any key through `file_response`."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/f/{key:path}")
    def serve(key: str, inline: bool = Query(False), name: str | None = None):
        return file_response(storage, key, name, inline=inline)

    return TestClient(app)


DATA = os.urandom(1000)


@pytest.mark.parametrize(
    ("range_header", "status", "expected"),
    [
        (None, 200, DATA),
        ("bytes=0-99", 206, DATA[:100]),
        ("bytes=900-", 206, DATA[900:]),
        ("bytes=-100", 206, DATA[-100:]),
        ("bytes=990-5000", 206, DATA[990:]),
        ("bytes=5000-6000", 416, None),
        ("bytes=50-10", 400, None),
        ("lines=1-2", 400, None),
    ],
)
def test_range_requests_behave_alike(
    storage: Storage, range_header: str | None, status: int, expected: bytes | None
) -> None:
    storage.put_bytes("users/u/track.mp3", DATA)
    headers = {"Range": range_header} if range_header else {}
    with files_client(storage) as client:
        r = client.get("/f/users/u/track.mp3", headers=headers)
    assert r.status_code == status
    if expected is not None:
        assert r.content == expected
        assert r.headers["content-length"] == str(len(expected))
        assert r.headers["accept-ranges"] == "bytes"
        assert r.headers["content-type"] == "audio/mpeg"
    if status == 206:
        start = DATA.index(expected)
        assert r.headers["content-range"] == f"bytes {start}-{start + len(expected) - 1}/1000"
    if status == 416:
        assert r.headers["content-range"] == "bytes */1000"


def test_file_response_names_and_missing_files(storage: Storage) -> None:
    storage.put_bytes("users/u/cover.png", b"\x89PNG" + b"\0" * 10)
    with files_client(storage) as client:
        r = client.get("/f/users/u/cover.png", params={"inline": True, "name": "Front.png"})
        assert r.headers["content-disposition"] == 'inline; filename="Front.png"'
        assert r.headers["content-type"] == "image/png"
        r = client.get("/f/users/u/cover.png", params={"name": "Café.png"})
        assert r.headers["content-disposition"] == "attachment; filename*=utf-8''Caf%C3%A9.png"
        missing = client.get("/f/users/u/missing.png")
        assert (missing.status_code, missing.json()) == (404, {"detail": "file not found"})
    for bad_key in ("../secret_key", "users/u/../../secret_key"):
        with pytest.raises(HTTPException) as exc:
            file_response(storage, bad_key)
        assert exc.value.status_code == 404


# -- S3 only -------------------------------------------------------------------------------


def test_storage_url_parsing() -> None:
    assert S3Location.parse("s3://bucket/a/b/") == S3Location("bucket", "a/b")
    assert S3Location.parse("s3://bucket") == S3Location("bucket", "")
    for bad in ("s3:///prefix", "http://bucket/x", "s3://bucket/../x", "s3://bucket/p?x=1"):
        with pytest.raises(ValueError):
            S3Location.parse(bad)


def test_factory_chooses_the_backend(tmp_path: Path, s3_server: MotoS3) -> None:
    local = open_storage(make_settings(tmp_path / "d1", storage_url=None))
    assert isinstance(local, LocalStorage) and local.root == (tmp_path / "d1/files").resolve()
    other = open_storage(make_settings(tmp_path / "d2", storage_url=f"file://{tmp_path}/blobs"))
    assert isinstance(other, LocalStorage) and other.root == (tmp_path / "blobs").resolve()
    s3 = open_storage(make_settings(tmp_path / "d3", **s3_server.overrides()))
    assert isinstance(s3, S3Storage) and isinstance(s3, RemoteStorage)
    assert s3.cache.root == (tmp_path / "d3/s3-cache").resolve()
    for url, message in [
        ("ftp://host/x", "file:///path or s3://bucket/prefix"),
        ("file://relative/x", "file:///absolute/path"),
    ]:
        with pytest.raises(ValueError, match=message):
            open_storage(make_settings(tmp_path / "d4", storage_url=url))
    half_credentials = {**s3_server.overrides(), "s3_secret_access_key": None}
    with pytest.raises(ValueError, match="SOUNDSTAGE_S3_SECRET_ACCESS_KEY"):
        open_storage(make_settings(tmp_path / "d5", **half_credentials))
    long_links = {**s3_server.overrides(), "signed_link_ttl_s": 8 * 24 * 3600}
    with pytest.raises(ValueError, match="7 days"):
        open_storage(make_settings(tmp_path / "d6", **long_links))


def test_objects_live_under_the_url_prefix(s3_server: MotoS3, s3_storage: S3Storage) -> None:
    s3_storage.put_bytes("users/u/a.txt", b"a")
    with s3_storage.writer("users/u/b.txt") as tmp:
        tmp.write_bytes(b"b")
        assert object_keys(s3_server, s3_storage) == [f"{s3_storage.location.prefix}/users/u/a.txt"]
    prefix = s3_storage.location.prefix
    assert object_keys(s3_server, s3_storage) == [
        f"{prefix}/users/u/a.txt",
        f"{prefix}/users/u/b.txt",
    ]
    head = s3_server.client().head_object(Bucket=BUCKET, Key=f"{prefix}/users/u/a.txt")
    assert head["ContentType"] == "text/plain"


def test_large_files_upload_in_parts(
    s3_server: MotoS3, s3_storage: S3Storage, tmp_path: Path
) -> None:
    data = os.urandom(6 * MiB)  # above the 1 MiB test threshold; parts are at least 5 MiB
    src = tmp_path / "video.mp4"
    src.write_bytes(data)
    s3_storage.put_file("users/u/videos/v/video.mp4", src, move=True)
    assert not src.exists()
    info = s3_storage.stat("users/u/videos/v/video.mp4")
    assert info.size == len(data)
    assert info.etag.strip('"').endswith("-2")  # a multipart upload of two parts
    with s3_storage.open_read("users/u/videos/v/video.mp4") as fh:
        assert hashlib.sha256(fh.read()).digest() == hashlib.sha256(data).digest()
    uploads = s3_server.client().list_multipart_uploads(Bucket=BUCKET)
    assert not [u for u in uploads.get("Uploads", ()) if s3_storage.location.prefix in u["Key"]]
    s3_storage.put_bytes("users/u/small.json", b"{}")
    assert "-" not in s3_storage.stat("users/u/small.json").etag  # one plain PUT


def test_delete_prefix_and_listing_in_batches(
    s3_storage: S3Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_module, "_DELETE_BATCH", 2)
    monkeypatch.setattr(S3Storage, "list_page_size", 2)
    for i in range(5):
        s3_storage.put_bytes(f"users/u/songs/s/clip-{i}.mp4", b"x" * (i + 1))
    assert len(s3_storage.list_keys("users/u")) == 5  # three pages
    assert s3_storage.delete_prefix("users/u/songs") == 15  # three DeleteObjects calls
    assert s3_storage.list_keys() == []


def test_presigned_links_download_with_the_filename(s3_storage: S3Storage) -> None:
    s3_storage.put_bytes("users/u/tracks/t/track.mp3", b"ID3 presigned")
    url = s3_storage.download_url("users/u/tracks/t/track.mp3", 60, filename="Rain on Tin.mp3")
    assert url.startswith("http://127.0.0.1:") and "X-Amz-Signature=" in url
    r = httpx.get(url)
    assert r.status_code == 200 and r.content == b"ID3 presigned"
    assert r.headers["content-disposition"] == "attachment; filename*=utf-8''Rain%20on%20Tin.mp3"
    inline = s3_storage.presigned_url(
        "users/u/tracks/t/track.mp3", 60, "a.mp3", inline=True, media_type="audio/mpeg"
    )
    r = httpx.get(inline, headers={"Range": "bytes=0-2"})
    assert r.status_code == 206 and r.content == b"ID3"
    assert r.headers["content-type"] == "audio/mpeg"
    assert r.headers["content-disposition"] == 'inline; filename="a.mp3"'
    for ttl in (0, 8 * 24 * 3600):
        with pytest.raises(ValueError, match="7 days"):
            s3_storage.presigned_url("users/u/tracks/t/track.mp3", ttl)


def test_app_links_when_presigned_links_are_off(s3_server: MotoS3, tmp_path: Path) -> None:
    storage = s3_storage_for(s3_server, tmp_path / "data", s3_presigned_links=False)
    storage.put_bytes("users/u/a.mp3", b"ID3 through the app")
    url = storage.download_url("users/u/a.mp3", 60, filename="a.mp3")
    assert url.startswith("/api/files/")
    assert read_download(TEST_SECRET, url.removeprefix("/api/files/")).key == "users/u/a.mp3"


def test_multi_range_and_if_range_get_the_whole_file(s3_storage: S3Storage) -> None:
    s3_storage.put_bytes("users/u/track.mp3", DATA)
    with files_client(s3_storage) as client:
        whole = client.get("/f/users/u/track.mp3", headers={"Range": "bytes=0-1,5-6"})
        assert whole.status_code == 200 and whole.content == DATA
        etag = whole.headers["etag"]
        same = client.get("/f/users/u/track.mp3", headers={"Range": "bytes=0-9", "If-Range": etag})
        assert same.status_code == 206 and same.content == DATA[:10]
        stale = {"Range": "bytes=0-9", "If-Range": '"another-version"'}
        assert client.get("/f/users/u/track.mp3", headers=stale).content == DATA
        s3_storage.put_bytes("users/u/empty.bin", b"")
        empty = client.get("/f/users/u/empty.bin")
        assert (empty.status_code, empty.content, empty.headers["content-length"]) == (
            200,
            b"",
            "0",
        )


def send_response(response, request_headers: dict[str, str]) -> tuple[int, dict, bytes]:
    """Run an ASGI response outside any app: (status, headers, body)."""
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    raw = [(k.lower().encode(), v.encode()) for k, v in request_headers.items()]
    scope = {"type": "http", "method": "GET", "headers": raw, "asgi": {"spec_version": "2.4"}}
    anyio.run(response, scope, receive, send)
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


def test_a_file_replaced_after_its_size_was_read_is_served_whole(s3_storage: S3Storage) -> None:
    """The bytes sent always belong to the version whose length the headers announce."""
    key = "users/u/track.mp3"
    s3_storage.put_bytes(key, b"old version")
    response = file_response(s3_storage, key)  # HEAD done: 11 bytes and the old ETag
    s3_storage.put_bytes(key, b"the new, longer version")
    status, headers, body = send_response(response, {})
    assert (status, body) == (200, b"the new, longer version")
    assert headers["content-length"] == str(len(body))

    s3_storage.put_bytes(key, b"old version")
    response = file_response(s3_storage, key)
    s3_storage.put_bytes(key, b"the new, longer version")
    ranged = {"Range": "bytes=0-2", "If-Range": s3_storage.stat(key).etag}
    status, headers, body = send_response(response, ranged)
    assert (status, body, headers["content-range"]) == (206, b"the", "bytes 0-2/23")

    response = file_response(s3_storage, key)
    client_etag = s3_storage.stat(key).etag  # the client holds the part of this version
    s3_storage.put_bytes(key, b"a third one")
    status, headers, body = send_response(response, {"Range": "bytes=0-2", "If-Range": client_etag})
    assert (status, body) == (200, b"a third one")  # now another version: sent whole
    assert "content-range" not in headers


def test_redirect_mode_sends_browsers_to_a_presigned_url(s3_server: MotoS3, tmp_path: Path) -> None:
    storage = s3_storage_for(s3_server, tmp_path / "data", s3_serve="redirect")
    storage.put_bytes("users/u/track.mp3", DATA)
    with files_client(storage) as client:
        r = client.get("/f/users/u/track.mp3", follow_redirects=False)
        assert r.status_code == 307
        assert client.get("/f/users/u/missing.mp3").status_code == 404
    followed = httpx.get(r.headers["location"], headers={"Range": "bytes=10-19"})
    assert followed.status_code == 206 and followed.content == DATA[10:20]


def test_local_path_cache_hits_refreshes_and_forgets(s3_storage: S3Storage) -> None:
    key = "users/u/songs/s/original.wav"
    s3_storage.put_bytes(key, b"version one")
    first = s3_storage.local_path(key)
    assert first.read_bytes() == b"version one" and first.is_relative_to(s3_storage.cache.root)
    first.write_bytes(b"touched locally")  # a cache hit returns the copy without downloading
    assert s3_storage.local_path(key).read_bytes() == b"touched locally"

    s3_storage.put_bytes(key, b"version two")  # a new ETag: fetched again
    second = s3_storage.local_path(key)
    assert second != first and second.read_bytes() == b"version two"
    assert not first.exists()  # older versions of the key are dropped

    s3_storage.delete(key)
    assert not second.exists()
    with pytest.raises(FileNotFoundError):
        s3_storage.local_path(key)
    s3_storage.put_bytes("users/u/songs/s2/a.wav", b"a")
    cached = s3_storage.local_path("users/u/songs/s2/a.wav")
    s3_storage.delete_prefix("users/u/songs")
    assert not cached.exists() and s3_storage.cache.usage_bytes() == 0
    assert temp_leftovers(s3_storage) == []


def test_cache_keeps_to_its_size(s3_server: MotoS3, tmp_path: Path) -> None:
    storage = s3_storage_for(s3_server, tmp_path / "data", s3_cache_max_bytes=250)

    def used_at(path: Path, seconds_ago: float) -> None:
        when = path.stat().st_mtime - seconds_ago
        os.utime(path, (when, when))

    for i in range(4):
        storage.put_bytes(f"users/u/{i}.bin", bytes([i]) * 100)
    zero, one = storage.local_path("users/u/0.bin"), storage.local_path("users/u/1.bin")
    used_at(zero, 60)
    used_at(one, 50)
    two = storage.local_path("users/u/2.bin")  # 300 bytes > 250: the least recently used goes
    assert not zero.exists() and one.exists() and two.exists()
    used_at(two, 40)
    assert storage.local_path("users/u/1.bin") == one  # a hit makes 1 the most recently used
    three = storage.local_path("users/u/3.bin")
    assert not two.exists() and one.exists() and three.exists()
    assert storage.cache.usage_bytes() == 200

    storage.put_bytes("users/u/big.bin", b"b" * 400)
    big = storage.local_path("users/u/big.bin")  # larger than the cache: kept while handed out
    assert big.read_bytes() == b"b" * 400 and storage.cache.usage_bytes() == 400


def test_missing_bucket_is_a_clear_503(s3_server: MotoS3, tmp_path: Path) -> None:
    values = {**s3_server.overrides(), "storage_url": f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}"}
    storage = open_storage(make_settings(tmp_path / "data", **values))
    assert isinstance(storage, S3Storage) and not storage.ping()
    with pytest.raises(StorageUnavailable, match="cannot be reached") as exc:
        storage.ensure_dirs()
    assert exc.value.status == 503
    with pytest.raises(StorageUnavailable, match="does not exist"):
        storage.open_read("users/u/a.mp3")


def test_parse_range_rules() -> None:
    assert parse_range("bytes=0-0", 10) == (0, 1)
    assert parse_range("bytes = 2-", 10) == (2, 10)
    assert parse_range("bytes=-20", 10) == (0, 10)
    assert parse_range("bytes=1-2, 4-5", 10) is None
    for header in ("bytes", "bytes=", "bytes=a-b", "bytes=1-x", "bytes=--1"):
        with pytest.raises(MalformedRange):
            parse_range(header, 10)
    for header in ("bytes=10-", "bytes=-0"):
        with pytest.raises(RangeNotSatisfiable):
            parse_range(header, 10)


# -- the real app on S3 ---------------------------------------------------------------------


def tone(path: Path, seconds: float = 3) -> Path:
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=f=440:d={seconds}"]
    subprocess.run([*cmd, "-ac", "2", "-b:a", "128k", str(path)], check=True)
    return path


def test_the_app_stores_and_serves_songs_and_tracks_in_s3(
    make_client, s3_server: MotoS3, tmp_path: Path
) -> None:
    overrides = s3_server.overrides()
    client = make_client(**overrides)
    storage = client.app.state.storage
    assert isinstance(storage, S3Storage)
    email, password = f"s3-{uuid.uuid4().hex[:8]}@example.com", "password-123"
    assert client.post("/api/auth/register", json={"email": email, "password": password}).is_success
    token = client.post("/api/auth/login", json={"email": email, "password": password}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}

    # A song upload goes to the bucket and streams back with Range.
    mp3 = tone(tmp_path / "tone.mp3")
    files = {"file": ("tone.mp3", mp3.read_bytes(), "audio/mpeg")}
    song = client.post("/api/songs", files=files, headers=headers)
    assert song.status_code == 201, song.text
    song_id = song.json()["id"]
    assert any(
        key.endswith(f"/songs/{song_id}/original.mp3") for key in object_keys(s3_server, storage)
    )
    full = client.get(f"/api/songs/{song_id}/file", headers=headers)
    assert full.status_code == 200 and full.content == mp3.read_bytes()
    part = client.get(f"/api/songs/{song_id}/file", headers={**headers, "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == mp3.read_bytes()[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{mp3.stat().st_size}"

    # An ambient track: the job writes its files to S3; peaks read them through the cache.
    body = {"prompt": "rain on a tin roof, slow piano", "duration_s": 30, "seed": 3}
    accepted = client.post("/api/generate", json=body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    job = wait_job(lambda p: client.get(p, headers=headers).json(), accepted.json()["job_id"])
    assert job["state"] == "completed", job["error"]
    track_id = accepted.json()["track_id"]
    track = client.get(f"/api/tracks/{track_id}", headers=headers).json()
    audio = next(f for f in track["files"] if f["kind"] == "mp3")
    ranged = client.get(audio["url"], headers={**headers, "Range": "bytes=0-99"})
    assert ranged.status_code == 206 and ranged.headers["content-range"].endswith(
        f"/{audio['size']}"
    )
    peaks = client.get(f"/api/tracks/{track_id}/peaks", headers=headers).json()
    assert len(peaks["peaks"]) > 100 and max(peaks["peaks"]) > 0
    link = client.get(f"{audio['url']}/link", headers=headers).json()
    fetched = httpx.get(link["url"])  # a presigned S3 URL: no login, straight from the bucket
    assert fetched.status_code == 200 and fetched.content[:3] in (b"ID3", b"\xff\xfb")
    assert len(fetched.content) == audio["size"]

    # Nothing lands in the local files folder; deleting removes the objects.
    settings = client.app.state.settings
    assert not [p for p in settings.files_dir.rglob("*") if p.is_file()]
    assert client.delete(f"/api/tracks/{track_id}", headers=headers).status_code == 204
    assert client.delete(f"/api/songs/{song_id}", headers=headers).status_code == 204
    assert object_keys(s3_server, storage) == []
