"""Domain errors with stable ids; the web maps them to 4xx, the CLI to a message and exit code 2."""
from __future__ import annotations


class DomainError(Exception):
    status = 400

    def __init__(self, code: str, message: str, **details):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def as_dict(self) -> dict:
        return {"error": self.code, "message": self.message, **self.details}


class NotFound(DomainError):
    status = 404


class Invalid(DomainError):
    status = 422


class Conflict(DomainError):
    status = 409


class Forbidden(DomainError):
    """Allowed to use the route, but not on this object (someone else's operator or call)."""
    status = 403
