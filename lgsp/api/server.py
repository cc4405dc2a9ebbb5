"""Serving the hub application with uvicorn inside an asyncio program we control."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn
from fastapi import FastAPI


@contextlib.asynccontextmanager
async def serving(app: FastAPI, host: str, port: int) -> AsyncIterator[uvicorn.Server]:
    """Serve `app` until the context exits; raises if the server fails to start (e.g. port in use)."""
    # No proxy headers here: the application believes X-Forwarded-For from LGSP_TRUSTED_PROXIES only
    # (lgsp/api/addresses.py); uvicorn's default would also believe any local process.
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", proxy_headers=False)
    )
    # Signals belong to the program running us (it cancels us on Ctrl-C); uvicorn must not take them.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve(), name="uvicorn")
    while not server.started:
        if task.done():
            with contextlib.suppress(SystemExit):  # uvicorn exits when it cannot bind
                task.result()
            raise RuntimeError(f"the API server did not start on {host}:{port}")
        await asyncio.sleep(0.05)
    try:
        yield server
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
