"""Workload ``tls``: TLS termination, pyrama vs haproxy vs stunnel.

Every terminator listens on 127.0.0.1 with the same certificate (ECDSA P-256, from a test
CA) and forwards the plaintext to the same loopback sink:

* full handshakes: ``openssl s_time -new`` (a new connection and a full handshake each time,
  no resumption), ``--clients`` of them in parallel for ``--seconds``; handshakes per second;
* bulk throughput: a client (Python's ``ssl``, OpenSSL in C) streams ``--bytes`` over one TLS
  connection through the terminator to a sink that acknowledges the last byte; Gbit/s and
  the terminator's CPU seconds per GiB.

Each measurement runs ``--repeat`` rounds; the order of the terminators rotates every round
and the report shows medians and per-round ratios.

``python -m benchmarks.tls sink`` and ``python -m benchmarks.tls bulk PORT BYTES`` run the
sink and the bulk client on their own (the harness starts them this way).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import re
import shlex
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks._harness import (
    BenchError,
    Proc,
    cpu_seconds,
    find_tool,
    free_port,
    host_facts,
    pyrama_executable,
    rotate,
    selected,
    start,
    wait_line,
    wait_port,
)
from benchmarks.forward import Samples, parse_size

__all__ = ["add_arguments", "run"]

TERMINATORS = ("pyrama", "haproxy", "stunnel")
DEFAULT_PYRAMA_CMD = (
    "{pyrama} serve stunnel exit --bind 127.0.0.1:{port} --forward 127.0.0.1:{target} "
    "--cert {cert} --key {key}"
)

_HEADER = struct.Struct("!Q")
_ACK = b"ok"
_CHUNK = 1 << 20


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the ``tls`` workload."""
    p.add_argument("--bytes", type=parse_size, default=parse_size("1G"), help="bulk size (1G)")
    p.add_argument(
        "--seconds", type=float, default=5.0, help="handshake measurement time per round (5)"
    )
    p.add_argument(
        "--clients", type=int, default=4, help="openssl s_time processes in parallel (4)"
    )
    p.add_argument("--repeat", type=int, default=3, help="rounds per measurement (median)")
    p.add_argument(
        "--only",
        default=",".join(TERMINATORS),
        help="comma-separated terminators to compare (default: %(default)s)",
    )
    p.add_argument(
        "--pyrama-cmd",
        default=DEFAULT_PYRAMA_CMD,
        help="pyrama terminator command template; {pyrama} {python} {port} {target} {cert} "
        "{key} are filled in (e.g. '{python} examples/tls_termination.py {port} "
        "127.0.0.1:{target}', which reads CERT/KEY from the environment, set for it)",
    )
    p.add_argument("--skip-handshakes", action="store_true")
    p.add_argument("--skip-throughput", action="store_true")


# ----------------------------------------------------------------------------- sink, client


def _recv_exact(conn: socket.socket, n: int, buf: bytearray) -> bool:
    view = memoryview(buf)
    left = n
    while left:
        got = conn.recv_into(view, min(left, len(buf)))
        if not got:
            return False
        left -= got
    return True


def _sink_conn(conn: socket.socket) -> None:
    buf = bytearray(_CHUNK)
    with conn:
        try:
            head = bytearray(_HEADER.size)
            if not _recv_exact(conn, _HEADER.size, head):
                return  # a handshake-only connection: EOF without data
            (size,) = _HEADER.unpack(head)
            if _recv_exact(conn, size, buf):
                conn.sendall(_ACK)
            while conn.recv_into(buf):
                pass
        except OSError:
            return


def serve_sink() -> None:
    """A threaded plain-TCP sink: read an 8-byte length and that many bytes, answer ``ok``."""
    server = socket.create_server(("127.0.0.1", 0), backlog=4096)
    print(f"listening 127.0.0.1:{server.getsockname()[1]}", flush=True)
    while True:
        conn, _ = server.accept()
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        threading.Thread(target=_sink_conn, args=(conn,), daemon=True).start()


