"""Cost governance (seed 003): estimates before a job starts, budgets, cost records per job.

    estimate = estimate_job(settings, "music_video.generate", {"duration_s": 180})
    check_budget(session, settings, user.id, estimate)      # 402 / 429 when over budget
    ctx.record_cost(record, step="clips")                   # inside a running job

See docs/governance.md.
"""

from soundstage.platform.costs.estimates import (
    CostEstimator,
    CostLine,
    Estimate,
    EstimateError,
    estimate_job,
    estimated_types,
    register_cost_estimator,
)
from soundstage.platform.costs.models import JobCost
from soundstage.platform.costs.service import (
    BudgetExceeded,
    BudgetStatus,
    DailyBudgetExceeded,
    add_cost,
    budget_status,
    check_budget,
    job_costs,
    job_total_usd,
    summary,
)

__all__ = [
    "BudgetExceeded",
    "BudgetStatus",
    "CostEstimator",
    "CostLine",
    "DailyBudgetExceeded",
    "Estimate",
    "EstimateError",
    "JobCost",
    "add_cost",
    "budget_status",
    "check_budget",
    "estimate_job",
    "estimated_types",
    "job_costs",
    "job_total_usd",
    "register_cost_estimator",
    "summary",
]
