"""Sending notification e-mail over SMTP against a local aiosmtpd server: plain, STARTTLS
and implicit TLS with a certificate made in the test, login, and refusals."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from arka.delivery import SmtpSettings
from arka.delivery import email as mail

HOST = "127.0.0.1"


class Collect:
    """An aiosmtpd handler keeping what it receives; refuses `refused@...` recipients."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:  # noqa: N802
        if address.startswith("refused@"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              message_from_bytes(envelope.content)))
        return "250 Message accepted"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                  auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login == b"arka" and auth_data.password == b"s3cret")
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def make_cert(directory: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / f"{name}.pem", directory / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("certs")
    cert, key = make_cert(directory, "server")
    other, _ = make_cert(directory, "other")
    return {"cert": cert, "key": key, "other": other}


def server_context(certs: dict[str, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs["cert"], certs["key"])
    return context


def run(handler: Collect, **kwargs: Any) -> Iterator[int]:
    port = free_port()
    controller = Controller(handler, hostname=HOST, port=port, **kwargs)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def handler() -> Collect:
    return Collect()


@pytest.fixture
def plain(handler: Collect) -> Iterator[int]:
    yield from run(handler)


@pytest.fixture
def starttls(handler: Collect, certs: dict[str, Path]) -> Iterator[int]:
    yield from run(handler, tls_context=server_context(certs), require_starttls=True,
                   authenticator=authenticator, auth_require_tls=True)


@pytest.fixture
def implicit_tls(handler: Collect, certs: dict[str, Path]) -> Iterator[int]:
    yield from run(handler, ssl_context=server_context(certs), authenticator=authenticator,
                   auth_require_tls=False)


def settings(port: int, **changes: Any) -> SmtpSettings:
    base: dict[str, Any] = {"host": HOST, "port": port, "security": "none",
                            "from_address": "arka@example.com", "timeout": 5.0}
    base.update(changes)
    return SmtpSettings(**base)


def test_plain_smtp_delivers_a_deduplicable_message(plain: int, handler: Collect) -> None:
    out = mail.send(settings(plain), ["ops@example.com", "Risk@Example.org"],
                    "Case 7\nopened", "Body ünïcode\n", "msg_abc.0",
                    {"X-Arka-Event-Id": "msg_abc"})
    assert out.ok and out.status == 250 and out.error is None
    sender, rcpts, message = handler.messages[-1]
    assert sender == "arka@example.com"
    assert rcpts == ["ops@example.com", "Risk@Example.org"]
    assert message["Message-ID"] == "<msg_abc.0@arka>"
    assert message["Subject"] == "Case 7 opened"
    assert message["From"] == "arka@example.com"
    assert message["X-Arka-Event-Id"] == "msg_abc"
    assert message["Auto-Submitted"] == "auto-generated"
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes) and payload.decode().replace("\r\n", "\n") == "Body ünïcode\n"


def test_a_refused_recipient(plain: int, handler: Collect) -> None:
    out = mail.send(settings(plain), ["refused@example.com"], "s", "b", "m1")
    assert not out.ok and out.status == 550 and "no such user" in (out.error or "")
    out = mail.send(settings(plain), ["refused@example.com", "ok@example.com"], "s", "b", "m2")
    assert out.ok and "refused@example.com" in (out.error or "")
    assert handler.messages[-1][1] == ["ok@example.com"]


def test_starttls_with_the_servers_ca_and_login(starttls: int, handler: Collect,
                                                certs: dict[str, Path]) -> None:
    good = settings(starttls, security="starttls", ca_file=str(certs["cert"]),
                    username="arka", password="s3cret")
    out = mail.send(good, ["ops@example.com"], "s", "b", "m3")
    assert out.ok, out.error
    assert handler.messages[-1][2]["Message-ID"] == "<m3@arka>"
    wrong = settings(starttls, security="starttls", ca_file=str(certs["cert"]),
                     username="arka", password="wrong")
    out = mail.send(wrong, ["ops@example.com"], "s", "b", "m4")
    assert not out.ok and out.status == 535


def test_starttls_refuses_a_certificate_from_another_ca(starttls: int,
                                                        certs: dict[str, Path]) -> None:
    out = mail.send(settings(starttls, security="starttls", ca_file=str(certs["other"])),
                    ["ops@example.com"], "s", "b", "m5")
    assert not out.ok and "certificate does not verify" in (out.error or "")
    assert "ca_file" in (out.error or "")


def test_a_server_requiring_starttls_refuses_plain_mail(starttls: int) -> None:
    out = mail.send(settings(starttls), ["ops@example.com"], "s", "b", "m6")
    assert not out.ok and out.status == 530


def test_starttls_against_a_server_without_it_fails(plain: int) -> None:
    out = mail.send(settings(plain, security="starttls"), ["ops@example.com"], "s", "b", "m7")
    assert not out.ok and "STARTTLS" in (out.error or "")


def test_implicit_tls_and_login(implicit_tls: int, handler: Collect,
                                certs: dict[str, Path]) -> None:
    good = settings(implicit_tls, security="tls", ca_file=str(certs["cert"]),
                    username="arka", password="s3cret")
    assert mail.send(good, ["ops@example.com"], "s", "b", "m8").ok
    wrong_ca = settings(implicit_tls, security="tls", ca_file=str(certs["other"]))
    assert not mail.send(wrong_ca, ["ops@example.com"], "s", "b", "m9").ok


def test_an_unreachable_server_is_an_outcome() -> None:
    out = mail.send(settings(free_port(), timeout=2.0), ["ops@example.com"], "s", "b", "m10")
    assert not out.ok and out.status is None and "\n" not in (out.error or "")


@pytest.mark.parametrize(("to", "message_id", "headers", "security", "error"), [
    ([], "m", None, "none", "no recipients"),
    (["not-an-address"], "m", None, "none", "not an e-mail address"),
    (["a@b.com\r\nBcc: x@y.com"], "m", None, "none", "not an e-mail address"),
    (["a@b.com"], "m<x>", None, "none", "message id"),
    (["a@b.com"], "", None, "none", "message id"),
    (["a@b.com"], "m", {"X-A": "1\r\nBcc: x@y.com"}, "none", "one-line value"),
    (["a@b.com"], "m", {"Bad Name": "1"}, "none", "not a valid header name"),
    (["a@b.com"], "m", {"Bcc": "x@y.com"}, "none", "set by ARKA"),
    (["a@b.com"], "m", None, "ssl", "use one of starttls, tls, none"),
])
def test_bad_messages_are_refused_before_connecting(to: list[str], message_id: str,
                                                    headers: dict[str, str] | None,
                                                    security: str, error: str) -> None:
    out = mail.send(settings(1, security=security), to, "s", "b", message_id, headers)
    assert not out.ok and error in (out.error or "")


def test_a_bad_from_address_is_refused() -> None:
    out = mail.send(settings(1, from_address="arka"), ["a@b.com"], "s", "b", "m")
    assert not out.ok and "from_address" in (out.error or "")


@pytest.mark.parametrize("text", ["ops@example.com", " ops@example.com ", "a.b+tag@sub.ex-ample.org",
                                  "x@localhost", "o'neil@example.com", "ops@bücher.example"])
def test_valid_addresses(text: str) -> None:
    assert mail.valid_address(text)


@pytest.mark.parametrize("text", [
    "", " ", "ops", "@example.com", "ops@", "a@@b.com", "a@b@c.com", "a b@c.com",
    "a@b .com", "a@b.com\n", "a@b.com\r\nBcc: x@y.com", "a\r@b.com", "Ops <ops@example.com>",
    "ops@example.com, x@y.com", ".a@b.com", "a.@b.com", "a..b@c.com", '"quoted"@b.com',
    "a@-b.com", "a@b..com", "a@[127.0.0.1]", "a@1.2.3.4", "ü@b.com", "a@" + "b" * 64 + ".com",
    "a" * 65 + "@b.com", "a@" + ("b" * 60 + ".") * 5 + "com", None, 7, "a@b.com\x00",
])
def test_invalid_addresses(text: Any) -> None:
    assert not mail.valid_address(text)
