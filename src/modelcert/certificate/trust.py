"""TRUST.json: whose signatures count, under which policies, and what quorum a consumer demands.

The trust file is the verifier's own decision, never the certificate's: a certifier's jurisdiction
and role come from here (a certificate cannot promote itself), and a key is identified by the SHA-256
of its SubjectPublicKeyInfo, which the file must state and which is recomputed from the PEM.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from modelcert.certificate.jurisdictions import check_jurisdiction
from modelcert.certificate.keys import KeyFileError, VerifyingKey
from modelcert.certificate.predicate import ROLES
from modelcert.policy.fields import DocumentError, Fields, load_json
from modelcert.policy.load import CONFLICT_RULES, ConflictRule, PolicyDocument

TRUST_SCHEMA = "modelcert/trust/v1"
ISSUER_SCHEMA = "modelcert/issuer/v1"
MAX_CERTIFIERS = 1000
DEFAULT_CLOCK_SKEW_SECONDS = 300


@dataclass(frozen=True)
class Certifier:
    key: VerifyingKey
    name: str  # one vote per name: an organisation with several keys still votes once
    jurisdiction: str
    role: str = "certifier"

    @property
    def key_id(self) -> str:
        return self.key.key_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "keyId": self.key_id,
            "publicKeyPem": self.key.public_pem(),
            "name": self.name,
            "jurisdiction": self.jurisdiction,
            "role": self.role,
        }

    @classmethod
    def parse(cls, f: Fields) -> Certifier:
        try:
            key = VerifyingKey.from_pem(f.text("publicKeyPem", max_len=8192).encode("ascii"))
        except (KeyFileError, UnicodeEncodeError) as exc:
            raise DocumentError(f"{f.at('publicKeyPem')}: {exc}") from None
        stated = f.sha256("keyId")
        if stated != key.key_id:
            raise DocumentError(
                f"{f.at('keyId')}: {stated[:16]}… is not the key ID of publicKeyPem ({key.key_id[:16]}…)"
            )
        try:
            jurisdiction = check_jurisdiction(f.text("jurisdiction", max_len=8))
        except ValueError as exc:
            raise DocumentError(f"{f.at('jurisdiction')}: {exc}") from None
        return cls(
            key, f.text("name", max_len=256), jurisdiction, f.choice("role", ROLES, default="certifier")
        )


@dataclass(frozen=True)
class Publisher:
    """A model publisher whose OMS (model_signing) signatures are accepted as provenance evidence."""

    name: str
    public_key_pem: str | None = None  # `model_signing sign key`
    certificate_chain_pem: str | None = None  # `model_signing sign certificate`: the trusted roots/chain

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.public_key_pem:
            out["publicKeyPem"] = self.public_key_pem
        if self.certificate_chain_pem:
            out["certificateChainPem"] = self.certificate_chain_pem
        return out

    @classmethod
    def parse(cls, f: Fields) -> Publisher:
        key, chain = (
            f.opt_text("publicKeyPem", max_len=8192),
            f.opt_text("certificateChainPem", max_len=65536),
        )
        if (key is None) == (chain is None):
            raise DocumentError(f"{f.where}: give exactly one of publicKeyPem and certificateChainPem")
        return cls(f.text("name", max_len=256), key, chain)


@dataclass(frozen=True)
class TrustRoot:
    certifiers: tuple[Certifier, ...]
    accepted_policies: dict[str, str] = field(default_factory=dict)  # policy digest -> policy id
    min_certifiers: int = 1
    min_jurisdictions: int = 1
    conflict_rule: ConflictRule | None = None  # None: the rule of the policy the votes were cast under
    publishers: tuple[Publisher, ...] = ()
    max_clock_skew_seconds: int = DEFAULT_CLOCK_SKEW_SECONDS

    def keys(self) -> list[VerifyingKey]:
        return [c.key for c in self.certifiers]

    def certifier(self, key_id: str) -> Certifier | None:
        return next((c for c in self.certifiers if c.key_id == key_id), None)

    def to_dict(self) -> dict[str, Any]:
        quorum: dict[str, Any] = {
            "minCertifiers": self.min_certifiers,
            "minJurisdictions": self.min_jurisdictions,
        }
        if self.conflict_rule:
            quorum["conflictRule"] = self.conflict_rule
        return {
            "schema": TRUST_SCHEMA,
            "certifiers": [c.to_dict() for c in self.certifiers],
            "acceptedPolicies": [
                {"id": pid, "digest": {"sha256": d}} for d, pid in self.accepted_policies.items()
            ],
            "quorum": quorum,
            "publishers": [p.to_dict() for p in self.publishers],
            "maxClockSkewSeconds": self.max_clock_skew_seconds,
        }

    @classmethod
    def load(cls, data: bytes | str, what: str = "trust file") -> TrustRoot:
        try:
            return cls.parse(load_json(data, what))
        except DocumentError as exc:
            raise DocumentError(f"{what}: {exc}") from None

    @classmethod
    def parse(cls, doc: Any) -> TrustRoot:
        top = Fields(
            doc,
            "",
            allowed=(
                "schema",
                "certifiers",
                "acceptedPolicies",
                "quorum",
                "publishers",
                "maxClockSkewSeconds",
            ),
        )
        if top.text("schema") != TRUST_SCHEMA:
            raise DocumentError(f"/schema must be {TRUST_SCHEMA!r}")
        certifiers = [
            Certifier.parse(
                Fields(item, f"/certifiers/{i}", ("keyId", "publicKeyPem", "name", "jurisdiction", "role"))
            )
            for i, item in enumerate(top.items("certifiers", max_items=MAX_CERTIFIERS))
        ]
        if not certifiers:
            raise DocumentError("/certifiers: a trust file needs at least one certifier")
        seen: set[str] = set()
        for c in certifiers:
            if c.key_id in seen:
                raise DocumentError(f"/certifiers: key {c.key_id[:16]}… is listed twice")
            seen.add(c.key_id)
        accepted: dict[str, str] = {}
        for i, item in enumerate(top.items("acceptedPolicies", max_items=256)):
            entry = Fields(item, f"/acceptedPolicies/{i}", ("id", "digest"))
            accepted[entry.child("digest", ("sha256",)).sha256("sha256")] = entry.text("id", max_len=64)
        quorum = Fields(
            top.obj.get("quorum") or {}, "/quorum", ("minCertifiers", "minJurisdictions", "conflictRule")
        )
        rule = quorum.choice("conflictRule", CONFLICT_RULES) if quorum.has("conflictRule") else None
        publishers = tuple(
            Publisher.parse(Fields(item, f"/publishers/{i}", ("name", "publicKeyPem", "certificateChainPem")))
            for i, item in enumerate(top.items("publishers", required=False, max_items=256))
        )
        return cls(
            certifiers=tuple(certifiers),
            accepted_policies=accepted,
            min_certifiers=quorum.integer("minCertifiers", minimum=1, default=1),
            min_jurisdictions=quorum.integer("minJurisdictions", minimum=1, default=1),
            conflict_rule=cast(ConflictRule | None, rule),
            publishers=publishers,
            max_clock_skew_seconds=top.integer(
                "maxClockSkewSeconds", minimum=0, default=DEFAULT_CLOCK_SKEW_SECONDS
            ),
        )


@dataclass(frozen=True)
class IssuerInfo:
    """ISSUER.json: who the certifier is. The key ID comes from the signing key, never from this file."""

    id: str
    name: str
    jurisdiction: str
    role: str = "certifier"

    @classmethod
    def load(cls, data: bytes | str, what: str = "issuer file") -> IssuerInfo:
        f = Fields(load_json(data, what), "", allowed=("schema", "id", "name", "jurisdiction", "role"))
        if f.text("schema") != ISSUER_SCHEMA:
            raise DocumentError(f"{what}: /schema must be {ISSUER_SCHEMA!r}")
        try:
            jurisdiction = check_jurisdiction(f.text("jurisdiction", max_len=8))
        except ValueError as exc:
            raise DocumentError(f"{what}: /jurisdiction: {exc}") from None
        return cls(
            f.text("id", max_len=512),
            f.text("name", max_len=256),
            jurisdiction,
            f.choice("role", ROLES, default="certifier"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": ISSUER_SCHEMA,
            "id": self.id,
            "name": self.name,
            "jurisdiction": self.jurisdiction,
            "role": self.role,
        }


def build_trust(
    certifiers: Iterable[Certifier],
    policies: Iterable[PolicyDocument],
    *,
    min_certifiers: int = 1,
    min_jurisdictions: int = 1,
    conflict_rule: ConflictRule | None = None,
    publishers: Iterable[Publisher] = (),
) -> TrustRoot:
    """A trust root from parts (used by `modelcert keys trust` and tests)."""
    root = TrustRoot(
        certifiers=tuple(certifiers),
        accepted_policies={p.digest: p.id for p in policies},
        min_certifiers=min_certifiers,
        min_jurisdictions=min_jurisdictions,
        conflict_rule=conflict_rule,
        publishers=tuple(publishers),
    )
    return TrustRoot.parse(root.to_dict())  # the same validation as a file read from disk
