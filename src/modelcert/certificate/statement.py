"""The certificate statement: an in-toto Statement v1 about the package's OMS root digest.

The payload that gets signed is the RFC 8785 (JCS) canonical form of the statement. On reading, the
payload must already be canonical (so one statement has exactly one byte form and one digest) and
internally consistent: the listed files hash to the manifest root, which is the subject digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from modelcert.certificate.jcs import CanonicalizationError, canonicalize
from modelcert.certificate.predicate import CertificatePredicate, Resource
from modelcert.policy.fields import DocumentError, Fields, load_json

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://modelcert.dev/modelcert/certificate/v0.1"


def resources_digest(resources: Sequence[Resource]) -> str:
    """sha256 of the JCS of the resources list: binds the per-file list when it is shipped apart."""
    return hashlib.sha256(canonicalize([r.to_dict() for r in resources])).hexdigest()


def root_digest_of(resources: Sequence[Resource]) -> str:
    """The OMS v1.0 root digest: sha256 over the raw file digests in code-point order of their names."""
    root = hashlib.sha256()
    for resource in sorted(resources, key=lambda r: r.name):
        root.update(bytes.fromhex(resource.digest))
    return root.hexdigest()


@dataclass(frozen=True)
class Statement:
    subject_name: str
    subject_digest: str  # the OMS root digest, hex
    predicate: CertificatePredicate

    def to_dict(self) -> dict[str, Any]:
        return {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": self.subject_name, "digest": {"sha256": self.subject_digest}}],
            "predicateType": PREDICATE_TYPE,
            "predicate": self.predicate.to_dict(),
        }

    def to_payload(self) -> bytes:
        return canonicalize(self.to_dict())

    @classmethod
    def from_payload(cls, payload: bytes) -> Statement:
        doc = load_json(payload, "certificate payload")
        try:
            canonical = canonicalize(doc)
        except CanonicalizationError as exc:
            raise DocumentError(f"certificate payload: {exc}") from None
        if canonical != payload:
            raise DocumentError("certificate payload is not in RFC 8785 canonical form")
        return cls.parse(doc)

    @classmethod
    def parse(cls, doc: Any) -> Statement:
        top = Fields(doc, "", allowed=("_type", "subject", "predicateType", "predicate"))
        if top.text("_type") != STATEMENT_TYPE:
            raise DocumentError(f"/_type: expected {STATEMENT_TYPE!r}")
        if top.text("predicateType") != PREDICATE_TYPE:
            raise DocumentError(
                f"/predicateType: {top.text('predicateType')!r} is not a modelcert certificate"
            )
        subjects = top.items("subject", max_items=2)
        if len(subjects) != 1:
            raise DocumentError(f"/subject: a certificate has exactly one subject, found {len(subjects)}")
        subject = Fields(subjects[0], "/subject/0", allowed=("name", "digest"))
        digest = subject.child("digest", allowed=("sha256",)).sha256("sha256")
        predicate = CertificatePredicate.parse(top.child("predicate").obj)
        statement = cls(subject.text("name", max_len=512), digest, predicate)
        statement.check_consistency()
        return statement

    def check_consistency(self) -> None:
        """The file list, the manifest and the subject must all name the same bytes."""
        model = self.predicate.model
        manifest = model.manifest
        names = [r.name for r in model.resources]
        if names != sorted(names) or len(set(names)) != len(names):
            raise DocumentError("/predicate/model/resources: names must be unique and sorted by code point")
        if manifest.root_digest != self.subject_digest:
            raise DocumentError("/predicate/model/manifest/rootDigest differs from the subject digest")
        if root_digest_of(model.resources) != manifest.root_digest:
            raise DocumentError("/predicate/model/resources do not hash to the manifest root digest")
        if resources_digest(model.resources) != manifest.resources_digest:
            raise DocumentError("/predicate/model/manifest/resourcesDigest does not match the resources")
        if manifest.resource_count != len(model.resources):
            raise DocumentError("/predicate/model/manifest/resourceCount does not match the resources")
        if manifest.total_bytes != sum(r.size for r in model.resources):
            raise DocumentError("/predicate/model/manifest/totalBytes does not match the resources")
        self._check_compliance()

    def _check_compliance(self) -> None:
        """The compliance run must be about this package, and its outcome must be the certificate's."""
        claim = self.predicate.compliance
        if claim is None:
            return
        if claim.subject != self.subject_digest:
            raise DocumentError(
                f"/predicate/compliance/subject sha256:{claim.subject[:16]}… is not the certificate "
                f"subject sha256:{self.subject_digest[:16]}…: the compliance result is about other files"
            )
        if not claim.met and self.predicate.result != "FAILED":
            raise DocumentError(
                f"/predicate/compliance/status is {claim.status!r} but the result is {self.predicate.result}"
            )
        recorded = {(r.id, r.passed) for r in self.predicate.requirements}
        for rid, passed in claim.requirement_ids().items():
            if (rid, passed) not in recorded:
                raise DocumentError(
                    f"/predicate/requirements: no requirement {rid!r} with passed={str(passed).lower()} "
                    "as the compliance clauses say"
                )
