"""k1s0-image-action: Dockerfile to a signed, scanned, correctly tagged image in Harbor."""

__version__ = "0.1.0"
