"""Builders of test inputs, made in code with harmless payloads (nothing is ever executed)."""