def bulk_client(port: int, size: int) -> dict[str, object]:
    """Send *size* bytes over TLS to 127.0.0.1:*port*; the seconds until the sink's ``ok``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # every terminator serves the same test certificate
    payload = memoryview(bytes(range(256)) * (_CHUNK // 256))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=600) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as s,
    ):
        cipher = s.cipher()
        version = s.version()
        t0 = time.perf_counter()
        s.sendall(_HEADER.pack(size))
        left = size
        while left:
            n = min(left, _CHUNK)
            s.sendall(payload[:n])
            left -= n
        ack = s.recv(len(_ACK))
        elapsed = time.perf_counter() - t0
    if ack != _ACK:
        raise BenchError(f"the sink did not acknowledge the bulk transfer (got {ack!r})")
    return {
        "seconds": elapsed,
        "bytes": size,
        "cipher": cipher[0] if cipher else None,
        "version": version,
    }


# ------------------------------------------------------------------------------ terminators


@dataclass(frozen=True)
class Certs:
    """The PEM files every terminator serves (the same key and chain for all)."""

    cert: Path
    key: Path
    combined: Path


def make_certs(work: Path) -> Certs:
    """A CA-issued ECDSA P-256 leaf for localhost/127.0.0.1, as PEM files in *work*."""
    from pyrama_tls import CertificateAuthority, save_certified_key

    leaf = CertificateAuthority.generate("tls benchmark CA").issue_leaf(["localhost", "127.0.0.1"])
    certs = Certs(work / "cert.pem", work / "key.pem", work / "combined.pem")
    save_certified_key(leaf, certs.cert, certs.key)
    certs.combined.write_bytes(certs.cert.read_bytes() + certs.key.read_bytes())
    return certs


_HAPROXY_CFG = """\
global
    nbthread 1
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend tls
    bind 127.0.0.1:{port} ssl crt {combined}
    default_backend sink
backend sink
    server sink1 127.0.0.1:{target}
