from __future__ import annotations


class ApiError(Exception):
    """An answer other than success, with the message the client sees as ``error``."""

    def __init__(
        self, status: int, message: str, *, extra: dict | None = None, headers: dict | None = None
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}
