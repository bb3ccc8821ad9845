"""Who may write: the admin bearer token, or a request signed by a registered, active key; rate limits.

Order of checks for a signed write (each failure stores nothing): headers well formed → key registered
and active (401) → signature and time (401) → rate limit (429) → nonce never used before (401, replay).
The nonce is recorded only after the signature verified, so nobody can burn another key's nonces.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from modelcert.certificate.keys import VerifyingKey
from modelcert.registry.ledger import Actor, Ledger
from modelcert.registry.requestsig import MAX_SKEW_SECONDS, RequestAuthError, read_headers, verify_request
from modelcert.service.config import ServiceConfig


class RateLimiter:
    """Token bucket per key: `per_minute` sustained, `burst` at once. In memory, per server process."""

    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        moment = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, moment))
            tokens = min(self.burst, tokens + (moment - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, moment)
                return False
            self._buckets[key] = (tokens - 1.0, moment)
            if len(self._buckets) > 100_000:  # bounded memory: forget the fullest buckets
                self._buckets = {k: v for k, v in self._buckets.items() if v[0] < self.burst}
            return True


@dataclass
class Guard:
    config: ServiceConfig
    ledger: Ledger
    limiter: RateLimiter


def _target(request: Request) -> str:
    raw = request.scope.get("raw_path") or request.url.path.encode("utf-8")
    query = request.scope.get("query_string") or b""
    target = raw.decode("latin-1")
    return f"{target}?{query.decode('latin-1')}" if query else target


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": "Modelcert-Signature"})


async def authenticate(request: Request) -> Actor:
    """FastAPI dependency for every write endpoint."""
    guard: Guard = request.app.state.guard
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not guard.config.check_admin_token(token.strip()):
            raise _unauthorized("invalid admin token")
        if not guard.limiter.allow("admin"):
            raise HTTPException(status_code=429, detail="rate limit exceeded", headers={"Retry-After": "5"})
        return Actor(admin=True)
    try:
        sig = read_headers(request.headers)
    except RequestAuthError as exc:
        raise _unauthorized(str(exc)) from None
    if sig is None:
        raise _unauthorized("this endpoint needs a signed request (or the admin token)")
    body = await request.body()
    record = await run_in_threadpool(guard.ledger.active_key, sig.key_id)
    if record is None:
        raise _unauthorized("the signing key is not registered or not active")
    now = int(time.time())
    try:
        verify_request(
            sig,
            VerifyingKey.from_pem(record.public_pem.encode("ascii")),
            request.method,
            _target(request),
            body,
            now=now,
        )
    except RequestAuthError as exc:
        raise _unauthorized(str(exc)) from None
    if not guard.limiter.allow(record.key_id):
        raise HTTPException(status_code=429, detail="rate limit exceeded", headers={"Retry-After": "5"})
    fresh = await run_in_threadpool(
        guard.ledger.store.use_nonce, record.key_id, sig.nonce, now + 2 * MAX_SKEW_SECONDS + 60, now
    )
    if not fresh:
        raise _unauthorized("replayed request: this nonce was already used")
    return Actor(key=record)
