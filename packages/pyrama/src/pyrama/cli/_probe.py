"""``pyrama probe tls HOST[:PORT]``: connect, handshake, and show what the server presents.

Prints the negotiated protocol version, cipher, key-exchange group, ALPN and SNI, whether
the certificate was verified (and against what), and the whole certificate chain: subject,
issuer, subjectAltNames, validity with the days left, key type and SPKI SHA-256 pin. With
``--json`` the same as one JSON object.

Exit codes: 0 the handshake succeeded (and the certificate verified, unless ``--insecure``);
1 the server could not be reached or the handshake failed; 2 usage error; 3 the server's
certificate was refused (untrusted, expired, wrong name, pin mismatch).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from cryptography import x509

    from pyrama.net import Authority
    from pyrama_tls import TlsConnectorData

__all__ = [
    "EXIT_CONNECT",
    "EXIT_OK",
    "EXIT_VERIFY",
    "certificate_facts",
    "register",
    "run_tls",
]

EXIT_OK: Final = 0
"""The handshake succeeded."""
EXIT_CONNECT: Final = 1
"""The server could not be reached, or the TLS handshake failed."""
EXIT_VERIFY: Final = 3
"""The server's certificate was refused (verification or pin)."""

DEFAULT_PORT: Final = 443
DEFAULT_CONNECT_TIMEOUT: Final = 10.0

_EPILOG = """\
examples:
  pyrama probe tls example.com                        port 443, system trust store
  pyrama probe tls 127.0.0.1:8443 --ca ca.pem --server-name localhost
  pyrama probe tls localhost:8443 --insecure --alpn h2,http/1.1 --json
  pyrama probe tls example.com --pin sha256//r/mIkG3eEpVdm+u/ko/cwxzOMo1bk4TyHIlByibiA5E=

exit codes: 0 handshake done (certificate verified unless --insecure); 1 cannot connect or
the handshake failed; 2 usage error; 3 the certificate was refused (untrusted, expired,
wrong name, pin mismatch).
"""


def register(commands: Any) -> None:
    """Add ``probe`` and its ``tls`` sub-command to the top-level *commands* sub-parsers."""
    from pyrama.cli._tls_options import add_client_tls_arguments, positive_seconds

    parser: argparse.ArgumentParser = commands.add_parser(
        "probe",
        help="connect to a server and show what it negotiates: tls",
        description="Connect to a server and report what it negotiates. Pick a protocol.",
    )
    parser.set_defaults(handler=None, parser=parser)
    probes = parser.add_subparsers(title="probes", metavar="PROTOCOL")
    tls: argparse.ArgumentParser = probes.add_parser(
        "tls",
        help="TLS handshake: version, cipher, ALPN, SNI, certificate chain",
        description=__doc__.split("\n\n")[0].replace("``", "")
        + "\n\n"
        + __doc__.split("\n\n")[1].replace("``", ""),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tls.add_argument(
        "target",
        metavar="HOST[:PORT]",
        type=_target,
        help=f"the server: a name or IP address and a port (default {DEFAULT_PORT}); "
        "[IPv6]:PORT and https://HOST[:PORT]/ work too",
    )
    tls.add_argument("--json", action="store_true", help="print one JSON object")
    tls.add_argument(
        "--connect-timeout",
        metavar="SECONDS",
        type=positive_seconds,
        default=DEFAULT_CONNECT_TIMEOUT,
        help=f"give up connecting after this long, DNS included (default: "
        f"{DEFAULT_CONNECT_TIMEOUT:g})",
    )
    tls.add_argument("-v", "--verbose", action="count", default=0, help="log debug lines")
    add_client_tls_arguments(tls)
    tls.set_defaults(handler=run_tls, parser=tls)


def _target(text: str) -> Authority:
    from urllib.parse import urlsplit

    from pyrama.net import Authority

    raw = text
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme.lower() != "https" or not parts.netloc:
            raise argparse.ArgumentTypeError(f"only https:// URLs can be probed, got {text!r}")
        raw = parts.netloc.rpartition("@")[2]
    try:
        return Authority.parse_with_default(raw, DEFAULT_PORT)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid target {text!r}: {exc}") from None


# -- certificate facts ---------------------------------------------------------------------


def _sans(cert: x509.Certificate) -> list[str]:
    from cryptography import x509

    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    out = [f"DNS:{n}" for n in ext.get_values_for_type(x509.DNSName)]
    out += [f"IP:{ip}" for ip in ext.get_values_for_type(x509.IPAddress)]
    out += [f"email:{e}" for e in ext.get_values_for_type(x509.RFC822Name)]
    out += [f"URI:{u}" for u in ext.get_values_for_type(x509.UniformResourceIdentifier)]
    return out


def _key_kind(cert: x509.Certificate) -> str:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size}"
    return type(key).__name__


