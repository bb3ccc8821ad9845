"""Checks on archive members and archive structure (MC200–MC203, MC208–MC216), and the member audit
that every archive analyzer (zip, tar, 7z) runs its member names and links through."""

from __future__ import annotations

import posixpath
import re

from modelcert.checks.base import AnalysisContext, Check
from modelcert.checks.core import SpecialFile
from modelcert.findings import Confidence, Severity, Verdict

MAX_DUPLICATES_REPORTED = 20
_DRIVE = re.compile(r"^[A-Za-z]:")


class PathTraversalMember(Check):
    """An archive member's name climbs out of the extraction folder with `..` ("zip-slip").

    Extracting the archive (`unzip`, `tar -x`, `zipfile.extractall` in old Pythons, many ad-hoc
    model downloaders) writes the member outside the target folder: over a user's shell profile, a
    Python package on `sys.path`, or another model's weights. Backslashes count as separators, since
    Windows extractors treat them as such. Model archives never need such names: the file is
    **unsafe**.

    Covers: zip-slip (Snyk, 2018) in zip, tar and 7z containers; the "zip-slip in wrappers" row of
    the peer-scanner bypass table.
    """

    id = "MC200"
    title = "Archive member escapes the extraction folder"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-22"
    remediation = "Rebuild the archive from a clean folder; do not extract it as is."


class AbsolutePathMember(Check):
    """An archive member is named by an absolute path, a Windows drive path (`C:...`) or a UNC path
    (`\\\\server\\share`).

    Extractors that honour the name write to that exact location (`tar -P`, older `unzip`,
    Windows tools with drive letters); others strip the prefix silently, so the same archive lands
    differently on different machines. Model archives never need it: the file is **unsafe**.
    """

    id = "MC201"
    title = "Archive member has an absolute path"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-36"
    remediation = "Rebuild the archive with paths relative to the model folder."


class LinkMember(Check):
    """An archive member is a symbolic or hard link.

    Extracted links redirect later writes and reads: a link `weights.bin -> ~/.ssh/id_rsa` makes the
    loader read a private key as weights, and a link to a directory followed by a member written
    "through" it escapes the extraction folder. The ONNX loader CVEs CVE-2026-27489 / CVE-2026-34447
    (symlink) and CVE-2026-34446 (hardlink) read host files exactly this way. A link whose target is
    absolute or climbs out of the archive is **unsafe**; one that stays inside is **suspicious**
    (model packages do not need links).
    """

    id = "MC202"
    title = "Link inside an archive"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-59"
    remediation = "Replace the link with the file it points to, or drop it."


class HiddenArchiveData(Check):
    """Bytes in the container that no member accounts for: data before the first zip member or
    between members (a polyglot, or members listed only in local headers), data after a compressed
    stream, members after a tar end-of-archive marker (visible to `tar -i` only).

    Different readers disagree about such bytes; a payload hidden there is invisible to one reader
    and live for another. Every such region is analysed as a member of its own (named
    `<unlisted bytes …>`), and the container is **suspicious**.
    """

    id = "MC203"
    title = "Data outside the archive's members"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-506"
    remediation = "Re-create the archive with its own tool; legitimate writers leave no unlisted data."


class DuplicateMember(Check):
    """Two archive members have the same name (after normalising `./` and repeated slashes).

    Readers disagree on which one wins (`zipfile` takes the last, miniz — and so PyTorch — the one
    its sorted index finds, extractors overwrite in order), so a scanner may check one copy while
    the loader reads the other. Every copy is analysed; the archive is **suspicious**.
    """

    id = "MC208"
    title = "Duplicate member name"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-694"
    remediation = "Rebuild the archive so that every name is unique."


class DecompressionBomb(Check):
    """A member (or a compressed stream) expands beyond the limits: its compression ratio exceeds
    `max_compression_ratio` above `compression_ratio_min_bytes`, or its size exceeds
    `max_member_bytes` / the archive's `max_total_unpacked_bytes`.

    Such inputs exhaust the disk or memory of whoever extracts or loads them (42.zip, overlapping
    "non-recursive" zip bombs) and are a classic way to stop a scanner before it reaches the payload.
    The content beyond the limit is not analysed: the file is **unscannable**.
    """

    id = "MC209"
    title = "Decompression bomb"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSCANNABLE
    cwe = "CWE-409"
    remediation = "Do not extract or load it; if it is legitimately this large, scan with raised limits."


class ZipNameMismatch(Check):
    """A zip member's local header names it differently from the central directory.

    `zipfile` refuses such members ("File name in directory … and header … differ") while PyTorch's
    reader loads the data without comparing names, so pickle scanners built on `zipfile` reported an
    error and never saw the pickle: CVE-2025-1944 (picklescan < 0.0.23, GHSA-7q5r-7gvp-wc82).
    modelcert reads the data PyTorch would read and analyses it; the disagreement itself has no
    benign cause and makes the file **suspicious**.
    """

    id = "MC210"
    title = "Zip local and central names differ"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-436"
    remediation = "Re-save the model with its own library (torch.save); do not trust a hand-edited archive."


class ZipFlagBits(Check):
    """A zip member sets general-purpose flag bits 0x1 (encrypted), 0x20 (patched data) or 0x40
    (strong encryption).

    `zipfile` refuses to read such members, PyTorch ignores the bits and reads the bytes as plain
    data — the scanner-evasion of CVE-2025-1945 (picklescan < 0.0.23, GHSA-w8jq-xcqf-f792).
    modelcert reads the data as PyTorch does and analyses it; the file is **suspicious**.
    """

    id = "MC211"
    title = "Zip member flagged encrypted or patched"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-436"
    remediation = "Re-save the model with its own library; model archives are never encrypted."