"""

_STUNNEL_CFG = """\
foreground = yes
pid =
debug = 3
[tls]
accept = 127.0.0.1:{port}
connect = 127.0.0.1:{target}
cert = {cert}
key = {key}
"""


def _pyrama_argv(template: str, port: int, target: int, certs: Certs) -> list[str]:
    text = template.format(
        pyrama=pyrama_executable(),
        python=sys.executable,
        port=port,
        target=target,
        cert=certs.cert,
        key=certs.key,
    )
    return shlex.split(text)


def _haproxy_argv(port: int, target: int, certs: Certs, work: Path) -> list[str]:
    haproxy = find_tool("haproxy")
    assert haproxy is not None
    cfg = work / f"haproxy-{port}.cfg"
    cfg.write_text(_HAPROXY_CFG.format(port=port, target=target, combined=certs.combined))
    return [haproxy, "-db", "-f", str(cfg)]


def _stunnel_argv(port: int, target: int, certs: Certs, work: Path) -> list[str]:
    stunnel = find_tool("stunnel4") or find_tool("stunnel")
    assert stunnel is not None
    cfg = work / f"stunnel-{port}.conf"
    cfg.write_text(_STUNNEL_CFG.format(port=port, target=target, cert=certs.cert, key=certs.key))
    return [stunnel, str(cfg)]


def _tool_for(name: str) -> str | None:
    if name == "stunnel":
        return find_tool("stunnel4") or find_tool("stunnel")
    return find_tool(name)


@dataclass
class Terminators:
    """Running terminators (one per name) and their listen ports."""

    procs: dict[str, Proc] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def start(self, name: str, target: int, certs: Certs, work: Path, pyrama_cmd: str) -> None:
        """Start terminator *name* in front of the sink on port *target*."""
        port = free_port()
        build: dict[str, Callable[[], list[str]]] = {
            "pyrama": lambda: _pyrama_argv(pyrama_cmd, port, target, certs),
            "haproxy": lambda: _haproxy_argv(port, target, certs, work),
            "stunnel": lambda: _stunnel_argv(port, target, certs, work),
        }
        env = None
        if name == "pyrama":  # for a --pyrama-cmd that reads them (examples/tls_termination.py)
            env = {**os.environ, "CERT": str(certs.cert), "KEY": str(certs.key)}
        proc = start(name, build[name](), work, env=env)
        self.procs[name] = proc
        wait_port(proc, port)
        self.ports[name] = port

    def stop(self) -> None:
        """Stop every terminator."""
        for proc in self.procs.values():
            proc.stop()


# ---------------------------------------------------------------------------- measurements

_S_TIME = re.compile(r"(\d+) connections in [\d.]+s;")


def _handshakes(
    openssl: str, port: int, seconds: float, clients: int, proc: Proc
) -> tuple[float, float]:
    """(full handshakes per second, terminator CPU milliseconds per handshake)."""
    cpu0 = cpu_seconds(proc.pid)
    argv = [
        openssl, "s_time", "-connect", f"127.0.0.1:{port}", "-new",
        "-time", str(max(1, round(seconds))),
    ]  # fmt: skip
    t0 = time.perf_counter()
    runs = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(clients)
    ]
    total = 0
    for run in runs:
        out, _ = run.communicate(timeout=seconds + 120)
        m = _S_TIME.search(out)
        if m is None:
            raise BenchError(f"openssl s_time printed no count:\n{out[-1500:]}")
        total += int(m.group(1))
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(proc.pid) - cpu0
    if total == 0:
        raise BenchError(f"no handshake completed through port {port}")
    return total / elapsed, cpu * 1000 / total


def _throughput(port: int, nbytes: int, proc: Proc) -> tuple[float, float, str]:
    """(Gbit/s, terminator CPU seconds, "version cipher") for one bulk transfer."""
    cpu0 = cpu_seconds(proc.pid)
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.tls", "bulk", str(port), str(nbytes)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if out.returncode != 0:
        raise BenchError(f"bulk client through port {port} failed:\n{out.stderr[-1500:]}")
    data = json.loads(out.stdout)
    cpu = cpu_seconds(proc.pid) - cpu0
    gbps = data["bytes"] * 8 / data["seconds"] / 1e9
    return gbps, cpu, f"{data['version']} {data['cipher']}"


# ---------------------------------------------------------------------------------- report


def _fmt(x: float, digits: int = 2) -> str:
    return "n/a" if math.isnan(x) else f"{x:.{digits}f}"


def _ratio(r: float) -> str:
    return "n/a" if math.isnan(r) else f"**{r:.2f}x**"


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


def _display(argv: list[str]) -> str:
    shown = [Path(argv[0]).name, *argv[1:]]
    return " ".join(re.sub(r"/\S*/pyrama-bench-[^/]+/", "$SCRATCH/", shlex.quote(a)) for a in shown)


def _stunnel_version() -> str:
    """``stunnel 5.68 on x86_64-pc-linux-gnu platform`` (its -version output starts elsewhere)."""
    tool = _tool_for("stunnel")
    if tool is None:
        return "not installed"
    try:
        out = subprocess.run(
            [tool, "-version"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (out.stdout + out.stderr).splitlines()
    return next((ln.strip() for ln in text if ln.startswith("stunnel ")), "?")


def _report(
    args: argparse.Namespace,
    names: list[str],
    missing: dict[str, str],
    samples: Samples,
    argvs: dict[str, list[str]],
    ciphers: dict[str, str],
    pyrama_loop: str | None,
) -> str:
    others = [n for n in names if n != "pyrama"]
    gib = args.bytes / (1 << 30)
    lines = [
        "# Benchmark: `tls` (TLS termination)",
        "",
        f"Generated {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} by "
        f"`python -m benchmarks {shlex.join(sys.argv[1:]) or 'tls'}`. Every figure is a "
        f"median over {args.repeat} rounds; the order of the terminators rotates each round, "
        "and a ratio is the median of the per-round ratios. Each terminator accepts TLS "
        "(same ECDSA P-256 certificate) and forwards the plaintext to the same loopback sink. "
        "Everything runs on 127.0.0.1, on the same machine as the load generators: read the "
        "ratios.",
        "",
        "## Ratios (pyrama / peer; higher is better for pyrama)",
        "",
        "| metric | " + " | ".join(f"pyrama / {o}" for o in others) + " |",
        "|---|" + "---|" * len(others),
    ]
    hs, tp = "handshakes", "throughput"
    if hs in samples.values:
        row = [_ratio(samples.ratio(hs, "pyrama", o)) for o in others]
        lines.append(
            f"| full handshakes/s (openssl s_time -new, {args.clients} clients) | "
            + " | ".join(row)
            + " |"
        )
        row = [_ratio(samples.ratio("cpu_hs", o, "pyrama")) for o in others]
        lines.append(
            "| CPU efficiency in handshakes (peer CPU / pyrama CPU) | " + " | ".join(row) + " |"
        )
    if tp in samples.values:
        row = [_ratio(samples.ratio(tp, "pyrama", o)) for o in others]
        lines.append(
            f"| bulk throughput ({_size(args.bytes)} over one connection) | "
            + " | ".join(row)
            + " |"
        )
        row = [_ratio(samples.ratio("cpu_tp", o, "pyrama")) for o in others]
        lines.append("| CPU efficiency in bulk (peer CPU / pyrama CPU) | " + " | ".join(row) + " |")

    lines += [
        "",
        "## Absolute figures (medians)",
        "",
        "| metric | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    if hs in samples.values:
        lines.append(
            "| full handshakes/s | " + " | ".join(_fmt(samples.med(hs, n), 0) for n in names) + " |"
        )
        lines.append(
            "| terminator CPU, ms per handshake | "
            + " | ".join(_fmt(samples.med("cpu_hs", n), 2) for n in names)
            + " |"
        )
    if tp in samples.values:
        lines.append(
            "| throughput, Gbit/s | " + " | ".join(_fmt(samples.med(tp, n)) for n in names) + " |"
        )
        lines.append(
            "| terminator CPU, s per GiB | "
            + " | ".join(_fmt(samples.med("cpu_tp", n) / gib, 3) for n in names)
            + " |"
        )
    if ciphers:
        lines.append(
            "| negotiated (bulk) | " + " | ".join(ciphers.get(n, "-") for n in names) + " |"
        )

    lines += ["", "## Every sample", ""]
    for metric, per in samples.values.items():
        for who, vals in per.items():
            lines.append(f"- {metric} / {who}: " + ", ".join(_fmt(v, 3) for v in vals))

    lines += ["", "## Setup", ""]
    facts = dict(
        host_facts(
            {
                "openssl (s_time, haproxy, stunnel)": [
                    find_tool("openssl") or "openssl",
                    "version",
                ],
                "haproxy": [find_tool("haproxy") or "haproxy", "-v"],
            }
        )
    )
    facts["stunnel"] = _stunnel_version()
    for k, v in facts.items():
        lines.append(f"- {k}: {v}")
    try:
        from OpenSSL import SSL

        pyrama_openssl = SSL.SSLeay_version(SSL.SSLEAY_VERSION).decode()
    except Exception:  # pragma: no cover - only for the report
        pyrama_openssl = "?"
    lines.append(f"- pyrama's OpenSSL (pyOpenSSL / cryptography): {pyrama_openssl}")
    lines.append(
        f"- handshake load: {args.clients} x `openssl s_time -new -time "
        f"{max(1, round(args.seconds))}` in parallel (no session resumption)"
    )
    lines.append(
        "- bulk load: one TLS connection from Python's ssl module (OpenSSL), 1 MiB writes, "
        "timed from the first byte to the sink's acknowledgement of the last"
    )
    for name, argv in argvs.items():
        lines.append(f"- {name}: `{_display(argv)}`")
    if pyrama_loop:
        lines.append(f"- pyrama event loop: {pyrama_loop}")
    if "haproxy" in argvs:
        cfg = _HAPROXY_CFG.format(port="<port>", target="<sink>", combined="<cert+key.pem>")
        lines += ["- haproxy config:", "", "```", cfg.rstrip(), "```"]
    if "stunnel" in argvs:
        cfg = _STUNNEL_CFG.format(port="<port>", target="<sink>", cert="<cert>", key="<key>")
        lines += [
            "- stunnel config (one thread per connection, stunnel's default):",
            "",
            "```",
            cfg.rstrip(),
            "```",
        ]
    for name, why in missing.items():
        lines.append(f"- {name}: not measured ({why})")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------- run


def run(args: argparse.Namespace, work: Path) -> str:
    """Run the workload in *work* (a scratch directory) and return the markdown report."""
    wanted = selected(args.only, TERMINATORS, "terminators")
    missing: dict[str, str] = {}
    names: list[str] = []
    for n in wanted:
        if n != "pyrama" and _tool_for(n) is None:
            missing[n] = f"`{n}` is not installed"
        else:
            names.append(n)
    openssl = find_tool("openssl")
    if openssl is None and not args.skip_handshakes:
        raise BenchError("openssl is required for the handshake measurement (s_time)")
    certs = make_certs(work)
    samples = Samples()
    ciphers: dict[str, str] = {}
    sink = start("sink", [sys.executable, "-m", "benchmarks.tls", "sink"], work)
    terms = Terminators()
    try:
        target = int(wait_line(sink, r"listening 127\.0\.0\.1:(\d+)").group(1))
        for name in names:
            terms.start(name, target, certs, work, args.pyrama_cmd)
        pyrama_loop = None
        if "pyrama" in names:
            m = re.search(r"\bloop=(\w+)", terms.procs["pyrama"].output())
            pyrama_loop = m.group(1) if m else None
        for r in range(args.repeat):
            if not args.skip_handshakes:
                assert openssl is not None
                for who in rotate(names, r):
                    rate, cpu_k = _handshakes(
                        openssl, terms.ports[who], args.seconds, args.clients, terms.procs[who]
                    )
                    samples.add("handshakes", who, rate)
                    samples.add("cpu_hs", who, cpu_k)
                    print(f"round {r + 1}: handshakes {who:8s} {rate:8.0f}/s", flush=True)
            if not args.skip_throughput:
                for who in rotate(names, r):
                    gbps, cpu, negotiated = _throughput(
                        terms.ports[who], args.bytes, terms.procs[who]
                    )
                    samples.add("throughput", who, gbps)
                    samples.add("cpu_tp", who, cpu)
                    ciphers[who] = negotiated
                    print(f"round {r + 1}: throughput {who:8s} {gbps:7.2f} Gbit/s", flush=True)
        for proc in terms.procs.values():
            proc.check_alive()
        argvs = {name: terms.procs[name].argv for name in names}
    finally:
        terms.stop()
        sink.stop()
    return _report(args, names, missing, samples, argvs, ciphers, pyrama_loop)


def _main(argv: list[str]) -> int:
    """``sink`` or ``bulk PORT BYTES`` (the harness runs these as their own processes)."""
    if argv[:1] == ["sink"]:
        serve_sink()
        return 0
    if len(argv) == 3 and argv[0] == "bulk":
        print(json.dumps(bulk_client(int(argv[1]), int(argv[2]))), flush=True)
        return 0
    print("usage: python -m benchmarks.tls sink | bulk PORT BYTES", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