def _is_ca(cert: x509.Certificate) -> bool:
    from cryptography import x509

    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def certificate_facts(cert: x509.Certificate, now: dt.datetime) -> dict[str, Any]:
    """What ``probe tls`` shows about one certificate, as JSON-ready values.

    ``days_left`` is whole days until ``notAfter`` (negative once expired); ``spki_sha256``
    is the pin in the ``sha256//BASE64`` form ``curl --pinnedpubkey`` and ``--pin`` take.
    """
    import base64

    from pyrama_tls import spki_sha256_of

    not_after = cert.not_valid_after_utc
    digest = spki_sha256_of(cert)
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "sans": _sans(cert),
        "serial": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": not_after.isoformat(),
        "days_left": (not_after - now) // dt.timedelta(days=1),
        "expired": not_after <= now,
        "not_yet_valid": cert.not_valid_before_utc > now,
        "key": _key_kind(cert),
        "is_ca": _is_ca(cert),
        "self_signed": cert.subject == cert.issuer,
        "spki_sha256": "sha256//" + base64.b64encode(digest).decode("ascii"),
        "spki_sha256_hex": digest.hex(),
    }


# -- the probe --------------------------------------------------------------------------------


class _Failure(Exception):
    """Why the probe failed: a kind for ``--json``, a message, and the exit code."""

    def __init__(self, kind: str, message: str, code: int) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.code = code


async def _probe(args: argparse.Namespace) -> dict[str, Any]:
    from pyrama.cli._tls_options import client_tls
    from pyrama.net import SocketInfo
    from pyrama_core.errors import PyramaError, PyramaTimeoutError
    from pyrama_net.errors import ConnectError, DnsError
    from pyrama_tcp import TcpConnector
    from pyrama_tls import NegotiatedTls, TlsConnectorLayer
    from pyrama_tls.errors import CertificateVerifyError, PinMismatchError, TlsHandshakeError

    target: Authority = args.target
    try:
        data = client_tls(args)
        connector = TlsConnectorLayer(data).layer(
            TcpConnector(connect_timeout=args.connect_timeout)
        )
    except PyramaError as exc:
        raise _Failure("config", str(exc), 2) from exc
    try:
        est = await connector.serve(target)
    except PinMismatchError as exc:
        raise _Failure("pin", f"certificate refused: {exc}", EXIT_VERIFY) from exc
    except CertificateVerifyError as exc:
        hint = "use --ca FILE to trust a private CA, or --insecure to see the chain anyway"
        raise _Failure("verify", f"certificate refused: {exc} ({hint})", EXIT_VERIFY) from exc
    except TlsHandshakeError as exc:
        raise _Failure("handshake", str(exc), EXIT_CONNECT) from exc
    except (ConnectError, DnsError) as exc:
        raise _Failure("connect", f"cannot connect to {target}: {exc}", EXIT_CONNECT) from exc
    except PyramaTimeoutError as exc:
        raise _Failure("timeout", f"{target}: {exc}", EXIT_CONNECT) from exc
    except (OSError, PyramaError) as exc:
        raise _Failure("connect", f"{target}: {exc}", EXIT_CONNECT) from exc
    tls = est.conn
    try:
        negotiated = tls.extensions.get(NegotiatedTls)
        assert negotiated is not None
        info = tls.extensions.get(SocketInfo)
        peer = None
        if info is not None and isinstance(info.peer, tuple):
            host, port = info.peer[0], info.peer[1]
            peer = f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
        now = dt.datetime.now(dt.UTC)
        trust = _trust_description(data)
        return {
            "target": str(target),
            "address": peer,
            "version": negotiated.version,
            "cipher": negotiated.cipher,
            "group": negotiated.group,
            "alpn": negotiated.alpn,
            "server_name": _sni(negotiated.server_name),
            "verified": not data.insecure,
            "trust": trust,
            "pinned": bool(data.pins),
            "client_certificate": None
            if data.client_certificate is None
            else data.client_certificate.leaf.subject.rfc4514_string(),
            "certificates": [certificate_facts(c, now) for c in negotiated.peer_certificates],
        }
    finally:
        await tls.close()


