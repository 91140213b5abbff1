"""pyrama-haproxy: HAProxy PROXY protocol v1 and v2: sans-IO codec, server and client layers."""

__all__: list[str] = []
