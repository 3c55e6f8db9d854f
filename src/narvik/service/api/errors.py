"""Errors the service layer raises; the app turns them into 4xx answers naming the field."""

from __future__ import annotations


class ApiError(Exception):
    status = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def body(self) -> dict[str, str | None]:
        text = f"{self.field}: {self.message}" if self.field else self.message
        return {"detail": text, "field": self.field}


class UnauthorizedError(ApiError):
    status = 401


class ForbiddenError(ApiError):
    status = 403


class NotFoundError(ApiError):
    status = 404


class ConflictError(ApiError):
    status = 409


class InvalidError(ApiError):
    """The request is well-formed but breaks a rule (eligibility, capacity, a window)."""

    status = 422