def _sni(name: str | None) -> str | None:
    """The SNI actually sent: none for an IP address (TLS forbids IP literals there)."""
    import ipaddress

    if name is None:
        return None
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return name
    return None


def _trust_description(data: TlsConnectorData) -> str | None:
    """What the chain was verified against: the --ca file and/or the system store."""
    from pyrama_tls import default_verify_paths

    if data.insecure:
        return None
    parts: list[str] = []
    if data.trusts_system_store:
        paths = default_verify_paths()
        parts.append(paths.cafile or paths.capath or paths.source)
    if data.ca_file is not None:
        parts.append(data.ca_file)
    return ", ".join(parts) or None


def _when(iso: str) -> str:
    return dt.datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC")


def _text(report: dict[str, Any], args: argparse.Namespace) -> str:
    addr = f" ({report['address']})" if report["address"] else ""
    if report["verified"]:
        name = args.server_name or str(args.target.host)
        verified = f"yes: chain trusted ({report['trust']}), certificate valid for {name}"
    else:
        verified = "no (--insecure)"
    rows = [
        ("target", f"{report['target']}{addr}"),
        ("protocol", report["version"]),
        ("cipher", report["cipher"] or "-"),
        ("group", report["group"] or "-"),
        ("alpn", report["alpn"] or "none"),
        ("sni", report["server_name"] or "none sent"),
        ("verified", verified),
    ]
    if report["pinned"]:
        rows.append(("pinned", "yes: the leaf's key matches a --pin"))
    if report["client_certificate"]:
        rows.append(("client cert", report["client_certificate"]))
    certs = report["certificates"]
    rows.append(("certificates", f"{len(certs)} (leaf first)"))
    lines = [f"{k:<13}{v}" for k, v in rows]
    for i, c in enumerate(certs):
        left = c["days_left"]
        if c["expired"]:
            state = f"EXPIRED {-left} days ago" if left < 0 else "EXPIRED"
        else:
            state = f"{left} days left"
        extra = [k for k in ("is_ca", "self_signed") if c[k]]
        cert_rows = [
            ("subject", c["subject"] or "(empty)"),
            ("issuer", c["issuer"] or "(empty)"),
            ("sans", ", ".join(c["sans"]) or "none"),
            ("not before", _when(c["not_before"])),
            ("not after", f"{_when(c['not_after'])} ({state})"),
            (
                "key",
                c["key"] + (" (" + ", ".join(x.replace("_", "-") for x in extra) + ")")
                if extra
                else c["key"],
            ),
            ("serial", c["serial"]),
            ("spki sha256", c["spki_sha256"]),
        ]
        for j, (k, v) in enumerate(cert_rows):
            head = f"[{i}] " if j == 0 else "    "
            lines.append(f"{head}{k:<13}{v}")
    return "\n".join(lines)


def run_tls(args: argparse.Namespace) -> int:
    """Run ``pyrama probe tls``; print the report and return the exit code."""
    from pyrama_core.telemetry import setup_logging

    setup_logging("console", "debug" if args.verbose else "error")
    try:
        report = asyncio.run(_probe(args))
    except _Failure as failure:
        if args.json:
            print(
                json.dumps(
                    {
                        "target": str(args.target),
                        "ok": False,
                        "error": failure.kind,
                        "message": failure.message,
                    }
                )
            )
        print(f"pyrama probe tls: {failure.message}", file=sys.stderr)
        return failure.code
    if args.json:
        print(json.dumps({"ok": True, **report}, indent=2))
    else:
        print(_text(report, args))
    return EXIT_OK
