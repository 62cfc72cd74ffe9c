"""Storage: atomic writes, key rules, deletion and usage, signed links, HTTP Range."""

from __future__ import annotations

import os
import time
from pathlib import Path

import jwt
import pytest

from soundstage.platform.storage import InvalidKey, LocalStorage, read_download, validate_key
from soundstage.platform.storage.signing import LinkError, _link_key

SECRET = "storage-test-secret-key-long-enough"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    store = LocalStorage(tmp_path / "files", secret_key=SECRET)
    store.ensure_dirs()
    return store


def leftovers(storage: LocalStorage) -> list[Path]:
    return list(storage.tmp_root.iterdir())


def test_writer_publishes_atomically(storage: LocalStorage) -> None:
    key = "users/u1/tracks/t1/track.mp3"
    with storage.writer(key) as tmp:
        assert tmp.suffix == ".mp3"  # tools that pick a format from the name keep working
        assert tmp.parent == storage.tmp_root
        tmp.write_bytes(b"ID3" + b"\0" * 100)
        assert not storage.exists(key)  # invisible until the block succeeds
    assert storage.exists(key)
    assert storage.size(key) == 103
    with storage.open_read(key) as fh:
        assert fh.read(3) == b"ID3"
    assert leftovers(storage) == []


def test_writer_leaves_nothing_on_exception(storage: LocalStorage) -> None:
    key = "users/u1/tracks/t1/track.mp3"
    with pytest.raises(RuntimeError, match="encoder crashed"), storage.writer(key) as tmp:
        tmp.write_bytes(b"half a file")
        raise RuntimeError("encoder crashed")
    assert not storage.exists(key)
    assert not (storage.root / "users").exists()
    assert leftovers(storage) == []


def test_writer_keeps_old_version_on_failure(storage: LocalStorage) -> None:
    storage.put_bytes("a/b.txt", b"old")
    with pytest.raises(ValueError), storage.writer("a/b.txt") as tmp:
        tmp.write_bytes(b"new but broken")
        raise ValueError
    assert storage.local_path("a/b.txt").read_bytes() == b"old"


def test_writer_requires_a_file(storage: LocalStorage) -> None:
    with pytest.raises(FileNotFoundError), storage.writer("a/empty.bin"):
        pass
    assert not storage.exists("a/empty.bin")


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../x",
        "a/../../x",
        "a/./b",
        "a//b",
        "a\\b",
        "..",
        ".tmp/x",
        "a/\x00b",
        "a/",
    ],
)
def test_bad_keys_are_rejected(storage: LocalStorage, key: str) -> None:
    with pytest.raises(InvalidKey):
        validate_key(key)
    with pytest.raises(InvalidKey):
        storage.local_path(key)


def test_put_file_copy_and_move(storage: LocalStorage, tmp_path: Path) -> None:
    src = tmp_path / "render.wav"
    src.write_bytes(b"RIFF" * 10)
    storage.put_file("users/u/a.wav", src)
    assert src.exists() and storage.size("users/u/a.wav") == 40
    storage.put_file("users/u/b.wav", src, move=True)
    assert not src.exists() and storage.size("users/u/b.wav") == 40
    assert storage.list_keys("users/u") == ["users/u/a.wav", "users/u/b.wav"]


def test_delete_prefix_and_usage(storage: LocalStorage) -> None:
    storage.put_bytes("users/u1/tracks/t1/track.mp3", b"x" * 1000)
    storage.put_bytes("users/u1/tracks/t1/cover.png", b"x" * 24)
    storage.put_bytes("users/u1/tracks/t2/track.mp3", b"x" * 500)
    storage.put_bytes("users/u2/tracks/t9/track.mp3", b"x" * 7)
    assert storage.usage_bytes("users/u1") == 1524
    assert storage.usage_bytes() == 1531
    assert storage.delete_prefix("users/u1/tracks/t1") == 1024
    assert storage.usage_bytes("users/u1") == 500
    assert not (storage.root / "users/u1/tracks/t1").exists()
    assert storage.delete_prefix("users/u1/") == 500
    assert not (storage.root / "users/u1").exists()  # empty folders pruned
    assert storage.delete_prefix("users/nobody") == 0
    assert storage.delete("users/u2/tracks/t9/track.mp3")
    assert not storage.delete("users/u2/tracks/t9/track.mp3")
    assert storage.usage_bytes() == 0
    with pytest.raises(InvalidKey):
        storage.delete_prefix("")
    with pytest.raises(InvalidKey):
        storage.delete_prefix("../elsewhere")


