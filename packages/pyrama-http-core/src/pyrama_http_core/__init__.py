"""pyrama-http-core."""

__all__: list[str] = []

__version__ = "0.1.0"
