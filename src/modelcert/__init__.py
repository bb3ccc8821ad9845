"""modelcert: scan, certify and verify open-weight model packages."""

__version__ = "0.1.0"