def test_stale_temp_files_are_cleaned(storage: LocalStorage) -> None:
    stale = storage.tmp_root / "crashed-upload.mp3"
    stale.write_bytes(b"partial")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    fresh = storage.tmp_root / "in-progress.mp3"
    fresh.write_bytes(b"partial")
    assert storage.cleanup_temp(max_age_s=3600) == 1
    assert not stale.exists() and fresh.exists()
    assert storage.cleanup_temp() == 1
    assert leftovers(storage) == []


def test_signed_tokens(storage: LocalStorage) -> None:
    token = storage.sign_download("users/u/a.mp3", ttl_s=60, filename="My Song.mp3")
    grant = read_download(SECRET, token)
    assert (grant.key, grant.filename) == ("users/u/a.mp3", "My Song.mp3")
    with pytest.raises(LinkError) as exc:
        read_download("another-secret-key-entirely-different", token)
    assert exc.value.status == 403
    expired = storage.sign_download("users/u/a.mp3", ttl_s=-1)
    with pytest.raises(LinkError) as exc:
        read_download(SECRET, expired)
    assert exc.value.status == 410
    with pytest.raises(InvalidKey):
        storage.sign_download("../etc/passwd", ttl_s=60)


def _put_on_app(app, key: str, data: bytes) -> None:
    app.state.storage.put_bytes(key, data)


def test_signed_link_route(client, app) -> None:
    data = bytes(range(256)) * 4
    _put_on_app(app, "users/u/tracks/t/track.mp3", data)
    url = app.state.storage.download_url("users/u/tracks/t/track.mp3", 60, filename="Rain.mp3")
    r = client.get(url)  # no login needed
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["content-type"] == "audio/mpeg"
    assert 'filename="Rain.mp3"' in r.headers["content-disposition"]


def test_signed_link_expired_tampered_missing(client, app, settings) -> None:
    storage = app.state.storage
    _put_on_app(app, "users/u/x.bin", b"data")
    expired = storage.sign_download("users/u/x.bin", ttl_s=-5)
    r = client.get(f"/api/files/{expired}")
    assert r.status_code == 410
    assert r.json() == {"detail": "download link expired"}

    token = storage.sign_download("users/u/x.bin", ttl_s=60)
    head, body, sig = token.split(".")
    forged_body = jwt.encode(
        {"k": "users/other/secret.bin", "exp": 9999999999}, "wrong-key-" * 4, algorithm="HS256"
    ).split(".")[1]
    for bad in (f"{head}.{forged_body}.{sig}", f"{head}.{body}.{sig[:-3]}abc", "not-a-token"):
        r = client.get(f"/api/files/{bad}")
        assert r.status_code == 403, bad
        assert r.json() == {"detail": "invalid download link"}

    # A link for a key outside the storage rules, even if signed, finds nothing.
    sneaky = jwt.encode(
        {"k": "../secret_key", "exp": 9999999999},
        _link_key(settings.resolved_secret_key()),
        algorithm="HS256",
    )
    assert client.get(f"/api/files/{sneaky}").status_code == 404
    gone = storage.sign_download("users/u/missing.bin", ttl_s=60)
    r = client.get(f"/api/files/{gone}")
    assert r.status_code == 404
    assert r.json() == {"detail": "file not found"}


def test_range_request_gets_206(client, app) -> None:
    data = os.urandom(1000)
    _put_on_app(app, "users/u/track.mp3", data)
    url = app.state.storage.download_url("users/u/track.mp3", 60)
    r = client.get(url, headers={"Range": "bytes=0-99"})
    assert r.status_code == 206
    assert r.headers["content-range"] == "bytes 0-99/1000"
    assert r.content == data[:100]
    assert r.headers["accept-ranges"] == "bytes"
    r = client.get(url, headers={"Range": "bytes=900-"})
    assert r.status_code == 206
    assert r.content == data[900:]
    r = client.get(url, headers={"Range": "bytes=5000-6000"})
    assert r.status_code == 416
