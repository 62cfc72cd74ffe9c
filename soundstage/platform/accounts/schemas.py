"""API models for accounts."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from soundstage.platform.accounts.models import Role
from soundstage.platform.accounts.service import check_password, normalize_email


class Credentials(BaseModel):
    email: str = Field(examples=["ada@example.com"])
    password: str = Field(examples=["correct horse battery"])


class RegisterIn(Credentials):
    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalize_email(value)

    @field_validator("password")
    @classmethod
    def _password(cls, value: str, info: ValidationInfo) -> str:
        return check_password(value, info.data.get("email"))


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1)


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"


class UserCreatedOut(BaseModel):
    id: str
    email: str


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    role: str
    is_active: bool
    created_at: datetime


# -- API tokens -----------------------------------------------------------------


class ApiTokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["backup script"])
    expires_in_days: int | None = Field(
        None,
        ge=1,
        le=36500,
        description="Days until the token stops working; null (default) for no expiry",
    )


class ApiTokenOut(BaseModel):
    """A token as lists show it: never the token itself, only its first characters."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    prefix: str = Field(description="The token's first characters, to tell tokens apart")
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    active: bool = Field(description="Neither revoked nor expired")


class ApiTokenCreated(ApiTokenOut):
    token: str = Field(description="The token: shown this once, store it now")


# -- administration -------------------------------------------------------------


class AdminUserOut(UserOut):
    job_count: int = Field(0, description="Jobs this user has submitted")


class AdminUserPatch(BaseModel):
    role: Role | None = Field(None, description="user or admin")
    is_active: bool | None = Field(None, description="false disables the account")


class StorageUsageOut(BaseModel):
    used_bytes: int
    quota_bytes: int
    free_bytes: int
