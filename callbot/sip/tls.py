"""SIP over TLS (RFC 3261 §26): the server context from the configured PEM files, the client context for the
connections the endpoint opens itself (a placed call to a sips: target, a caller's dropped connection)."""

from __future__ import annotations

import ssl
from pathlib import Path

# Forward secrecy and AEAD first; ECDHE with AES-CBC kept last for the PBXs still on TLS 1.2 CBC suites.
# No static RSA key exchange, no 3DES/RC4/MD5, no anonymous suites. TLS 1.3 suites are OpenSSL's own.
CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:ECDHE+AES:!aNULL:!eNULL:!MD5:!3DES:!RC4:!DSS"


class TlsSetupError(Exception):
    """The TLS certificate or key cannot be used: a configuration error, reported as one line at start."""


def _no_passphrase() -> bytes:
    # Without a callback, OpenSSL would prompt on the terminal for an encrypted key and block the start.
    raise TlsSetupError("sip.tls_key: the private key is encrypted; give it unencrypted (readable by the callbot only)")


def _check_readable(key_name: str, path: Path) -> None:
    try:
        with path.open("rb") as pem:
            head = pem.read(65536)
    except OSError as exc:
        raise TlsSetupError(f"{key_name}: cannot read {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN " not in head:
        raise TlsSetupError(f"{key_name}: {path} is not a PEM file")


def server_context(certificate: Path, key: Path) -> ssl.SSLContext:
    """The listener's context: TLS 1.2 at least, our chain and key loaded now so that a bad file stops the start."""
    _check_readable("sip.tls_certificate", certificate)
    _check_readable("sip.tls_key", key)
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:  # parses the certificates alone: tells a bad certificate from a bad key
        probe.load_verify_locations(cafile=str(certificate))
    except ssl.SSLError as exc:
        raise TlsSetupError(f"sip.tls_certificate: no usable certificate in {certificate} ({exc.reason})") from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(CIPHERS)
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    try:
        context.load_cert_chain(str(certificate), str(key), password=_no_passphrase)
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise TlsSetupError(f"sip.tls_key: {key} is not the key of the certificate in {certificate}") from None
        raise TlsSetupError(f"sip.tls_key: no usable private key in {key} ({exc.reason or exc})") from None
    return context


def client_context() -> ssl.SSLContext:
    """For connections we open: the peer's certificate checked against the system's CAs (SSL_CERT_FILE or
    SSL_CERT_DIR to trust a private CA) and its name, as RFC 5922 asks of a SIP client."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
