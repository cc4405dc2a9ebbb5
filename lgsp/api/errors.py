"""The API's error handlers: every error, the framework's and the database's included, answered in the
API's shape (`{"code", "message"}`) with a 4xx or 503, never a bare 500."""

import traceback

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException

from lgsp.bus import transient
from lgsp.errors import HTTP_STATUS_CODES, DomainError, error_body


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(error_body(exc.code, exc.message), exc.status, headers=headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:10]]
    body = error_body("client.bad_request", "; ".join(problems) or "invalid request")
    # Pydantic's findings without their `input`: the value refused, or for a missing field its whole
    # parent object (a façade request's payload, citizen ids included), would be echoed into every log
    # the answer passes through. `loc`, `msg` and `ctx` name the field and the rule. (Bytes that are not
    # UTF-8, were any left in a finding, must not turn the 422 into a 500 while being encoded.)
    findings = [{k: v for k, v in e.items() if k != "input"} for e in exc.errors()[:10]]
    detail = jsonable_encoder(findings, custom_encoder={bytes: lambda b: b.decode(errors="replace")})
    return JSONResponse(body | {"detail": detail}, 422)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    """The framework's own errors (unknown route, wrong method, unreadable body) in the API's shape."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    code = HTTP_STATUS_CODES.get(status, "client.error" if status < 500 else "server.error")
    message = exc.detail if isinstance(exc.detail, str) else "the request could not be served"
    if status == 400 and isinstance(exc.__cause__, UnicodeDecodeError):  # FastAPI: "error parsing the body"
        message = "the request body is not valid UTF-8"
    return JSONResponse(error_body(code, message), status, headers=exc.headers)


async def _database_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, sa_exc.DBAPIError)
    if transient(exc):
        body = error_body("server.unavailable", "the database is not reachable now; try again shortly")
        return JSONResponse(body, 503, headers={"Retry-After": "5"})
    if "0x00" in str(exc.orig):  # PostgreSQL text cannot hold NUL; refuse it as bad input
        return JSONResponse(error_body("client.bad_request", "text must not contain NUL characters"), 422)
    raise exc


#: Modules whose OSError means "the database is not reachable".
_DATABASE_DRIVERS = ("asyncpg", "aiosqlite", "sqlalchemy")


def raised_by_database(exc: BaseException) -> bool:
    """Whether `exc` came out of the database driver (found by the modules its traceback passes)."""
    return any(
        str(frame.f_globals.get("__name__", "")).startswith(_DATABASE_DRIVERS)
        for frame, _ in traceback.walk_tb(exc.__traceback__)
    )


async def _connection_error(_: Request, exc: Exception) -> JSONResponse:
    """A connection the database driver could not open (asyncpg raises OSError when the server is down
    or restarting, not a DBAPIError): 503 like any unreachable database, never a 500. Any other OSError
    is a fault of this server, and is left to be reported as one."""
    assert isinstance(exc, OSError)
    if not raised_by_database(exc):
        raise exc
    body = error_body("server.unavailable", "the database is not reachable now; try again shortly")
    return JSONResponse(body, 503, headers={"Retry-After": "5"})


def install_error_handlers(app: FastAPI) -> None:
    """Answer domain, validation, framework and database errors in the API's shape."""
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(sa_exc.DBAPIError, _database_error)
    app.add_exception_handler(OSError, _connection_error)
