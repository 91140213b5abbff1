"""Pure-Python stand-in for ``tools/connrate.c`` (used only when no C compiler is found).

Same command line and output as the C tool::

    python -m benchmarks._pyconnrate sink PORT
    python -m benchmarks._pyconnrate client PORT CONNECTIONS CONCURRENCY MSGSIZE

The C tool is preferred: a Python client spends CPU the forwarders under test would
otherwise get, which compresses the measured differences.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


async def _sink(port: int) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", port, backlog=4096)
    bound = server.sockets[0].getsockname()
    print(f"listening 127.0.0.1:{bound[1]}", flush=True)
    async with server:
        await server.serve_forever()


async def _client(port: int, total: int, concurrency: int, msgsize: int) -> None:
    payload = bytes(ord("a") + i % 26 for i in range(msgsize))
    counter = iter(range(total))
    ok = 0
    errors = 0

    async def worker() -> None:
        nonlocal ok, errors
        for _ in counter:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(payload)
                got = await asyncio.wait_for(reader.readexactly(msgsize), 10)
                writer.close()
                await writer.wait_closed()
            except (OSError, asyncio.IncompleteReadError, TimeoutError):
                errors += 1
                continue
            if got == payload:
                ok += 1
            else:
                errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    secs = time.perf_counter() - t0
    print(
        json.dumps(
            {"connections": ok, "errors": errors, "seconds": secs, "rate": ok / secs if secs else 0}
        )
    )


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "sink":
        asyncio.run(_sink(int(argv[1])))
        return 0
    if len(argv) == 5 and argv[0] == "client":
        port, total, concurrency, msgsize = (int(x) for x in argv[1:])
        asyncio.run(_client(port, total, concurrency, msgsize))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
