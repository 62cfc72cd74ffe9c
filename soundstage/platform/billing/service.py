"""Credit rules: accounts, charges and refunds of jobs, purchases, admin adjustments.

Functions take a Session and flush; callers commit, so a charge commits or
rolls back together with the job it pays for. Every balance change is one
conditional UPDATE (`... SET balance = balance + :delta WHERE ... AND balance >= :need`,
whose row count decides) plus one ledger row, inside a savepoint: concurrent
requests can never spend the same credit twice, and a duplicate (the same
Stripe event, a second refund of a job) leaves no trace. Invariant: the sum of
a user's ledger amounts equals their balance.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from soundstage.config import Settings, get_settings
from soundstage.platform.accounts.models import User
from soundstage.platform.billing.models import CreditAccount, LedgerEntry, LedgerKind, Plan, PppBand
from soundstage.platform.billing.pricing import PriceBreakdown, PricingInputs, price_breakdown
from soundstage.platform.db import utcnow
from soundstage.platform.errors import AppError, Conflict, NotFound
from soundstage.platform.jobs import models as job_models
from soundstage.platform.jobs.models import Job, JobState
from soundstage.platform.jobs.service import add_transition_listener

BUY_HINT = "buy a credit pack on the Credits page (/credits) or with POST /api/credits/checkout"


class InsufficientCredits(AppError):
    """The balance cannot pay for what was asked (402 Payment Required)."""

    status = 402

    def __init__(self, needed: int, available: int) -> None:
        super().__init__(
            f"not enough credits: this needs {needed}, you have {available}; {BUY_HINT}"
        )
        self.needed = needed
        self.available = available


# -- pricing for an account ---------------------------------------------------


def pricing_inputs(settings: Settings) -> PricingInputs:
    """The pricing engine's inputs from the billing settings."""
    return PricingInputs(
        model_cost_per_min=settings.model_cost_per_min_usd,
        infra_cost_per_min=settings.infra_cost_per_min_usd,
        overhead_per_min=settings.overhead_per_min_usd,
        margin_cap=settings.margin_cap,
        ppp_multipliers=settings.ppp_multipliers,
        solidarity_multiplier=settings.solidarity_multiplier,
        currency=settings.currency,
    )


def breakdown_for(settings: Settings, account: CreditAccount) -> PriceBreakdown:
    """The price of one credit for this account's band and solidarity choice."""
    return price_breakdown(
        pricing_inputs(settings), account.ppp_band, solidarity_opt_in=account.solidarity_opt_in
    )


# -- accounts -------------------------------------------------------------------


def get_account(session: Session, user_id: str) -> CreditAccount | None:
    return session.get(CreditAccount, user_id)


def open_account(session: Session, user_id: str, settings: Settings | None = None) -> CreditAccount:
    """The user's credit account, opened with the trial grant if it does not exist yet.

    Idempotent and safe under concurrency (a unique trial key and the primary
    key make a second opening a no-op). Users created before billing existed get
    their account, and their trial, the first time anything asks. Without
    `settings` the process settings are used.
    """
    account = session.get(CreditAccount, user_id)
    if account is not None:
        return account
    if session.get(User, user_id) is None:
        raise NotFound("user not found")
    settings = settings or get_settings()
    grant, now = settings.trial_credits, utcnow()
    expires = now + timedelta(days=settings.trial_days) if grant else None
    try:
        with session.begin_nested():
            account = CreditAccount(
                user_id=user_id,
                plan=Plan.FREE,
                ppp_band=PppBand.HIGH,
                solidarity_opt_in=False,
                balance=grant,
                trial_expires_at=expires,
                created_at=now,
            )
            session.add(account)
            session.flush()
            if grant:
                note = f"trial: {grant} free credits"
                session.add(
                    _entry(
                        user_id,
                        LedgerKind.TRIAL,
                        grant,
                        grant,
                        note=note,
                        idempotency_key=f"trial:{user_id}",
                    )
                )
                session.flush()
    except IntegrityError:
        account = session.get(CreditAccount, user_id, populate_existing=True)
        if account is None:
            raise
    return account


