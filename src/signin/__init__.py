"""signin: a self-hosted sign-up / sign-in service."""

__version__ = "0.1.0"
