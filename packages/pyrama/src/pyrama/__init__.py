"""pyrama umbrella (filled in below)."""

__version__ = "0.1.0"