def balance(session: Session, user_id: str, settings: Settings | None = None) -> int:
    """The user's current balance (opening the account if needed)."""
    open_account(session, user_id, settings)
    value = session.scalar(select(CreditAccount.balance).where(CreditAccount.user_id == user_id))
    return int(value or 0)


def set_solidarity(
    session: Session, user_id: str, opt_in: bool, settings: Settings | None = None
) -> CreditAccount:
    """A user's own choice of the solidarity price."""
    account = open_account(session, user_id, settings)
    account.solidarity_opt_in = opt_in
    session.flush()
    return account


def update_billing(
    session: Session,
    user_id: str,
    *,
    plan: str | None = None,
    ppp_band: str | None = None,
    settings: Settings | None = None,
) -> CreditAccount:
    """An administrator's change of a user's plan or pricing band."""
    account = open_account(session, user_id, settings)
    if plan is not None:
        account.plan = Plan(plan)
    if ppp_band is not None:
        account.ppp_band = PppBand(ppp_band)
    session.flush()
    return account


# -- ledger -----------------------------------------------------------------------


def _entry(user_id: str, kind: str, amount: int, balance_after: int, **fields: Any) -> LedgerEntry:
    return LedgerEntry(
        user_id=user_id,
        kind=kind,
        amount=amount,
        balance_after=balance_after,
        created_at=utcnow(),
        note=fields.pop("note", ""),
        **fields,
    )


def ledger_query(user_id: str, kind: str | None = None) -> Select[tuple[LedgerEntry]]:
    """A user's ledger, newest first."""
    stmt = select(LedgerEntry).where(LedgerEntry.user_id == user_id)
    if kind:
        stmt = stmt.where(LedgerEntry.kind == kind)
    return stmt.order_by(LedgerEntry.id.desc())


def ledger_query_for_job(job_id: str) -> Select[tuple[LedgerEntry]]:
    """A job's charges and refunds, oldest first."""
    return select(LedgerEntry).where(LedgerEntry.job_id == job_id).order_by(LedgerEntry.id)


def ledger_sum(session: Session, user_id: str) -> int:
    """The sum of the user's ledger amounts (equal to the balance, always)."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(LedgerEntry.user_id == user_id)
    )
    return int(total or 0)


def _move_balance(session: Session, user_id: str, delta: int) -> int | None:
    """Add `delta` to the balance unless that would go below zero; the new balance or None.

    One conditional UPDATE: the database decides, so two racing debits can
    never both spend the last credits.
    """
    stmt = update(CreditAccount).where(CreditAccount.user_id == user_id)
    if delta < 0:
        stmt = stmt.where(CreditAccount.balance >= -delta)
    stmt = (
        stmt.values(balance=CreditAccount.balance + delta)
        .returning(CreditAccount.balance)
        .execution_options(synchronize_session=False)
    )
    new_balance = session.execute(stmt).scalar_one_or_none()
    loaded = session.identity_map.get(session.identity_key(CreditAccount, user_id))
    if loaded is not None:
        session.expire(loaded, ["balance"])
    return new_balance


def _current_balance(session: Session, user_id: str) -> int:
    value = session.scalar(select(CreditAccount.balance).where(CreditAccount.user_id == user_id))
    return int(value or 0)


def _check_amount(credits: int, what: str = "credits") -> None:
    if isinstance(credits, bool) or not isinstance(credits, int) or credits <= 0:
        raise AppError(f"{what} must be a positive whole number, not {credits!r}", 422)


def _existing(session: Session, *, external_id: str | None, key: str | None) -> LedgerEntry | None:
    conditions = []
    if external_id:
        conditions.append(LedgerEntry.external_id == external_id)
    if key:
        conditions.append(LedgerEntry.idempotency_key == key)
    if not conditions:
        return None
    return session.scalars(select(LedgerEntry).where(or_(*conditions)).limit(1)).first()


# -- jobs: charge, refund, charge again on retry -------------------------------------


def _job_charges(session: Session, job_id: str) -> list[LedgerEntry]:
    stmt = (
        select(LedgerEntry)
        .where(LedgerEntry.job_id == job_id, LedgerEntry.kind == LedgerKind.DEDUCTION)
        .order_by(LedgerEntry.id)
    )
    return list(session.scalars(stmt))


def _refund_key(job_id: str, charge_number: int) -> str:
    return f"refund:{job_id}:{charge_number}"


def _is_refunded(session: Session, job_id: str, charge_number: int) -> bool:
    key = _refund_key(job_id, charge_number)
    return (
        session.scalar(select(LedgerEntry.id).where(LedgerEntry.idempotency_key == key)) is not None
    )


def outstanding_charge(session: Session, job_id: str) -> LedgerEntry | None:
    """The job's latest deduction when it has not been refunded; None otherwise."""
    charges = _job_charges(session, job_id)
    if not charges or _is_refunded(session, job_id, len(charges)):
        return None
    return charges[-1]


