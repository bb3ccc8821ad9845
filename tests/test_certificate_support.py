"""Builders shared by the certificate, verify, quorum and interop tests (this module holds no tests).

Packages are made of plain text and random bytes only, so their scan does not depend on any format
analyzer: baseline passes them (text and raw data are skipped, nothing is unsafe) and strict fails
them (raw data was not analysed by a reader).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from modelcert.certificate.issue import Issued, issue_certificate
from modelcert.certificate.keys import Algorithm, SigningKey
from modelcert.certificate.trust import Certifier, IssuerInfo, TrustRoot, build_trust
from modelcert.policy.load import PolicyDocument, load_policy
from modelcert.policy.waivers import NO_WAIVERS, WaiverSet
from modelcert.scan import scan_paths

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def make_model(root: Path, seed: int = 0) -> Path:
    """A small model folder: two text files and two raw weight shards (one in a subfolder)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text(f"# widget model {seed}\nA test model.\n")
    (root / "vocab.txt").write_text("a\nb\nc\n")
    (root / "shards").mkdir(exist_ok=True)
    (root / "shards" / "weights-00001.f32").write_bytes(os.urandom(4096))
    (root / "weights-00002.f32").write_bytes(os.urandom(2048))
    return root


def add_malicious_pickle(root: Path) -> Path:
    """A protocol-0 pickle that would call os.system("echo modelcert-test") if loaded (never loaded here)."""
    path = root / "model.pkl"
    path.write_bytes(b"cos\nsystem\n(S'echo modelcert-test'\ntR.")
    return path


@dataclass(frozen=True)
class Lab:
    """A certifier: its key, its ISSUER.json content and its trust-file entry."""

    name: str
    jurisdiction: str
    key: SigningKey

    @property
    def issuer(self) -> IssuerInfo:
        return IssuerInfo(
            f"https://{self.name.lower().replace(' ', '-')}.example", self.name, self.jurisdiction
        )

    @property
    def certifier(self) -> Certifier:
        return Certifier(self.key.verifying, self.name, self.jurisdiction)


def lab(name: str, jurisdiction: str, algorithm: Algorithm = "ed25519") -> Lab:
    return Lab(name, jurisdiction, SigningKey.generate(algorithm))


def certify(
    model: Path,
    by: Lab,
    policy: PolicyDocument | str = "baseline",
    *,
    now: datetime = NOW,
    waivers: WaiverSet = NO_WAIVERS,
    validity_days: int = 180,
) -> Issued:
    doc = load_policy(policy) if isinstance(policy, str) else policy
    return issue_certificate(
        scan_paths([model]),
        doc,
        waivers,
        by.issuer,
        by.key,
        now=now,
        line="pkg:generic/acme/widget",
        version="1.0",
        validity_days=validity_days,
    )


def trust(
    *labs: Lab, policies: tuple[str | PolicyDocument, ...] = ("baseline",), **quorum: object
) -> TrustRoot:
    docs = [load_policy(p) if isinstance(p, str) else p for p in policies]
    return build_trust([lab.certifier for lab in labs], docs, **quorum)  # type: ignore[arg-type]
