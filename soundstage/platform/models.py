"""Imports every platform table so `Base.metadata` and Alembic see them."""

from __future__ import annotations


def import_platform_models() -> None:
    """Import the platform's table modules (accounts, jobs)."""
    import soundstage.platform.accounts.models
    import soundstage.platform.billing.models
    import soundstage.platform.costs.models
    import soundstage.platform.jobs.models  # noqa: F401