class ZipCrcMismatch(Check):
    """A zip member's content does not match the CRC-32 its headers record.

    `zipfile` raises on read, PyTorch does not verify the CRC, so scanners that relied on `zipfile`
    stopped at the error while the loader went on: CVE-2025-10156 (picklescan < 0.0.31, JFrog).
    The content is analysed anyway and the file is **suspicious** (the archive was modified after
    it was written). Only members that are analysed are verified: raw tensor storages are not read.
    """

    id = "MC212"
    title = "Zip member CRC mismatch"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-354"
    remediation = "Re-download or re-save the model; a valid writer always records the right CRC."


class ZipOverlap(Check):
    """Two zip members (or a member and the central directory) share bytes.

    No writer produces this. It is how "non-recursive" zip bombs multiply one compressed kernel into
    many members, and how one byte range is made to read as different members by different readers.
    The file is **suspicious**.
    """

    id = "MC213"
    title = "Overlapping zip members"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-436"
    remediation = "Do not load it; rebuild the archive from trusted sources."


class ZipStructure(Check):
    """The zip disagrees with itself: a local header's method, sizes or CRC differ from the central
    directory, the end record's member count or zip64 fields are inconsistent, the central directory
    has unparsed bytes, or there is no central directory at all (members were found by walking local
    headers, as streaming unzippers do).

    Readers resolve such conflicts differently, which is exactly what scanner bypasses exploit
    (CVE-2025-1944 is one instance). modelcert reads what PyTorch's reader reads and reports the
    conflict: the file is **suspicious**.
    """

    id = "MC214"
    title = "Inconsistent zip structure"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-436"
    remediation = "Re-save the model with its own library."


class UnreadableMember(Check):
    """An archive member could not be read: its data lies outside the file, it has no local header,
    it uses a compression method modelcert does not decode (and PyTorch's miniz does not either:
    only stored and deflate), or its compressed data is corrupt.

    Its content was not analysed, so the file is **unscannable** (fail closed).
    """

    id = "MC215"
    title = "Archive member unreadable"
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    verdict = Verdict.UNSCANNABLE
    cwe = "CWE-20"
    remediation = "Re-create the archive with stored or deflate members."


class EncryptedArchive(Check):
    """The archive's content is encrypted (a password-protected 7z). Nothing inside can be
    analysed without the password, so the file is **unscannable**."""

    id = "MC216"
    title = "Encrypted archive"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.UNSCANNABLE
    cwe = "CWE-693"
    remediation = "Publish the model unencrypted; scanners and users cannot verify encrypted content."


# --- the member audit -----------------------------------------------------------------------------


def normalise_name(name: str) -> str:
    """The name an extractor on any platform would write: backslashes as separators, no `./`."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    return "/".join(parts)


def is_absolute(name: str) -> bool:
    unified = name.replace("\\", "/")
    return unified.startswith("/") or bool(_DRIVE.match(unified))


def climbs_out(parts: list[str]) -> bool:
    """True when walking `parts` from the archive root goes above it."""
    depth = 0
    for part in parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def link_escapes(member: str, target: str, *, hard: bool) -> bool:
    """Whether a link member's target leaves the archive. Symlink targets are relative to the link's
    folder; hardlink targets (tar) are archive paths."""
    if not target or is_absolute(target):
        return True
    base = [] if hard else normalise_name(posixpath.dirname(member.replace("\\", "/"))).split("/")
    parts = [p for p in base if p] + target.replace("\\", "/").split("/")
    return climbs_out(parts)


class MemberAudit:
    """Name, link and special-file checks shared by every archive analyzer, one per archive."""

    def __init__(self, ctx: AnalysisContext) -> None:
        self._ctx = ctx
        self._seen: set[str] = set()
        self._duplicates = 0

    def name(self, name: str) -> None:
        location = self._ctx.location.inner(name)
        if is_absolute(name):
            self._ctx.add(AbsolutePathMember.finding(f"member {name!r} has an absolute path", location))
        if ".." in name.replace("\\", "/").split("/"):
            self._ctx.add(PathTraversalMember.finding(f"member {name!r} contains '..'", location))
        key = normalise_name(name)
        if key in self._seen:
            self._duplicates += 1
            if self._duplicates <= MAX_DUPLICATES_REPORTED:
                message = f"member name {name!r} appears more than once"
                self._ctx.add(DuplicateMember.finding(message, location))
        else:
            self._seen.add(key)

    def link(self, name: str, target: str, *, hard: bool) -> None:
        kind = "hard link" if hard else "symbolic link"
        escapes = link_escapes(name, target, hard=hard)
        self._ctx.add(
            LinkMember.finding(
                f"member {name!r} is a {kind} to {target!r}" + (", outside the archive" if escapes else ""),
                self._ctx.location.inner(name),
                severity=Severity.HIGH if escapes else None,
                verdict=Verdict.UNSAFE if escapes else None,
                details={"target": target, "kind": "hardlink" if hard else "symlink"},
            )
        )

    def special(self, name: str, kind: str) -> None:
        self._ctx.add(
            SpecialFile.finding(
                f"archive member {name!r} is a {kind}: never extracted",
                self._ctx.location.inner(name),
                details={"kind": kind},
            )
        )
