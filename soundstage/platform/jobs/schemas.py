"""API models for jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    type: str
    state: str
    progress: float
    stage: str
    eta_s: float | None
    error: str | None
    attempts: int
    max_attempts: int
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    run_after: datetime
    payload: dict[str, Any]
    result: dict[str, Any] | None
    estimated_usd: float | None = None  # the cost estimate accepted at submission (USD)
    parent_id: str | None = None  # a child job's parent (a fanned-out job's part)


class JobEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    from_state: str | None
    to_state: str
    message: str
