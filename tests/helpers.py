"""Helpers shared by tests that drive the API, in-process or against a real server."""

from __future__ import annotations

import time
from collections.abc import Callable

TERMINAL = {"completed", "failed", "cancelled"}


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
