"""Billing: credit accounts, an append-only ledger, pricing, the free tier, Stripe payments.

Workflows charge a job when they submit it and the job rules refund it when it
fails or is cancelled:

    check_free_tier(session, settings, user.id, duration_s)
    job = submit_job(session, "tracks.generate", user.id, payload)
    charge_job(session, settings, user.id, credits_for_duration(duration_s),
               job_id=job.id, description="track, 90 s")
    session.commit()
"""

from soundstage.platform.billing.free_tier import check_free_tier, free_mode_status
from soundstage.platform.billing.models import CreditAccount, LedgerEntry, LedgerKind, Plan, PppBand
from soundstage.platform.billing.pricing import credits_for_duration
from soundstage.platform.billing.service import (
    InsufficientCredits,
    adjust,
    balance,
    charge_job,
    install_job_rules,
    open_account,
    record_purchase,
    refund_job,
)

__all__ = [
    "CreditAccount",
    "InsufficientCredits",
    "LedgerEntry",
    "LedgerKind",
    "Plan",
    "PppBand",
    "adjust",
    "balance",
    "charge_job",
    "check_free_tier",
    "credits_for_duration",
    "free_mode_status",
    "install_job_rules",
    "open_account",
    "record_purchase",
    "refund_job",
]
