"""pyrama-tls: TLS over any stream, certificates, ClientHello parsing and fingerprints."""

__all__: list[str] = []

__version__ = "0.1.0"
