"""Helpers shared by tests that drive the API, in-process or against a real server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

TERMINAL = {"completed", "failed", "cancelled", "moderation_failed"}


def wait_job(get_json: Callable[[str], dict], job_id: str, timeout_s: float = 300) -> dict:
    """Poll GET /api/jobs/{id} through `get_json(path)` until the job ends."""
    deadline = time.monotonic() + timeout_s
    job: dict = {}
    while time.monotonic() < deadline:
        job = get_json(f"/api/jobs/{job_id}")
        if job["state"] in TERMINAL:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout_s:g} s: {job}")


SOUNDSTAGE = Path(sys.executable).with_name("soundstage")


def generate_song(out: Path, prompt: str, *, seed: int, duration_s: float = 30, bpm=None) -> Path:
    """An MP3 rendered by our own engine with `soundstage generate` (tags, embedded cover)."""
    cmd = [str(SOUNDSTAGE), "generate", prompt, "--duration", str(duration_s), "--seed", str(seed)]
    if bpm is not None:
        cmd += ["--bpm", str(bpm)]
    cmd += ["--no-stems", "--out", str(out), "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return Path(json.loads(done.stdout)["files"]["mp3"])
