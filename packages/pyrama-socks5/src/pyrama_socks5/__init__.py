"""pyrama-socks5: SOCKS5 (RFC 1928 + RFC 1929) server and client: CONNECT, BIND, UDP ASSOCIATE."""

__all__: list[str] = []
