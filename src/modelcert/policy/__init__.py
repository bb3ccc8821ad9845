"""Certification policies: which findings block, waivers, and the built-in baseline/strict profiles."""

from modelcert.policy.load import BUILTIN_PROFILES, PolicyDocument, load_policy
from modelcert.policy.model import (
    AllOf,
    AnyOf,
    FindingsRule,
    Policy,
    PolicyError,
    PolicyResult,
    Requirement,
    RequirementVerdict,
    SkippedFilesRule,
)
from modelcert.policy.waivers import NO_WAIVERS, Waiver, WaiverSet

__all__ = [
    "BUILTIN_PROFILES",
    "NO_WAIVERS",
    "AllOf",
    "AnyOf",
    "FindingsRule",
    "Policy",
    "PolicyDocument",
    "PolicyError",
    "PolicyResult",
    "Requirement",
    "RequirementVerdict",
    "SkippedFilesRule",
    "Waiver",
    "WaiverSet",
    "load_policy",
]
