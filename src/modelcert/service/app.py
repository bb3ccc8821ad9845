"""The application factory: ledger + guard + routes + error mapping + body limit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelcert import __version__
from modelcert.registry import Conflict, Forbidden, Invalid, NotFound, RegistryError
from modelcert.registry.ledger import Ledger, QuorumPolicy
from modelcert.registry.store import StoreError, open_store
from modelcert.service import api, pages
from modelcert.service.bodies import error_body
from modelcert.service.config import ServiceConfig
from modelcert.service.security import Guard, RateLimiter

_STATUS = (
    (NotFound, 404, "not-found"),
    (Conflict, 409, "conflict"),
    (Forbidden, 403, "forbidden"),
    (Invalid, 400, "invalid"),
    (StoreError, 503, "unavailable"),
)


class BodyLimit:
    """Read at most `max_bytes` of a request body, answering 413 beyond; the app gets the buffered body."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                await _too_large(scope, receive, send, self.max_bytes)
                return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            total += len(body)
            if total > self.max_bytes:
                await _too_large(scope, receive, send, self.max_bytes)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        buffered = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": buffered, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = JSONResponse(error_body("too-large", f"request body over {limit} bytes"), status_code=413)
    await response(scope, receive, send)


def create_app(config: ServiceConfig, ledger: Ledger | None = None) -> FastAPI:
    """Build the service. Opens (and migrates) the database unless a ledger is given."""
    if ledger is None:
        ledger = Ledger(
            open_store(config.database_url),
            config.load_registry_key(),
            config.origin,
            currency_lifetime=timedelta(hours=config.currency_lifetime_hours),
            quorum=QuorumPolicy(config.min_certifiers, config.min_jurisdictions),
        )
    app = FastAPI(
        title="modelcert registry",
        version=__version__,
        description="Certificates, model lines, currency, revocations and a transparency log.",
    )
    app.state.guard = Guard(
        config, ledger, RateLimiter(config.rate_limit_per_minute, config.rate_limit_burst)
    )
    app.include_router(api.router)
    app.include_router(pages.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        return {"ok": True}

    @app.exception_handler(RegistryError)
    async def registry_error(_request: Request, exc: RegistryError) -> JSONResponse:
        for kind, status, code in _STATUS:
            if isinstance(exc, kind):
                return JSONResponse(error_body(code, exc.diagnostics()), status_code=status)
        return JSONResponse(error_body("invalid", exc.diagnostics()), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {401: "unauthorized", 404: "not-found", 405: "method-not-allowed", 429: "rate-limited"}
        return JSONResponse(
            error_body(code.get(exc.status_code, "error"), str(exc.detail)),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))[:300]}
            for e in exc.errors()[:20]
        ]
        return JSONResponse(
            {**error_body("invalid-request", "the request does not match the schema"), "problems": problems},
            status_code=422,
        )

    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    return app
