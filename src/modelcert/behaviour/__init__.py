"""Behavioural checks: run a local model on probe inputs (opt-in, budgeted; needs torch)."""
