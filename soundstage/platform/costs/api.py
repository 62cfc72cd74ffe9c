"""Routes: cost estimates before submitting, each job's cost lines, a user's cost summary."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field

from soundstage.platform.costs import service
from soundstage.platform.costs.estimates import estimate_job
from soundstage.platform.deps import CurrentUser, SessionDep, SettingsDep
from soundstage.platform.jobs.service import get_job_for_owner

router = APIRouter(tags=["costs"])


class EstimateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_type: str = Field(min_length=1, max_length=100, examples=["music_video.generate"])
    payload: dict[str, Any] = Field(
        default_factory=dict,
        description='What the job would be asked to do, e.g. {"duration_s": 180}',
        examples=[{"duration_s": 180}],
    )


class CostLineOut(BaseModel):
    provider: str
    step: str
    usd: float
    compute_s: float
    units: float
    unit: str


class BudgetOut(BaseModel):
    estimate_usd: float
    per_job_limit: float | None
    daily_limit: float | None
    spent_today: float
    reserved: float
    remaining_today: float | None
    allowed: bool
    reason: str | None
    retry_after_s: int | None


class EstimateOut(BaseModel):
    job_type: str
    lines: list[CostLineOut]
    total_usd: float
    total_compute_s: float
    budget: BudgetOut


class JobCostOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    attempt: int
    provider: str
    step: str
    usd: float
    compute_s: float
    units: float
    unit: str
    estimated: bool
    created_at: datetime


class JobCostsOut(BaseModel):
    job_id: str
    state: str
    estimated_usd: float | None
    budget_usd: float | None
    total_usd: float
    compute_s: float
    lines: list[JobCostOut]


class ProviderCostOut(BaseModel):
    provider: str
    usd: float
    compute_s: float
    jobs: int


class DayCostOut(BaseModel):
    date: str
    usd: float
    compute_s: float


class SummaryOut(BaseModel):
    days: int
    since: datetime
    total_usd: float
    compute_s: float
    jobs: int
    by_provider: list[ProviderCostOut]
    by_day: list[DayCostOut]
    today: BudgetOut


@router.post("/api/costs/estimate", response_model=EstimateOut)
def estimate(
    body: EstimateIn, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> EstimateOut:
    """What a job would cost (per provider and step) and whether your budgets allow it.

    Nothing is created. Embedded engines cost $0; their lines give expected compute time.
    """
    result = estimate_job(settings, body.job_type, body.payload, required=True)
    status = service.budget_status(session, settings, user.id, result.total_usd)
    return EstimateOut(
        job_type=result.job_type,
        lines=[CostLineOut(**line.as_dict()) for line in result.lines],
        total_usd=float(result.total_usd),
        total_compute_s=result.total_compute_s,
        budget=BudgetOut(**status.as_dict()),
    )


@router.get("/api/costs/summary", response_model=SummaryOut)
def summary(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    days: Annotated[int, Query(ge=1, le=366, description="UTC days back, today included")] = 30,
) -> dict[str, Any]:
    """Your costs over the last `days` days: totals, per provider, per day, and today's budget."""
    return service.summary(session, settings, user.id, days)


@router.get("/api/jobs/{job_id}/costs", response_model=JobCostsOut)
def job_costs(
    job_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> JobCostsOut:
    """Every cost line of your job: provider charges and the compute time of each attempt."""
    job = get_job_for_owner(session, job_id, user.id)
    rows = service.job_costs(session, job.id)
    budget = settings.job_budget_usd
    return JobCostsOut(
        job_id=job.id,
        state=job.state,
        estimated_usd=_money(job.estimated_usd),
        budget_usd=_money(budget),
        total_usd=float(service.job_total_usd(session, job.id)),
        compute_s=round(sum(r.compute_s for r in rows), 3),
        lines=[JobCostOut.model_validate(r) for r in rows],
    )


def _money(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def install(app: FastAPI) -> None:
    """The cost routes, and budget refusals as 402, or 429 with Retry-After."""
    app.include_router(router)
