"""Matches against the shared known-bad feed (MC950–MC959): digests others already found malicious.

These checks do not read any format: `modelcert.registry.feed.match_report` compares the SHA-256 of
every scanned file and member, and each package's root digest, with a feed, and reports matches
through these classes.
"""

from __future__ import annotations

from modelcert.checks.base import AnalyzerSpec, Check
from modelcert.findings import Confidence, Severity, Verdict


class KnownBadFile(Check):
    """The file (or archive member) has exactly the SHA-256 of a file that a certifier reported as
    malicious to the shared known-bad feed.

    A registry's feed lists digests of files found malicious, each with the rule that caught it and
    its severity; the details of the finding are published only as a salted commitment, so sharing a
    feed across organisations and countries exposes no exploit or operational detail. A digest match
    needs no analysis at all: it catches a payload this scanner's own rules miss (a novel gadget, a
    bypass of a published scanner) as soon as anyone in the feed has seen it. The finding keeps the
    feed's severity and names the rule and the commitment; ask the reporting certifier for the
    details (they can prove them against the commitment).

    Matches are exact-byte matches on SHA-256, so a false positive means a SHA-256 collision or a
    wrong feed entry: the verdict is **unsafe**.
    """

    id = "MC950"
    title = "File listed in the known-bad feed"
    severity = Severity.CRITICAL
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-506"
    remediation = (
        "Do not load this file. Obtain the model from its publisher again and verify its signature; "
        "ask the certifier named by the feed for the finding's details."
    )
    tags = ("known-bad", "feed")


class KnownBadPackage(Check):
    """The whole model package has an OpenSSF Model Signing root digest that the shared known-bad feed
    lists as malicious.

    The root digest (SHA-256 over every file's digest in path order) names one exact set of files. A
    feed entry for it means a certifier found that package malicious, possibly through evidence no
    single file shows (a backdoor trigger in the weights, a tampered tokenizer together with a
    template). Details are published only as a salted commitment.
    """

    id = "MC951"
    title = "Package listed in the known-bad feed"
    severity = Severity.CRITICAL
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-506"
    remediation = (
        "Do not deploy this model. Check the line's status in the registry for a safe successor release."
    )
    tags = ("known-bad", "feed")


ANALYZERS: tuple[AnalyzerSpec, ...] = ()
