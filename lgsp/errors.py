"""Domain errors with stable codes (X-Road style); the API turns them into 4xx answers."""

from typing import Any

from pydantic import BaseModel, Field


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    """The one error shape of the API."""
    return {"error": {"code": code, "message": message}}


#: The code of an HTTP error status raised by the framework rather than by the hub's own code (unknown
#: route, wrong method, unparsable body), so every error answer has the same shape.
HTTP_STATUS_CODES = {
    400: "client.bad_request",
    401: "client.unauthenticated",
    403: "client.access_denied",
    404: "client.not_found",
    405: "client.method_not_allowed",
    409: "client.conflict",
    413: "client.payload_too_large",
    415: "client.unsupported_media_type",
    422: "client.bad_request",
    503: "server.unavailable",
}


class DomainError(Exception):
    """An error a caller can act on: a stable `code`, a human `message` and the HTTP status it maps to."""

    status = 400
    code = "client.bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(DomainError):
    status = 422
    code = "client.bad_request"


class Unauthenticated(DomainError):
    status = 401
    code = "client.unauthenticated"


class Forbidden(DomainError):
    status = 403
    code = "client.access_denied"


class NotFound(DomainError):
    status = 404
    code = "client.not_found"


class Conflict(DomainError):
    status = 409
    code = "client.conflict"


class Unavailable(DomainError):
    status = 503
    code = "server.unavailable"


# --- how errors are declared in the OpenAPI schema ----------------------------------------------------


class ErrorDetail(BaseModel):
    """What went wrong: the stable code and a message for people."""

    code: str = Field(examples=["client.not_found"])
    message: str


class ErrorBody(BaseModel):
    """The one error shape of the API; a 422 of request validation adds pydantic's findings as `detail`."""

    error: ErrorDetail
    detail: list[dict[str, Any]] | None = None


_MEANINGS = {
    401: "No key, or a key that is unknown, revoked or malformed",
    403: "The key's role (or agency) may not do this",
    404: "No such object",
    409: "It exists already",
    422: "The request is not valid",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` declaring these error statuses, with the API's error shape."""
    return {status: {"model": ErrorBody, "description": _MEANINGS[status]} for status in statuses}
