"""Waivers: a reviewed exception for one check on one exact file, with a reason and an expiry.

A waiver names a check ID and the SHA-256 of the file the finding is in (or of the member inside it,
or the package root digest for package-level findings). Change one byte and the waiver no longer
matches; let it expire and it stops applying and is reported, so exceptions cannot outlive review.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelcert.policy.fields import DocumentError, Fields, format_time, load_json

WAIVERS_SCHEMA = "modelcert/waivers/v1"
_CHECK_ID = re.compile(r"MC\d{3}")


@dataclass(frozen=True)
class Waiver:
    check_id: str
    file_sha256: str
    reason: str
    expires: datetime
    approved_by: str | None = None

    def is_active(self, now: datetime) -> bool:
        return now < self.expires

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "checkId": self.check_id,
            "fileSha256": self.file_sha256,
            "reason": self.reason,
            "expires": format_time(self.expires),
        }
        if self.approved_by:
            out["approvedBy"] = self.approved_by
        return out

    def describe(self) -> str:
        return f"{self.check_id} on sha256:{self.file_sha256[:16]}… (until {format_time(self.expires)})"


@dataclass(frozen=True)
class WaiverSet:
    waivers: tuple[Waiver, ...] = ()

    def active(self, now: datetime) -> tuple[Waiver, ...]:
        return tuple(w for w in self.waivers if w.is_active(now))

    def expired(self, now: datetime) -> tuple[Waiver, ...]:
        return tuple(w for w in self.waivers if not w.is_active(now))

    def find(self, check_id: str, digests: Collection[str], now: datetime) -> Waiver | None:
        """The active waiver for this check on any of these digests (the file and its enclosing files)."""
        for waiver in self.waivers:
            if waiver.check_id == check_id and waiver.file_sha256 in digests and waiver.is_active(now):
                return waiver
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"schema": WAIVERS_SCHEMA, "waivers": [w.to_dict() for w in self.waivers]}

    @classmethod
    def load(cls, data: bytes | str, what: str = "waivers file") -> WaiverSet:
        return cls.from_dict(load_json(data, what))

    @classmethod
    def from_dict(cls, doc: Any) -> WaiverSet:
        top = Fields(doc, "", allowed=("schema", "waivers"))
        if top.text("schema") != WAIVERS_SCHEMA:
            raise DocumentError(f"/schema: expected {WAIVERS_SCHEMA!r}")
        waivers = []
        for index, item in enumerate(top.items("waivers")):
            entry = Fields(
                item,
                f"/waivers/{index}",
                allowed=("checkId", "fileSha256", "reason", "expires", "approvedBy"),
            )
            check_id = entry.text("checkId", max_len=16)
            if not _CHECK_ID.fullmatch(check_id):
                raise DocumentError(f"{entry.at('checkId')}: {check_id!r} is not a check ID such as MC101")
            reason = entry.text("reason", max_len=4096).strip()
            if not reason:
                raise DocumentError(f"{entry.at('reason')}: a waiver needs a reason")
            waivers.append(
                Waiver(
                    check_id=check_id,
                    file_sha256=entry.sha256("fileSha256"),
                    reason=reason,
                    expires=entry.time("expires"),
                    approved_by=entry.opt_text("approvedBy", max_len=256),
                )
            )
        return cls(tuple(waivers))


NO_WAIVERS = WaiverSet()
