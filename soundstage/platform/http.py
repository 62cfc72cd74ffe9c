"""HTTP helpers shared by routers: JSON error handlers and pagination."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from soundstage.platform.errors import AppError

log = logging.getLogger("soundstage.http")
T = TypeVar("T")

MAX_PAGE_SIZE = 100

# -- errors ----------------------------------------------------------------

_LOCATIONS = {"body", "query", "path", "header", "cookie"}


def _field_name(loc: Sequence[Any]) -> str:
    """'duration_s' for ('body', 'duration_s'); 'items.0.prompt' for nested fields."""
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(parts) or "request"


def _clean_message(err: dict[str, Any]) -> str:
    msg = str(err.get("msg", "invalid value"))
    return msg.removeprefix("Value error, ")


def validation_detail(errors: Sequence[dict[str, Any]]) -> tuple[str, list[dict[str, str]]]:
    """A readable one-line detail naming each field, and a structured list."""
    items: list[dict[str, str]] = []
    for err in errors:
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "")
            items.append(
                {
                    "field": "body",
                    "message": f"malformed JSON: {reason}".rstrip(": "),
                    "type": "json_invalid",
                }
            )
            continue
        items.append(
            {
                "field": _field_name(err.get("loc", ())),
                "message": _clean_message(err),
                "type": str(err.get("type", "")),
            }
        )
    detail = "; ".join(f"{i['field']}: {i['message']}" for i in items) or "invalid request"
    return detail, items


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    detail, items = validation_detail(exc.errors())
    return JSONResponse({"detail": detail, "errors": items}, status_code=422)


async def _app_error(request: Request, exc: AppError) -> JSONResponse:
    headers = dict(exc.headers)
    if exc.status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers or None)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Every error answers JSON `{"detail": "..."}` (validation errors add `errors`)."""
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(AppError, _app_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)


# -- pagination ------------------------------------------------------------


class PageParams(BaseModel):
    page: int = 1
    page_size: int = 20

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


MAX_PAGE = 1_000_000  # far past any list; keeps OFFSET inside a 64-bit integer


def page_params(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1")] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")] = 20,
) -> PageParams:
    return PageParams(page=page, page_size=page_size)


PageDep = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    """One page of a list: `{items, total, page, page_size}`."""

    items: list[T]
    total: int
    page: int
    page_size: int


def paginate(
    session: Session,
    stmt: Select[Any],
    params: PageParams,
    to_item: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """Run `stmt` (already filtered and ordered) for one page and count all its rows.

    `stmt` should select one entity, e.g. `select(Job).where(...)`; `to_item`
    converts each row (e.g. `JobOut.model_validate`).
    """
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.scalars(stmt.offset(params.offset).limit(params.page_size)).all()
    items = [to_item(r) for r in rows] if to_item else list(rows)
    return {"items": items, "total": total, "page": params.page, "page_size": params.page_size}
