"""Startup clears work folders that a crash left behind."""

from __future__ import annotations

from fastapi.testclient import TestClient

from soundstage.app import create_app


def test_stale_job_work_folders_are_removed_at_start(settings):
    stale = settings.tmp_dir / "job-abc" / "out"
    stale.mkdir(parents=True)
    (stale / "track.mp3.part").write_bytes(b"half a file")
    with TestClient(create_app(settings)):
        assert settings.tmp_dir.is_dir()
        assert list(settings.tmp_dir.iterdir()) == []
