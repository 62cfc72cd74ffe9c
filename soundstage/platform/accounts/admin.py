"""Administration of accounts: list and search users, change a role, disable or enable.

An administrator cannot demote or disable themselves (409), so a server always
keeps the administrator who is acting. Disabling a user refuses their logins,
sessions, access tokens and API tokens at once (every check reads `is_active`);
enabling them again restores what has not expired.
"""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from soundstage.platform.accounts.models import Role, User
from soundstage.platform.accounts.service import check_role, get_user_by_email
from soundstage.platform.errors import AppError, Conflict, NotFound
from soundstage.platform.jobs.models import Job


def users_query(
    q: str | None = None, role: str | None = None, is_active: bool | None = None
) -> Select:
    """Users, oldest first, filtered by a piece of the email, a role and/or being active."""
    stmt = select(User)
    if q:
        stmt = stmt.where(User.email.icontains(q.strip().lower(), autoescape=True))
    if role:
        stmt = stmt.where(User.role == role)
    if is_active is not None:
        stmt = stmt.where(User.is_active.is_(is_active))
    return stmt.order_by(User.created_at, User.id)


def job_counts(session: Session, user_ids: list[str]) -> dict[str, int]:
    """How many jobs each of these users has submitted (one grouped query)."""
    if not user_ids:
        return {}
    stmt = (
        select(Job.owner_id, func.count()).where(Job.owner_id.in_(user_ids)).group_by(Job.owner_id)
    )
    return {owner: count for owner, count in session.execute(stmt)}


def get_user(session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    return user


def update_user(
    session: Session,
    admin: User,
    user_id: str,
    *,
    role: str | None = None,
    is_active: bool | None = None,
) -> User:
    """Change a user's role and/or active flag; flushes. 409 when an admin targets themselves."""
    user = get_user(session, user_id)
    if user.id == admin.id:
        if role is not None and role != Role.ADMIN:
            raise Conflict("you cannot remove your own administrator role; ask another admin")
        if is_active is False:
            raise Conflict("you cannot disable your own account; ask another admin")
    if role is not None:
        try:
            user.role = check_role(role).value
        except ValueError as exc:
            raise AppError(f"role: {exc}", 422) from None
    if is_active is not None:
        user.is_active = is_active
    session.flush()
    return user


def set_role_by_email(session: Session, email: str, role: str) -> User:
    """The CLI's door: give the account with this email a role; flushes."""
    user = get_user_by_email(session, email)
    if user is None:
        raise NotFound(f"no account with the email {email.strip().lower()}")
    user.role = check_role(role).value
    session.flush()
    return user
