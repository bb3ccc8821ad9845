"""Readers: untrusted bytes in, inert typed views out. Nothing here executes or unpickles."""
