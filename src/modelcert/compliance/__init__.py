"""Compliance with safety standards: policy packs, documentation checks, per-clause reports, evidence.

A policy pack (YAML, versioned, hashed) holds one library of checks with stable IDs, the clauses of
each standard mapped to those checks, and jurisdiction profiles (eu-gpai, eu-gpai-systemic,
nist-600-1, cn-gbt45654, owasp-llm) that select clauses and override thresholds. `run_compliance`
applies a profile to a model package (documentation and declared-vs-actual checks) and, when a
target is given, to the model's behaviour; `render_text`/`render_json` give the per-clause table and
`compliance_predicate` the fragment a certificate carries. See docs/compliance.md.
"""
