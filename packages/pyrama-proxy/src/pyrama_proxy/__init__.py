"""pyrama-proxy: upstream proxy records, ProxyDB, ProxyFilter and username labels."""

__all__: list[str] = []
