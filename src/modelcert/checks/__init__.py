"""Checks: views → findings. One module per family; `registry` lists them."""