def _debit_job(
    session: Session,
    user_id: str,
    credits: int,
    *,
    job_id: str | None,
    note: str,
    snapshot: dict[str, Any] | None,
) -> LedgerEntry:
    """Take `credits` and record a DEDUCTION (numbered per job); InsufficientCredits otherwise."""
    key = f"charge:{job_id}:{len(_job_charges(session, job_id)) + 1}" if job_id else None
    try:
        with session.begin_nested():
            new_balance = _move_balance(session, user_id, -credits)
            if new_balance is None:
                raise InsufficientCredits(credits, _current_balance(session, user_id))
            entry = _entry(
                user_id,
                LedgerKind.DEDUCTION,
                -credits,
                new_balance,
                job_id=job_id,
                idempotency_key=key,
                pricing_snapshot=snapshot,
                note=note,
            )
            session.add(entry)
            session.flush()
    except IntegrityError as exc:
        raise Conflict("this job was charged by another request at the same moment") from exc
    return entry


def charge_job(
    session: Session,
    settings: Settings,
    user_id: str,
    credits: int,
    *,
    job_id: str | None,
    description: str,
) -> LedgerEntry:
    """Take `credits` from the user for a job, in the caller's transaction.

    Raises InsufficientCredits (402) when the balance cannot pay, Conflict (409)
    when the job already has an unrefunded charge. The ledger row keeps a
    snapshot of the user's price per credit at this moment.
    """
    _check_amount(credits)
    account = open_account(session, user_id, settings)
    if job_id and outstanding_charge(session, job_id) is not None:
        raise Conflict("this job is already charged")
    snapshot = {
        "credits": credits,
        "description": description,
        "plan": account.plan,
        "price": breakdown_for(settings, account).snapshot(),
    }
    return _debit_job(session, user_id, credits, job_id=job_id, note=description, snapshot=snapshot)


def refund_job(session: Session, job_id: str, note: str | None = None) -> LedgerEntry | None:
    """Give back the job's outstanding deduction, once; None when there is nothing to refund."""
    charges = _job_charges(session, job_id)
    if not charges or _is_refunded(session, job_id, len(charges)):
        return None
    charge = charges[-1]
    credits = -charge.amount
    try:
        with session.begin_nested():
            new_balance = _move_balance(session, charge.user_id, credits)
            if new_balance is None:  # the account is gone with its user
                return None
            entry = _entry(
                charge.user_id,
                LedgerKind.REFUND,
                credits,
                new_balance,
                job_id=job_id,
                idempotency_key=_refund_key(job_id, len(charges)),
                pricing_snapshot=charge.pricing_snapshot,
                note=note or f"refund: {charge.note}",
            )
            session.add(entry)
            session.flush()
    except IntegrityError:
        return None  # refunded by a concurrent transition
    return entry


