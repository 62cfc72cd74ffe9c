"""Routes under /api/policy: check texts before submitting them, list the categories."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from soundstage.config import Settings
from soundstage.platform.deps import CurrentUser, SettingsDep
from soundstage.platform.policy.moderation import check_settings
from soundstage.platform.policy.service import load_policy, screen

router = APIRouter(prefix="/api/policy", tags=["policy"])

MAX_FIELDS = 20
MAX_TEXT_CHARS = 20_000
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: dict[FieldName, str] = Field(
        min_length=1,
        max_length=MAX_FIELDS,
        description='Field name → text, e.g. {"prompt": "...", "lyrics": "..."}',
        examples=[{"prompt": "rain on a tin roof, slow piano"}],
    )

    @field_validator("texts")
    @classmethod
    def _short_enough(cls, texts: dict[str, str]) -> dict[str, str]:
        for name, text in texts.items():
            if len(text) > MAX_TEXT_CHARS:
                raise ValueError(f"{name}: at most {MAX_TEXT_CHARS} characters per text")
        return texts


class FindingOut(BaseModel):
    category: str
    field: str
    reason: str
    match: str
    source: str


class CheckOut(BaseModel):
    allowed: bool
    findings: list[FindingOut]


class CategoryOut(BaseModel):
    name: str
    reason: str
    enabled: bool
    rules: int


@router.post("/check", response_model=CheckOut)
def check(body: CheckIn, user: CurrentUser, settings: SettingsDep) -> CheckOut:
    """What the content policy says about these texts, without submitting anything.

    `allowed` is false when a job with these texts would be refused (422).
    """
    findings = screen(settings, body.texts)
    return CheckOut(
        allowed=not findings,
        findings=[FindingOut(**asdict(f)) for f in findings],
    )


@router.get("/categories", response_model=list[CategoryOut])
def categories(user: CurrentUser, settings: SettingsDep) -> list[CategoryOut]:
    """The categories in force (defaults merged with the operator's rules file)."""
    policy = load_policy(settings)
    return [
        CategoryOut(
            name=c.name,
            reason=c.reason,
            enabled=c.enabled and settings.content_policy_enabled,
            rules=len(c.rules),
        )
        for c in policy.categories.values()
    ]


def install(app: FastAPI, settings: Settings) -> None:
    """The policy routes; checks the settings
    (rules file, moderation provider) now, so a mistake stops the start with its reason."""
    check_settings(settings)
    app.include_router(router)
