"""Every resource has an owner: another user's id answers exactly like a missing one (404)."""

from __future__ import annotations

from typing import Protocol, TypeVar

from sqlalchemy.orm import Session

from soundstage.platform.errors import NotFound


class Owned(Protocol):
    owner_id: str


T = TypeVar("T", bound=Owned)


def get_owned(session: Session, model: type[T], item_id: str, owner_id: str, name: str) -> T:
    """The `model` row with this id if `owner_id` owns it; NotFound("<name> not found") otherwise."""
    item = session.get(model, item_id)
    if item is None or item.owner_id != owner_id:
        raise NotFound(f"{name} not found")
    return item
