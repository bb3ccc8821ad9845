"""Python client of the registry API, with an injectable httpx transport (tests pass the ASGI app's).

Writes are signed with the caller's key (`requestsig`) or carry the admin token; reads are anonymous.
Every non-2xx answer raises `RegistryHTTPError` with the server's error code and message.

    client = RegistryClient("http://127.0.0.1:8470", key=SigningKey.from_pem(pem))
    client.publish_certificate(envelope)            # certifier
    client.declare_release(line, 2, "1.1", digest)  # publisher
    statement = client.currency(digest)             # anyone: a signed, short-lived statement
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from modelcert.certificate.dsse import Envelope
from modelcert.certificate.jcs import canonicalize
from modelcert.certificate.keys import SigningKey, VerifyingKey
from modelcert.registry import RegistryError
from modelcert.registry.checkpoint import Ed25519Verifier, NoteError, parse_vkey
from modelcert.registry.requestsig import sign_request

MAX_RESPONSE_BYTES = 64 * 1024 * 1024


class RegistryHTTPError(RegistryError):
    """The registry answered with an error status (or not at all)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"registry answered {status} {code}: {message}")
        self.status = status
        self.code = code


class RegistryClient:
    def __init__(
        self,
        base_url: str,
        *,
        key: SigningKey | None = None,
        admin_token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key
        self.admin_token = admin_token
        self.clock = clock
        self._http = httpx.Client(base_url=base_url.rstrip("/"), transport=transport, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        auth: str = "none",
    ) -> httpx.Response:
        content = canonicalize(body) if body is not None else b""
        headers = {"content-type": "application/json"} if body is not None else {}
        request = self._http.build_request(method, path, params=params, content=content, headers=headers)
        if auth == "admin":
            if not self.admin_token:
                raise RegistryError("this operation needs the admin token")
            request.headers["authorization"] = f"Bearer {self.admin_token}"
        elif auth == "key":
            if self.key is None:
                raise RegistryError("this operation needs a signing key (--key)")
            target = request.url.raw_path.decode("ascii")
            request.headers.update(sign_request(self.key, method, target, content, now=int(self.clock())))
        try:
            response = self._http.send(request)
        except httpx.HTTPError as exc:
            raise RegistryHTTPError(0, "unreachable", f"{type(exc).__name__}: {exc}") from None
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise RegistryHTTPError(
                response.status_code, "too-large", "response larger than the client accepts"
            )
        if response.status_code >= 400:
            try:
                doc = response.json()
                code, message = str(doc.get("error", "error")), str(doc.get("message", response.text))
            except ValueError:
                code, message = "error", response.text[:500]
            raise RegistryHTTPError(response.status_code, code, message)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._send(method, path, **kwargs)
        try:
            doc = response.json()
        except ValueError:
            raise RegistryHTTPError(
                response.status_code, "bad-response", "the registry did not answer JSON"
            ) from None
        if not isinstance(doc, dict):
            raise RegistryHTTPError(response.status_code, "bad-response", "expected a JSON object")
        return doc

    def _writer(self) -> str:
        return "admin" if self.key is None and self.admin_token else "key"

    # -- registry identity -----------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return self._json("GET", "/v1/info")

    def registry_key(self) -> VerifyingKey:
        """The registry's public key as served (trust on first use: pin it for offline checks)."""
        return VerifyingKey.from_pem(str(self.info()["registryPublicKeyPem"]).encode("ascii"))

    def log_verifier(self) -> Ed25519Verifier:
        try:
            verifier = parse_vkey(str(self.info()["logVerifierKey"]))
        except NoteError as exc:
            raise RegistryHTTPError(200, "bad-response", f"log verifier key: {exc}") from None
        if not isinstance(verifier, Ed25519Verifier):
            raise RegistryHTTPError(200, "bad-response", "the log key is not an Ed25519 note key")
        return verifier

    # -- keys (admin) ------------------------------------------------------------------------------

    def register_key(
        self, public_pem: str, role: str, name: str, jurisdiction: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"role": role, "name": name, "publicKeyPem": public_pem}
        if jurisdiction is not None:
            body["jurisdiction"] = jurisdiction
        return self._json("POST", "/v1/admin/keys", body=body, auth="admin")

    def deactivate_key(self, key_id: str) -> dict[str, Any]:
        return self._json("POST", f"/v1/admin/keys/{key_id}/deactivate", auth="admin")

    def keys(self, role: str | None = None) -> list[dict[str, Any]]:
        doc = self._json("GET", "/v1/keys", params={"role": role} if role else None)
        return list(doc["keys"])

    # -- certificates ------------------------------------------------------------------------------

    def publish_certificate(self, envelope: Envelope | Mapping[str, Any]) -> dict[str, Any]:
        doc = envelope.to_dict() if isinstance(envelope, Envelope) else dict(envelope)
        return self._json("POST", "/v1/certificates", body={"envelope": doc}, auth=self._writer())

    def certificate(self, envelope_sha256: str) -> dict[str, Any]:
        return self._json("GET", f"/v1/certificates/{envelope_sha256}")

    def revoke_certificate(self, envelope_sha256: str, reason: str) -> dict[str, Any]:
        return self._json(
            "POST",
            f"/v1/certificates/{envelope_sha256}/revocation",
            body={"reason": reason},
            auth=self._writer(),
        )

    def model(self, root_digest: str) -> dict[str, Any]:
        return self._json("GET", f"/v1/models/{root_digest}")

    def currency(self, root_digest: str, line: str | None = None) -> dict[str, Any]:
        """The signed currency statement (a DSSE envelope as a dict) for a release digest."""
        return self._json(
            "GET", f"/v1/models/{root_digest}/currency", params={"line": line} if line else None
        )

    # -- lines -------------------------------------------------------------------------------------

    def declare_release(
        self,
        line: str,
        sequence: int,
        version: str,
        root_digest: str,
        *,
        revision: str | None = None,
        status: str = "current",
        supersede_reason: str | None = None,
        publisher_key_id: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "line": line,
            "sequence": sequence,
            "version": version,
            "rootDigest": root_digest,
            "status": status,
        }
        for name, value in (
            ("revision", revision),
            ("supersedeReason", supersede_reason),
            ("publisherKeyId", publisher_key_id),
        ):
            if value is not None:
                body[name] = value
        return self._json("POST", "/v1/releases", body=body, auth=self._writer())

    def change_status(
        self,
        line: str,
        sequence: int,
        status: str,
        *,
        reason: str | None = None,
        successor: int | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"line": line, "sequence": sequence, "status": status}
        if reason is not None:
            body["reason"] = reason
        if successor is not None:
            body["successor"] = successor
        return self._json("POST", "/v1/status-changes", body=body, auth=self._writer())

    def line(self, line: str) -> dict[str, Any]:
        return self._json("GET", "/v1/lines", params={"line": line})

    def search(self, query: str) -> dict[str, Any]:
        return self._json("GET", "/v1/search", params={"q": query})

    # -- known-bad feed --------------------------------------------------------------------------

    def feed(self) -> dict[str, Any]:
        return self._json("GET", "/v1/feed")

    def report_known_bad(
        self, sha256: str, rule_id: str, severity: str, commitment: str, scope: str = "file"
    ) -> dict[str, Any]:
        body = {
            "sha256": sha256,
            "ruleId": rule_id,
            "severity": severity,
            "commitment": commitment,
            "scope": scope,
        }
        return self._json("POST", "/v1/feed", body=body, auth="key")

    # -- log -----------------------------------------------------------------------------------

    def checkpoint(self) -> str:
        return self._send("GET", "/v1/log/checkpoint").text

    def entries(self, start: int, end: int) -> list[dict[str, Any]]:
        return list(self._json("GET", "/v1/log/entries", params={"start": start, "end": end})["entries"])

    def inclusion_proof(self, index: int, size: int | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"index": index}
        if size is not None:
            params["size"] = size
        return self._json("GET", "/v1/log/proof/inclusion", params=params)

    def consistency_proof(self, old_size: int, new_size: int) -> dict[str, Any]:
        return self._json("GET", "/v1/log/proof/consistency", params={"old": old_size, "new": new_size})

    def cosign(self, cosigned_note: str) -> dict[str, Any]:
        return self._json("POST", "/v1/log/cosignatures", body={"checkpoint": cosigned_note}, auth="key")
