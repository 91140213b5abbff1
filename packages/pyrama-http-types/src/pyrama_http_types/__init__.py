"""pyrama-http-types."""

__all__: list[str] = []

__version__ = "0.1.0"
