"""Certificates: signed in-toto statements that a package, by digest, passed a policy; and their verification.

Submodules are imported directly (`modelcert.certificate.verify`, `.issue`, ...) so that verifying does not
pay for importing the scanner.
"""
