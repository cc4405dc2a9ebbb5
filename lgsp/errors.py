"""Domain errors with stable codes (X-Road style); the API turns them into 4xx answers."""


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
