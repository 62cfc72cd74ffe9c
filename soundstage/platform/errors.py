"""Domain errors that carry an HTTP status, raised by services and turned into JSON by the app.

Services stay free of FastAPI: `raise NotFound("track not found")` in a service
becomes `404 {"detail": "track not found"}` through the app's error handlers.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Base of expected errors; `status` is the HTTP status that fits.

    Subclasses add response headers (`Retry-After` on a 429) through `headers`
    and machine-readable fields next to `detail` through `body()`.
    """

    status: int = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    @property
    def headers(self) -> dict[str, str]:
        return {}

    def body(self) -> dict[str, Any]:
        return {"detail": self.message}


class NotFound(AppError):
    status = 404


class Conflict(AppError):
    status = 409


class Forbidden(AppError):
    status = 403


class Unauthorized(AppError):
    status = 401
