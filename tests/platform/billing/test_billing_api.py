"""The billing API through the real app: credits and the trial, ledger, cost preview, pricing,
the solidarity choice, admin changes, and the free tier's 403 and 429 with Retry-After."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from fastapi import Query

from soundstage.platform.accounts.service import create_user
from soundstage.platform.billing import check_free_tier, service
from soundstage.platform.billing.free_tier import DailyLimitReached, next_utc_midnight
from soundstage.platform.db import utcnow
from soundstage.platform.deps import CurrentUser, SessionDep, SettingsDep
from tests.platform.billing.conftest import PASSWORD


def db_of(client):
    return client.app.state.db


def charge(client, user_id: str, credits: int, job_id: str) -> None:
    with db_of(client).session() as session:
        service.charge_job(session, client.app.state.settings, user_id, credits, job_id=job_id,
                           description="test")  # fmt: skip
        session.commit()


def test_register_grants_400_trial_credits_exactly_once(client, user) -> None:
    r = client.get("/api/credits", headers=user.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["balance"] == 400
    assert body["plan"] == "FREE" and body["ppp_band"] == "HIGH"
    assert body["solidarity_opt_in"] is False
    assert body["trial_expires_at"] is not None
    with db_of(client).session() as session:  # opening again grants nothing
        service.open_account(session, user.id)
        session.commit()
    client.get("/api/credits", headers=user.headers)
    ledger = client.get("/api/credits/ledger", headers=user.headers).json()
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in ledger["items"]] == [
        ("TRIAL", 400, 400)
    ]
    again = client.post("/api/auth/register", json={"email": user.email, "password": PASSWORD})
    assert again.status_code == 409
    assert client.get("/api/credits", headers=user.headers).json()["balance"] == 400


def test_users_from_before_billing_get_their_account_lazily(client) -> None:
    with db_of(client).session() as session:
        create_user(session, "early@example.com", PASSWORD)  # no billing call
    tokens = client.post(
        "/api/auth/login", json={"email": "early@example.com", "password": PASSWORD}
    )
    headers = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    assert client.get("/api/credits", headers=headers).json()["balance"] == 400
    assert client.get("/api/credits/ledger", headers=headers).json()["total"] == 1


def test_billing_routes_need_login(client) -> None:
    for method, path in [("GET", "/api/credits"), ("GET", "/api/credits/ledger"),
                         ("GET", "/api/credits/cost-preview?duration_s=60"),
                         ("GET", "/api/pricing"), ("PATCH", "/api/credits/settings"),
                         ("POST", "/api/credits/checkout"), ("GET", "/api/free-mode/status")]:  # fmt: skip
        assert client.request(method, path).status_code == 401, path


def test_ledger_is_paginated_and_private(client, make_user) -> None:
    me, other = make_user(), make_user()
    for i in range(5):
        charge(client, me.id, 1, f"job-{i}")
    charge(client, other.id, 9, "other-job")
    page = client.get("/api/credits/ledger?page=1&page_size=2", headers=me.headers).json()
    assert page["total"] == 6 and len(page["items"]) == 2
    assert [e["balance_after"] for e in page["items"]] == [395, 396]  # newest first
    last = client.get("/api/credits/ledger?page=3&page_size=2", headers=me.headers).json()
    assert [e["kind"] for e in last["items"]] == ["DEDUCTION", "TRIAL"]
    only = client.get("/api/credits/ledger?kind=TRIAL", headers=me.headers).json()
    assert only["total"] == 1
    everything = client.get("/api/credits/ledger?page_size=100", headers=me.headers).json()
    assert "other-job" not in {e["job_id"] for e in everything["items"]}
    assert client.get("/api/credits/ledger?kind=GIFT", headers=me.headers).status_code == 422


def test_cost_preview(client, user) -> None:
    r = client.get("/api/credits/cost-preview?duration_s=60", headers=user.headers)
    assert r.status_code == 200
    assert r.json() == {
        "duration_s": 60.0, "job_type": None, "credits_required": 2, "balance": 400,
        "balance_after": 398, "affordable": True,
        "free_tier": {"allowed": True, "reason": None, "retry_after_s": None},
    }  # fmt: skip
    over = client.get("/api/credits/cost-preview?duration_s=90", headers=user.headers).json()
    assert over["credits_required"] == 3
    assert over["free_tier"]["allowed"] is False
    assert (
        "at most 60 s" in over["free_tier"]["reason"] and "Pro plan" in over["free_tier"]["reason"]
    )
    typed = client.get(
        "/api/credits/cost-preview?duration_s=30&job_type=ambient.generate", headers=user.headers
    )
    assert typed.status_code == 200 and typed.json()["job_type"] == "ambient.generate"
    # Nothing was charged by previewing.
    assert client.get("/api/credits", headers=user.headers).json()["balance"] == 400


def test_cost_preview_when_it_is_not_affordable(client, user) -> None:
    charge(client, user.id, 399, "big")
    body = client.get("/api/credits/cost-preview?duration_s=45", headers=user.headers).json()
    assert (body["balance"], body["credits_required"], body["balance_after"]) == (1, 2, -1)
    assert body["affordable"] is False


@pytest.mark.parametrize(
    ("query", "fragment"),
    [("", "duration_s"), ("duration_s=0", "greater than 0"), ("duration_s=-5", "greater than 0"),
     ("duration_s=abc", "duration_s"), ("duration_s=999999", "less than or equal"),
     ("duration_s=60&job_type=nope", "unknown job type 'nope'")],
)  # fmt: skip
def test_cost_preview_bad_input_is_422(client, user, query: str, fragment: str) -> None:
    r = client.get(f"/api/credits/cost-preview?{query}", headers=user.headers)
    assert r.status_code == 422
    assert fragment in r.json()["detail"]


def test_pricing_follows_band_and_solidarity(client, user, make_admin) -> None:
    body = client.get("/api/pricing", headers=user.headers).json()
    assert body["seconds_per_credit"] == 30
    assert body["breakdown"]["price_per_credit"] == "0.1232"
    assert body["breakdown"]["base_cost_per_min"] == "0.22"
    assert [(p["credits"], p["price"], p["unit_amount"]) for p in body["packs"]] == [
        (300, "36.96", 3696), (700, "86.24", 8624), (2000, "246.40", 24640)
    ]  # fmt: skip
    admin = make_admin()
    r = client.patch(f"/api/admin/users/{user.id}/billing", json={"ppp_band": "LOW"},
                     headers=admin.headers)  # fmt: skip
    assert r.status_code == 200 and r.json()["ppp_band"] == "LOW"
    r = client.patch(
        "/api/credits/settings", json={"solidarity_opt_in": True}, headers=user.headers
    )
    assert r.status_code == 200 and r.json()["solidarity_opt_in"] is True
    body = client.get("/api/pricing", headers=user.headers).json()
    assert Decimal(body["breakdown"]["price_per_credit"]) == Decimal("0.073304")
    assert body["packs"][0]["price"] == "21.99"


def test_users_may_change_solidarity_but_not_band_or_plan(client, user) -> None:
    for body in ({"ppp_band": "LOW"}, {"plan": "PRO"}, {"solidarity_opt_in": True, "plan": "PRO"}):
        r = client.patch("/api/credits/settings", json=body, headers=user.headers)
        assert r.status_code == 403
        assert "administrator" in r.json()["detail"]
    assert client.patch("/api/credits/settings", json={}, headers=user.headers).status_code == 422
    r = client.patch("/api/credits/settings", json={"colour": "red"}, headers=user.headers)
    assert r.status_code == 422
    off = client.patch(
        "/api/credits/settings", json={"solidarity_opt_in": False}, headers=user.headers
    )
    assert off.json()["solidarity_opt_in"] is False
    credits = client.get("/api/credits", headers=user.headers).json()
    assert (credits["plan"], credits["ppp_band"]) == ("FREE", "HIGH")


def test_admin_adjusts_credits(client, user, make_admin) -> None:
    admin = make_admin()
    url = f"/api/admin/users/{user.id}/credits"
    r = client.post(url, json={"amount": 25, "note": "sorry for the outage"}, headers=admin.headers)
    assert r.status_code == 201
    assert (r.json()["kind"], r.json()["amount"], r.json()["balance_after"]) == (
        "ADJUSTMENT",
        25,
        425,
    )
    r = client.post(url, json={"amount": -500, "note": "too much"}, headers=admin.headers)
    assert r.status_code == 409
    assert "below zero" in r.json()["detail"] and "425" in r.json()["detail"]
    for bad in ({"amount": 0, "note": "x"}, {"amount": 5}, {"amount": 5, "note": "  "},
                {"amount": 10**7, "note": "x"}, {"amount": "lots", "note": "x"}):  # fmt: skip
        assert client.post(url, json=bad, headers=admin.headers).status_code == 422, bad
    ghost = client.post("/api/admin/users/nobody/credits", json={"amount": 1, "note": "x"},
                        headers=admin.headers)  # fmt: skip
    assert ghost.status_code == 404
    assert client.get("/api/credits", headers=user.headers).json()["balance"] == 425


def test_non_admins_get_403_on_admin_routes(client, user, make_user) -> None:
    other = make_user()
    r = client.post(f"/api/admin/users/{other.id}/credits", json={"amount": 100, "note": "me"},
                    headers=user.headers)  # fmt: skip
    assert r.status_code == 403
    r = client.patch(f"/api/admin/users/{user.id}/billing", json={"plan": "PRO"},
                     headers=user.headers)  # fmt: skip
    assert r.status_code == 403
    assert client.get("/api/credits", headers=other.headers).json()["balance"] == 400
    assert client.get("/api/credits", headers=user.headers).json()["plan"] == "FREE"


def test_admin_sets_plan_and_band(client, user, make_admin) -> None:
    admin = make_admin()
    url = f"/api/admin/users/{user.id}/billing"
    r = client.patch(url, json={"plan": "ENTERPRISE", "ppp_band": "UMID"}, headers=admin.headers)
    assert r.status_code == 200
    assert r.json() | {"trial_expires_at": None} == {
        "user_id": user.id, "balance": 400, "plan": "ENTERPRISE", "ppp_band": "UMID",
        "solidarity_opt_in": False, "trial_expires_at": None,
    }  # fmt: skip
    for bad in ({}, {"plan": "GOLD"}, {"ppp_band": "MARS"}, {"balance": 10**6}):
        assert client.patch(url, json=bad, headers=admin.headers).status_code == 422, bad
    status = client.get("/api/free-mode/status", headers=user.headers).json()
    assert status["is_free"] is False and status["daily_limit"] is None


# -- free tier -----------------------------------------------------------------


def test_free_mode_status_counts_todays_unrefunded_jobs(client, user) -> None:
    status = client.get("/api/free-mode/status", headers=user.headers).json()
    assert status["plan"] == "FREE" and status["is_free"] is True
    assert (status["daily_limit"], status["used_today"], status["remaining_today"]) == (5, 0, 5)
    assert status["trial_credits"] == 400 and status["max_duration_s"] == 60.0
    resets = datetime.fromisoformat(status["resets_at"])
    assert resets == next_utc_midnight(utcnow()) and resets.hour == 0
    charge(client, user.id, 2, "a")
    charge(client, user.id, 2, "b")
    with db_of(client).session() as session:
        service.refund_job(session, "b")  # a failed job does not use up the day
        session.commit()
    status = client.get("/api/free-mode/status", headers=user.headers).json()
    assert (status["used_today"], status["remaining_today"]) == (1, 4)


@pytest.fixture
def free_check_client(client):
    """The app with one extra route that applies the free tier, as workflow routes do."""

    @client.app.post("/api/test-only/free-check")
    def free_check(
        user: CurrentUser,
        session: SessionDep,
        settings: SettingsDep,
        duration_s: float = Query(),
    ) -> dict[str, bool]:
        check_free_tier(session, settings, user.id, duration_s)
        return {"ok": True}

    return client


def test_free_tier_duration_cap_is_403_with_the_cap_and_the_way_up(free_check_client, user):
    client = free_check_client
    ok = client.post("/api/test-only/free-check?duration_s=60", headers=user.headers)
    assert ok.status_code == 200
    r = client.post("/api/test-only/free-check?duration_s=61", headers=user.headers)
    assert r.status_code == 403
    detail = r.json()["detail"]
    assert "at most 60 s" in detail and "61 s" in detail and "/credits" in detail


def test_free_tier_daily_limit_is_429_with_retry_after(free_check_client, user) -> None:
    client = free_check_client
    for i in range(5):
        assert client.post(
            "/api/test-only/free-check?duration_s=30", headers=user.headers
        ).is_success
        charge(client, user.id, 1, f"today-{i}")
    before = utcnow()
    r = client.post("/api/test-only/free-check?duration_s=30", headers=user.headers)
    after = utcnow()
    assert r.status_code == 429
    midnight = next_utc_midnight(before)
    retry_after = int(r.headers["Retry-After"])
    assert math.ceil((midnight - after).total_seconds()) <= retry_after
    assert retry_after <= math.ceil((midnight - before).total_seconds())
    assert r.json()["retry_after_s"] == retry_after
    assert "5 tracks a day" in r.json()["detail"] and "00:00 UTC" in r.json()["detail"]
    preview = client.get("/api/credits/cost-preview?duration_s=30", headers=user.headers).json()
    assert preview["free_tier"]["allowed"] is False
    assert preview["free_tier"]["retry_after_s"] is not None


def test_daily_limit_ignores_other_days_and_paid_plans(client, user, make_admin) -> None:
    settings = client.app.state.settings
    for i in range(5):
        charge(client, user.id, 1, f"old-{i}")
    with db_of(client).session() as session:  # those jobs were yesterday
        from sqlalchemy import update

        from soundstage.platform.billing.models import LedgerEntry

        session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.job_id.like("old-%"))
            .values(created_at=utcnow() - timedelta(days=1))
        )
        session.commit()
    with db_of(client).session() as session:
        check_free_tier(session, settings, user.id, 30)  # allowed again
        for i in range(5):
            service.charge_job(session, settings, user.id, 1, job_id=f"new-{i}", description="t")
        session.commit()
    with db_of(client).session() as session, pytest.raises(DailyLimitReached):
        check_free_tier(session, settings, user.id, 30)
    admin = make_admin()
    client.patch(f"/api/admin/users/{user.id}/billing", json={"plan": "PRO"}, headers=admin.headers)
    with db_of(client).session() as session:
        check_free_tier(session, settings, user.id, 600)  # no cap, no daily limit on PRO