def charge_again(session: Session, job_id: str) -> LedgerEntry | None:
    """On a manual retry: charge what the refunded deduction cost, at its recorded price."""
    charges = _job_charges(session, job_id)
    if not charges or not _is_refunded(session, job_id, len(charges)):
        return None
    last = charges[-1]
    note = last.note if last.note.endswith("(retry)") else f"{last.note} (retry)"
    return _debit_job(
        session,
        last.user_id,
        -last.amount,
        job_id=job_id,
        note=note,
        snapshot=last.pricing_snapshot,
    )


def _on_job_transition(session: Session, job: Job, from_state: str | None, to_state: str) -> None:
    """Refund a paid job that ends without a result; charge it again when a failure is retried."""
    if to_state in job_models.TERMINAL_STATES and to_state != JobState.COMPLETED:
        refund_job(session, job.id, note=f"refund: job {to_state}")
    elif from_state == JobState.FAILED and to_state == JobState.QUEUED:
        charge_again(session, job.id)


def install_job_rules() -> None:
    """Hang the refund and re-charge rules on every job transition (idempotent)."""
    add_transition_listener(_on_job_transition)


# -- purchases and adjustments ------------------------------------------------------


def record_purchase(
    session: Session,
    user_id: str,
    credits: int,
    external_id: str,
    snapshot: dict[str, Any] | None,
    *,
    checkout_session_id: str | None = None,
    settings: Settings | None = None,
) -> tuple[LedgerEntry, bool]:
    """Credit a paid pack once: `(entry, True)` the first time, `(earlier entry, False)` after.

    Idempotent on `external_id` (the Stripe event) and on the checkout session:
    a replayed event, or a second event for the same payment, adds nothing.
    A purchase moves a FREE account to the PRO plan.
    """
    _check_amount(credits)
    key = f"checkout:{checkout_session_id}" if checkout_session_id else None
    earlier = _existing(session, external_id=external_id, key=key)
    if earlier is not None:
        return earlier, False
    open_account(session, user_id, settings)
    try:
        with session.begin_nested():
            new_balance = _move_balance(session, user_id, credits)
            assert new_balance is not None  # adding never fails the floor check
            entry = _entry(
                user_id,
                LedgerKind.PURCHASE,
                credits,
                new_balance,
                external_id=external_id,
                idempotency_key=key,
                pricing_snapshot=snapshot,
                note=f"purchase: {credits} credits",
            )
            session.add(entry)
            session.execute(
                update(CreditAccount)
                .where(CreditAccount.user_id == user_id, CreditAccount.plan == Plan.FREE)
                .values(plan=Plan.PRO)
                .execution_options(synchronize_session=False)
            )
            session.flush()
    except IntegrityError:
        earlier = _existing(session, external_id=external_id, key=key)
        if earlier is None:
            raise
        return earlier, False
    loaded = session.identity_map.get(session.identity_key(CreditAccount, user_id))
    if loaded is not None:
        session.expire(loaded, ["plan"])
    return entry, True


def adjust(
    session: Session,
    user_id: str,
    amount: int,
    note: str,
    admin_id: str,
    settings: Settings | None = None,
) -> LedgerEntry:
    """An administrator's correction (positive or negative); never takes the balance below zero."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise AppError("amount must be a non-zero whole number of credits", 422)
    note = (note or "").strip()
    if not note:
        raise AppError("note: say why the balance is adjusted", 422)
    open_account(session, user_id, settings)
    with session.begin_nested():
        new_balance = _move_balance(session, user_id, amount)
        if new_balance is None:
            available = _current_balance(session, user_id)
            raise Conflict(
                f"this adjustment would take the balance below zero: "
                f"the balance is {available}, the adjustment {amount}"
            )
        entry = _entry(
            user_id, LedgerKind.ADJUSTMENT, amount, new_balance, note=note, actor_id=admin_id
        )
        session.add(entry)
        session.flush()
    return entry
