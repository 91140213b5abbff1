"""Fixtures shared by pyrama-http-core's tests: every HTTP/1.1 server (and client) codec in turn."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from pyrama_http_core import (
    H11ClientCodec,
    H11ServerCodec,
    HttpLimits,
    HttptoolsClientCodec,
    HttptoolsServerCodec,
)
from pyrama_http_core import _config as http_config
from pyrama_http_core._codec_server import ServerReader

ServerCodecFactory = Callable[..., ServerReader]

SERVER_CODECS: dict[str, type[ServerReader]] = {
    "h11": H11ServerCodec,
    "httptools": HttptoolsServerCodec,
}


@pytest.fixture(scope="module", params=sorted(SERVER_CODECS))
def server_codec(request: pytest.FixtureRequest) -> ServerCodecFactory:
    """A server codec class: the conformance tests run once per codec."""
    codec: type[ServerReader] = SERVER_CODECS[request.param]

    def make(limits: HttpLimits | None = None) -> ServerReader:
        return codec(limits)

    return make


@pytest.fixture(scope="module", params=sorted(SERVER_CODECS))
def each_server_codec(request: pytest.FixtureRequest) -> Iterator[str]:
    """Make the drivers' default server codec each codec in turn (for driver-level tests)."""
    saved = http_config._server_codec_type
    http_config._server_codec_type = SERVER_CODECS[request.param]
    try:
        yield str(request.param)
    finally:
        http_config._server_codec_type = saved


CLIENT_CODECS: dict[str, type[H11ClientCodec | HttptoolsClientCodec]] = {
    "h11": H11ClientCodec,
    "httptools": HttptoolsClientCodec,
}


@pytest.fixture(scope="module", params=sorted(CLIENT_CODECS))
def client_codec(request: pytest.FixtureRequest) -> type[H11ClientCodec | HttptoolsClientCodec]:
    """A client codec class: the client conformance tests run once per codec."""
    return CLIENT_CODECS[request.param]


@pytest.fixture(scope="module", params=sorted(CLIENT_CODECS))
def each_client_codec(request: pytest.FixtureRequest) -> Iterator[str]:
    """Make the drivers' default client codec each codec in turn (for driver-level tests)."""
    saved = http_config._client_codec_type
    http_config._client_codec_type = CLIENT_CODECS[request.param]
    try:
        yield str(request.param)
    finally:
        http_config._client_codec_type = saved


@pytest.fixture(scope="module", params=["push", "task"])
def each_read_mode(request: pytest.FixtureRequest) -> Iterator[str]:
    """Make ``Http1Config.push_reads`` default on, then off (the driver's two read paths)."""
    saved = http_config._push_reads_default
    http_config._push_reads_default = request.param == "push"
    try:
        yield str(request.param)
    finally:
        http_config._push_reads_default = saved
