"""ailab: software that runs a shared AI lab."""

__version__ = "0.1.0"
