"""The delivery mechanics: Standard Webhooks signatures, the SSRF guard, the HTTP sender,
retry timing, the circuit breaker and the template sandbox."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import socket
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from arka.delivery import retry, signing, targets, templates
from arka.delivery.http import MAX_RESPONSE, Outcome, Sender

# ------------------------------------------------------------------ signing

# The test vector of the Standard Webhooks reference libraries
# (standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py,
# test_sign_function; the same in the JavaScript, Go, PHP, ... suites).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def independent_sign(secret: str, msg_id: str, ts: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, msg_id.encode() + b"." + str(ts).encode() + b"." + body,
                   hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def test_sign_reproduces_the_reference_vector() -> None:
    assert signing.sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE
    assert signing.sign(VECTOR_SECRET[6:], VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE
    assert independent_sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE


def test_sign_matches_an_independent_hmac_on_random_inputs() -> None:
    rng = random.Random(7)
    for _ in range(50):
        secret = signing.new_secret()
        msg_id = "msg_" + "".join(rng.choice("abcdef0123456789") for _ in range(20))
        ts = rng.randrange(0, 2**33)
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
        assert signing.sign(secret, msg_id, ts, body) == independent_sign(secret, msg_id, ts,
                                                                          body)


def test_new_secret_is_32_random_bytes() -> None:
    a, b = signing.new_secret(), signing.new_secret()
    assert a.startswith("whsec_") and a != b
    assert len(signing.secret_bytes(a)) == 32


@pytest.mark.parametrize("bad", ["", "whsec_", "whsec_not base64!", "whsec_abc", "whsec_====",
                                 "whsec_MfKQ9r8G*KYqrTwjUPD8", None, 42])
def test_malformed_secrets_are_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="secret"):
        signing.secret_bytes(bad)


def test_headers_sign_with_every_secret_in_order() -> None:
    other = signing.new_secret()
    got = signing.headers([VECTOR_SECRET, other], VECTOR_ID, VECTOR_TS, VECTOR_BODY)
    assert got["webhook-id"] == VECTOR_ID
    assert got["webhook-timestamp"] == str(VECTOR_TS)
    assert got["content-type"] == "application/cloudevents+json; charset=utf-8"
    first, second = got["webhook-signature"].split(" ")
    assert first == VECTOR_SIGNATURE
    assert second == independent_sign(other, VECTOR_ID, VECTOR_TS, VECTOR_BODY)
    for secret in (VECTOR_SECRET, other):  # during a rotation either secret verifies
        signing.verify(secret, got, VECTOR_BODY, now=VECTOR_TS)
    with pytest.raises(ValueError, match="at least one"):
        signing.headers([], VECTOR_ID, VECTOR_TS, VECTOR_BODY)


@pytest.mark.parametrize("msg_id", ["", "a.b", "a b", "a\nb"])
def test_sign_refuses_ids_that_break_the_signed_content(msg_id: str) -> None:
    with pytest.raises(ValueError, match="message id"):
        signing.sign(VECTOR_SECRET, msg_id, VECTOR_TS, b"")


@pytest.mark.parametrize("ts", [-1, 1.5, "1", True])
def test_sign_refuses_bad_timestamps(ts: Any) -> None:
    with pytest.raises(ValueError, match="timestamp"):
        signing.sign(VECTOR_SECRET, VECTOR_ID, ts, b"")


def vector_headers(**changes: str) -> dict[str, str]:
    headers = {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TS),
               "webhook-signature": VECTOR_SIGNATURE}
    headers.update(changes)
    return {k: v for k, v in headers.items() if v != "-"}


def test_verify_accepts_the_vector_in_any_header_case_and_among_others() -> None:
    signing.verify(VECTOR_SECRET, vector_headers(), VECTOR_BODY, now=VECTOR_TS)
    upper = {k.upper(): v for k, v in vector_headers().items()}
    signing.verify(VECTOR_SECRET, upper, VECTOR_BODY, now=VECTOR_TS + 300)
    several = "v1a,bm9wZQ== v2,x v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " + \
        VECTOR_SIGNATURE
    signing.verify(VECTOR_SECRET, vector_headers(**{"webhook-signature": several}),
                   VECTOR_BODY, now=VECTOR_TS)


@pytest.mark.parametrize(("changes", "body", "now", "message"), [
    ({"webhook-id": "-"}, VECTOR_BODY, VECTOR_TS, "webhook-id"),
    ({"webhook-timestamp": "-"}, VECTOR_BODY, VECTOR_TS, "webhook-timestamp"),
    ({"webhook-signature": "-"}, VECTOR_BODY, VECTOR_TS, "webhook-signature"),
    ({"webhook-signature": " "}, VECTOR_BODY, VECTOR_TS, "webhook-signature"),
    ({"webhook-timestamp": "hello"}, VECTOR_BODY, VECTOR_TS, "not unix seconds"),
    ({"webhook-timestamp": "-5"}, VECTOR_BODY, VECTOR_TS, "not unix seconds"),
    ({}, VECTOR_BODY, VECTOR_TS + 301, "old"),
    ({}, VECTOR_BODY, VECTOR_TS - 301, "future"),
    ({}, VECTOR_BODY + b" ", VECTOR_TS, "no v1 signature"),
    ({"webhook-id": "msg_other"}, VECTOR_BODY, VECTOR_TS, "no v1 signature"),
    ({"webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="}, VECTOR_BODY,
     VECTOR_TS, "no v1 signature"),
    ({"webhook-signature": "v2," + VECTOR_SIGNATURE[3:]}, VECTOR_BODY, VECTOR_TS,
     "no v1 signature"),
    ({"webhook-signature": VECTOR_SIGNATURE[3:]}, VECTOR_BODY, VECTOR_TS, "no v1 signature"),
])
def test_verify_refuses(changes: dict[str, str], body: bytes, now: int, message: str) -> None:
    with pytest.raises(signing.SignatureError, match=message) as caught:
        signing.verify(VECTOR_SECRET, vector_headers(**changes), body, now=now)
    assert caught.value.code == "E_WEBHOOK_SIGNATURE"


def test_verify_with_another_or_a_broken_secret_fails() -> None:
    with pytest.raises(signing.SignatureError, match="no v1 signature"):
        signing.verify(signing.new_secret(), vector_headers(), VECTOR_BODY, now=VECTOR_TS)
    with pytest.raises(signing.SignatureError, match="base64"):
        signing.verify("whsec_!!", vector_headers(), VECTOR_BODY, now=VECTOR_TS)


def test_verify_uses_the_clock_by_default() -> None:
    now = int(time.time())
    headers = signing.headers([VECTOR_SECRET], VECTOR_ID, now, b"{}")
    signing.verify(VECTOR_SECRET, headers, b"{}")
    with pytest.raises(signing.SignatureError, match="old"):
        signing.verify(VECTOR_SECRET, headers, b"{}", tolerance=-1)


# ------------------------------------------------------------------ targets

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A fake resolver: host name -> addresses; other names do not resolve."""
    table: dict[str, list[str]] = {"example.com": [PUBLIC_V4, PUBLIC_V6]}

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        out = []
        for addr in table[host]:
            family = socket.AF_INET6 if ":" in addr else socket.AF_INET
            sockaddr = (addr, port, 0, 0) if family == socket.AF_INET6 else (addr, port)
            out.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return out

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


@pytest.mark.parametrize(("url", "normalized"), [
    ("https://example.com", "https://example.com/"),
    ("HTTPS://Example.COM:443/hook?a=1", "https://example.com/hook?a=1"),
    ("https://example.com.:8443/x/y", "https://example.com:8443/x/y"),
    ("https://93.184.215.14/h", "https://93.184.215.14/h"),
    ("https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/", f"https://[{PUBLIC_V6}]/"),
    ("https://[::ffff:93.184.215.14]/", "https://[::ffff:5db8:d70e]/"),
])
def test_public_https_urls_pass(dns: dict[str, list[str]], url: str, normalized: str) -> None:
    assert targets.check_url(url, ()) == normalized


def test_unicode_hosts_are_idna_encoded(dns: dict[str, list[str]]) -> None:
    dns["xn--mnchen-3ya.example"] = [PUBLIC_V4]
    assert targets.check_url("https://MÜNCHEN.example/a", ()) == \
        "https://xn--mnchen-3ya.example/a"


@pytest.mark.parametrize(("url", "message"), [
    ("http://localhost", "this machine"),
    ("http://api.localhost/x", "this machine"),
    ("http://127.1", "127.0.0.1 is a loopback"),
    ("http://127.0.0.1:8080/", "loopback"),
    ("http://[::1]", "loopback"),
    ("http://[::ffff:127.0.0.1]", "loopback"),
    ("https://[::ffff:0:10.0.0.1]/", "private"),
    ("https://[64:ff9b::a00:1]", "private"),
    ("https://[2002:a00:1::]", "private"),
    ("https://[::127.0.0.1]", "loopback"),
    ("http://0x7f000001", "127.0.0.1 is a loopback"),
    ("https://2130706433/", "127.0.0.1 is a loopback"),
    ("https://0177.0.0.1/", "127.0.0.1 is a loopback"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("https://[fe80::1]/", "link-local"),
    ("https://10.0.0.1", "private"),
    ("https://192.168.1.1", "private"),
    ("https://172.16.0.1", "private"),
    ("https://100.64.0.1", "shared"),
    ("https://[fd00::1]/", "private|unique-local"),
    ("https://224.0.0.1/", "multicast"),
    ("https://[ff02::1]/", "multicast"),
    ("https://0.0.0.0/", "unspecified"),
    ("https://0/", "unspecified"),
    ("https://[::]/", "unspecified"),
    ("https://240.0.0.1/", "private|reserved"),
    ("https://255.255.255.255/", "private|reserved"),
    ("https://[2001:0::1]/", "Teredo|private"),
    ("https://[fe80::1%25eth0]/", "not an IPv6 address"),
    ("https://[1.2.3]/", "not a valid URL|not an IPv6"),
    ("ftp://x", "scheme 'ftp'"),
    ("file:///etc/passwd", "scheme 'file'"),
    ("gopher://example.com", "scheme"),
    ("//example.com/x", "scheme '\\(none\\)'"),
    ("example.com", "scheme"),
    ("https://user:pw@example.com", "user name or password"),
    ("https://user@example.com", "user name or password"),
    ("https://", "no host"),
    ("https:///path", "no host"),
    ("https://:443/", "no host"),
    ("https://example.com:0/", "port 0"),
    ("https://example.com:65536/", "not a valid URL"),
    ("https://example.com:http/", "not a valid URL"),
    ("https://example.com/#frag", "fragment"),
    ("https://example.com/#", "fragment"),
    ("https://exa mple.com/", "whitespace"),
    ("https://example.com/\r\nHost: x", "whitespace"),
    ("https://example.com/\x00", "control"),
    ("https://ex_ample..com/", "not a valid host name"),
    ("https://-bad.com/", "not a valid host name"),
    ("https://" + "a" * 64 + ".com/", "not a valid host name"),
    ("https://example.com/" + "a" * 2100, "characters long"),
    ("", "empty"),
    ("   ", "empty"),
    ("https://nowhere.invalid/", "does not resolve"),
    ("http://example.com/", "plain http"),
])
def test_refused_urls(dns: dict[str, list[str]], url: str, message: str) -> None:
    with pytest.raises(targets.TargetError, match=message) as caught:
        targets.check_url(url, ())
    assert caught.value.code == "E_WEBHOOK_URL"


def test_a_url_that_is_no_string_is_refused() -> None:
    with pytest.raises(targets.TargetError, match="not bytes"):
        targets.check_url(b"https://example.com", ())  # type: ignore[arg-type]


def test_refusals_say_how_to_fix_and_never_echo_passwords(dns: dict[str, list[str]]) -> None:
    with pytest.raises(targets.TargetError) as caught:
        targets.check_url("https://10.1.2.3/", ())
    assert "webhooks.allow_private" in caught.value.message
    assert "10.1.2.3/32" in caught.value.message
    with pytest.raises(targets.TargetError) as caught:
        targets.check_url("https://alice:s3cret@example.com/", ())
    assert "s3cret" not in caught.value.message and "alice" not in caught.value.message


def test_any_private_address_of_a_name_refuses_it(dns: dict[str, list[str]]) -> None:
    dns["mixed.example"] = [PUBLIC_V4, "10.0.0.7"]
    dns["mapped.example"] = ["::ffff:169.254.169.254"]
    with pytest.raises(targets.TargetError, match="'mixed.example' resolves to 10.0.0.7"):
        targets.check_url("https://mixed.example/", ())
    with pytest.raises(targets.TargetError, match="link-local"):
        targets.check_url("https://mapped.example/", ())
    with pytest.raises(targets.TargetError, match="10.0.0.7"):
        targets.resolve_checked("https://mixed.example/", ())


def test_resolution_is_repeated_each_time(dns: dict[str, list[str]]) -> None:
    dns["flip.example"] = [PUBLIC_V4]
    assert targets.resolve_checked("https://flip.example/", ()) == [PUBLIC_V4]
    dns["flip.example"] = ["127.0.0.1"]  # DNS rebinding after the subscription
    with pytest.raises(targets.TargetError, match="loopback"):
        targets.resolve_checked("https://flip.example/", ())
    dns["flip.example"] = []
    with pytest.raises(targets.TargetError, match="does not resolve"):
        targets.resolve_checked("https://flip.example/", ())


def test_without_resolution_only_literals_are_judged(dns: dict[str, list[str]]) -> None:
    assert targets.check_url("https://unknown.example/", (), resolve=False) == \
        "https://unknown.example/"
    with pytest.raises(targets.TargetError, match="private"):
        targets.check_url("https://10.0.0.1/", (), resolve=False)
    with pytest.raises(targets.TargetError, match="plain http"):
        targets.check_url("http://unknown.example/", (), resolve=False)


def test_allowlisted_networks_and_names(dns: dict[str, list[str]]) -> None:
    allow = targets.parse_allowlist(["127.0.0.1/32", "10.0.0.0/8", "Hooks.Internal"])
    dns["hooks.internal"] = ["192.168.5.5"]
    dns["ten.example"] = ["10.2.3.4"]
    assert targets.check_url("http://127.0.0.1:8080/x", allow) == "http://127.0.0.1:8080/x"
    assert targets.check_url("http://127.1:8080/x", allow) == "http://127.0.0.1:8080/x"
    assert targets.check_url("http://[::ffff:127.0.0.1]/", allow) == "http://[::ffff:7f00:1]/"
    assert targets.check_url("https://10.9.9.9/", allow) == "https://10.9.9.9/"
    assert targets.check_url("http://ten.example/", allow) == "http://ten.example/"
    assert targets.check_url("http://HOOKS.internal:81/", allow) == "http://hooks.internal:81/"
    assert targets.resolve_checked("http://hooks.internal/", allow) == ["192.168.5.5"]
    with pytest.raises(targets.TargetError, match="loopback"):
        targets.check_url("http://127.0.0.2/", allow)
    with pytest.raises(targets.TargetError, match="plain http"):
        targets.check_url("http://example.com/", allow)  # public, but not allowlisted
    with pytest.raises(targets.TargetError, match="this machine"):
        targets.check_url("http://localhost/", allow)
    dns["localhost"] = ["127.0.0.1", "::1"]
    assert targets.check_url("http://localhost:9/", ("localhost",)) == "http://localhost:9/"


def test_parse_allowlist_normalizes() -> None:
    assert targets.parse_allowlist([
        " LocalHost ", "10.0.0.1/8", "10.0.0.0/8", "::1", "192.168.1.7", "Bücher.example",
        "::ffff:10.0.0.0/104", "fd00::/8", "svc_name.local."]) == (
        "localhost", "10.0.0.0/8", "::1/128", "192.168.1.7/32", "xn--bcher-kva.example",
        "fd00::/8", "svc_name.local")
    assert targets.parse_allowlist([]) == ()


@pytest.mark.parametrize("bad", ["", " ", "a b", "127.1", "10.0.0.0/33", "x/y", "-a.com",
                                 "http://x", "a..b", "1.2.3.4.5", "a" * 300, None])
def test_parse_allowlist_refuses(bad: Any) -> None:
    with pytest.raises(ValueError, match="neither a host name nor a network"):
        targets.parse_allowlist([bad])


# ------------------------------------------------------------------ http

class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        _Hook.received.append((self.path, dict(self.headers.items()), body))
        if self.path.startswith("/status/"):
            code = int(self.path.split("/")[2])
            self.send_response(code)
            if 300 <= code < 400:
                self.send_header("location", "https://elsewhere.example/")
            self.send_header("content-length", "4")
            self.end_headers()
            self.wfile.write(b"nope")
        elif self.path == "/big":
            self.send_response(200)
            self.send_header("content-length", str(10 * MAX_RESPONSE))
            self.end_headers()
            self.wfile.write(b"x" * 10 * MAX_RESPONSE)
        elif self.path == "/slow":
            time.sleep(1.0)
            self.send_response(200)
            self.end_headers()
        else:
            self.send_response(204)
            self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Any:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def sender() -> Any:
    s = Sender()
    yield s
    s.close()


LOCAL = ("127.0.0.1/32",)


def test_sender_posts_the_body_and_headers(server: str, sender: Sender) -> None:
    headers = signing.headers([VECTOR_SECRET], VECTOR_ID, VECTOR_TS, VECTOR_BODY)
    out = sender.post(server + "/hook?x=1", VECTOR_BODY, headers, 5.0, LOCAL)
    assert out.ok and out.status == 204 and out.error is None and out.duration > 0
    path, got, body = _Hook.received[-1]
    assert path == "/hook?x=1" and body == VECTOR_BODY
    lower = {k.lower(): v for k, v in got.items()}
    assert lower["host"] == server.removeprefix("http://")
    signing.verify(VECTOR_SECRET, lower, body, now=VECTOR_TS)


@pytest.mark.parametrize(("status", "message"), [
    (302, "redirects are not followed; point the webhook at the final URL"),
    (307, "Location: https://elsewhere.example/"),
    (410, "HTTP 410: nope"), (500, "HTTP 500"), (429, "HTTP 429")])
def test_non_2xx_answers_fail(server: str, sender: Sender, status: int, message: str) -> None:
    out = sender.post(f"{server}/status/{status}", b"{}", {}, 5.0, LOCAL)
    assert not out.ok and out.status == status and message in (out.error or "")


def test_a_201_answer_is_ok_and_big_answers_are_cut(server: str, sender: Sender) -> None:
    assert sender.post(f"{server}/status/201", b"{}", {}, 5.0, LOCAL).ok
    assert sender.post(f"{server}/big", b"{}", {}, 5.0, LOCAL).ok


def test_refused_targets_and_connection_failures_are_outcomes(server: str,
                                                              sender: Sender) -> None:
    out = sender.post(server + "/hook", b"{}", {}, 5.0, ())
    assert out == Outcome(False, None, out.error, out.duration)
    assert "loopback" in (out.error or "")
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there now
    out = sender.post(f"http://127.0.0.1:{port}/", b"{}", {}, 2.0, LOCAL)
    assert not out.ok and out.status is None and "could not connect" in (out.error or "")
    assert "\n" not in (out.error or "")


def test_timeouts_are_outcomes(server: str, sender: Sender) -> None:
    out = sender.post(server + "/slow", b"{}", {}, 0.2, LOCAL)
    assert not out.ok and "timed out" in (out.error or "") and out.duration < 1.0


def test_a_closed_sender_fails_softly(server: str) -> None:
    s = Sender()
    s.close()
    assert not s.post(server + "/hook", b"{}", {}, 1.0, LOCAL).ok


def test_the_sender_is_usable_from_threads(server: str, sender: Sender) -> None:
    results: list[Outcome] = []
    threads = [threading.Thread(target=lambda: results.append(
        sender.post(server + "/hook", b"{}", {}, 5.0, LOCAL))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r.ok for r in results)


def make_tls(directory: Path, names: list[str]) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_https_connects_to_the_checked_address_and_verifies_the_name(
        tmp_path: Path, dns: dict[str, list[str]]) -> None:
    cert, key = make_tls(tmp_path, ["hooks.test"])
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    port = httpd.server_address[1]
    dns.update({"hooks.test": ["127.0.0.1"], "other.test": ["127.0.0.1"],
                "127.0.0.1": ["127.0.0.1"]})
    sender = Sender(verify=ssl.create_default_context(cafile=str(cert)))
    try:
        out = sender.post(f"https://hooks.test:{port}/tls", b"{}", {}, 5.0, ("hooks.test",))
        assert out.ok, out.error
        path, headers, _ = _Hook.received[-1]
        assert path == "/tls"
        assert {k.lower(): v for k, v in headers.items()}["host"] == f"hooks.test:{port}"
        out = sender.post(f"https://other.test:{port}/tls", b"{}", {}, 5.0, ("other.test",))
        assert not out.ok and "Hostname mismatch" in (out.error or ""), out.error
    finally:
        sender.close()
        httpd.shutdown()
        httpd.server_close()


# ------------------------------------------------------------------ retry

def test_backoff_grows_with_full_jitter_and_a_floor() -> None:
    rng = random.Random(1)
    assert retry.backoff(0, 5, 3600, rng) == 0.0
    for attempt in range(1, 30):
        ceiling = min(3600, 5 * 2 ** (attempt - 1))
        waits = [retry.backoff(attempt, 5, 3600, rng) for _ in range(200)]
        assert all(2.5 <= w <= ceiling for w in waits)
        assert len(set(waits)) > 1 or ceiling == 2.5
    assert retry.backoff(1000, 5, 60, rng) <= 60
    assert retry.backoff(3, 5, 1, rng) == 1  # the cap beats the floor
    assert 2.5 <= retry.backoff(1, 5, 3600) <= 5
    with pytest.raises(ValueError, match="negative"):
        retry.backoff(1, -1, 10)


def test_the_circuit_opens_at_the_threshold_and_doubles() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    after = retry.Circuit.after_failure
    assert after(4, 5, 60, now) is None
    assert after(5, 5, 60, now) == now + timedelta(seconds=60)
    assert after(9, 5, 60, now) == now + timedelta(seconds=60)
    assert after(10, 5, 60, now) == now + timedelta(seconds=120)
    assert after(15, 5, 60, now) == now + timedelta(seconds=240)
    assert after(10_000, 5, 60, now) == now + timedelta(hours=1)
    assert after(10**9, 1, 60, now) == now + timedelta(hours=1)
    assert after(5, 0, 60, now) is None


# ------------------------------------------------------------------ templates

def test_render_fills_variables_as_plain_text() -> None:
    text = templates.render("Case {{ case.id }} for <{{ name }}>: {{ items|join(', ') }}\n",
                            {"case": {"id": 7}, "name": "A & B", "items": [1, 2]})
    assert text == "Case 7 for <A & B>: 1, 2\n"
    assert templates.render("{% for i in range(3) %}{{ loop.index }}{% endfor %}", {}) == "123"
    assert templates.render("{{ '{:,}'.format(1234567) }} {{ 'x' * 3 }} {{ 2 ** 10 }}",
                            {}) == "1,234,567 xxx 1024"
    assert templates.render("{{ d }} {{ [1, 'a']|string }} {{ [1, 2]|sum }}",
                            {"d": {"a": [1]}}) == "{'a': [1]} [1, 'a'] 3"
    assert templates.render("{{ 2 ** 4000 > 0 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ '%05.1f' % 2.25 }}",
                            {}) == "True 3 1 002.2"


def test_compiled_templates_are_cached() -> None:
    source = "cached {{ n }} " + str(random.random())
    assert templates.render(source, {"n": 1}) == source.replace("{{ n }}", "1")
    before = len(templates._cache)
    assert templates.render(source, {"n": 2}) == source.replace("{{ n }}", "2")
    assert len(templates._cache) == before


@pytest.mark.parametrize(("source", "message"), [
    ("{{ missing }}", "'missing' is undefined"),
    ("{{ case.nothing }}", "has no attribute 'nothing'"),
    ("line 1\n{% for x in %}", "syntax error on line 2"),
    ("{% if %}", "syntax error on line 1"),
    ("{{ 1/0 }}", "ZeroDivisionError"),
    ("{{ ''.__class__.__mro__ }}", "sandbox.*__class__"),
    ("{{ cycler.__init__.__globals__ }}", "sandbox.*__init__"),
    ("{{ joiner.__init__.__globals__ }}", "sandbox"),
    ("{{ namespace.__init__ }}", "sandbox"),
    ("{{ self.__init__ }}", "sandbox"),
    ("{{ ''|attr('__class__') }}", "sandbox"),
    ("{{ '{0.__class__.__base__}'.format('') }}", "sandbox"),
    ("{{ '{0.__globals__}'.format(cycler.next) }}", "sandbox"),
    ("{{ items.append(3) }}", "sandbox.*append"),
    ("{{ case.update({'a': 1}) }}", "sandbox.*update"),
    ("{{ lipsum(10**6) }}", "'lipsum' is undefined"),
    ("{{ config }}", "'config' is undefined"),
    ("{{ 'x' * 10**9 }}", "repeating"),
    ("{{ [1] * 10**9 }}", "repeating"),
    ("{{ 10 ** 10000 }}", "larger than"),
    ("{{ 2 ** 5000 }}", "larger than"),
    ("{% set ns = namespace(n=2 ** 4000) %}{% for i in range(30) %}{% set ns.n = ns.n * ns.n %}"
     "{% endfor %}", "product larger"),
    ("{% set big = ['x' * 100000] * 100000 %}{{ big|map('upper')|list|length }}",
     "repeating"),
    ("{% set s = 'x' * 90000 %}{% for i in range(1000) %}{% set t = s|upper %}{% endfor %}",
     "intermediate values"),
    ("{% set big = ['x' * 100000] * 100000 %}{{ big }}", "repeating"),
    ("{% set s = 'x' * 50000 %}{% set a = [s, s, s, s, s, s, s, s, s, s] %}"
     "{% set b = [a, a, a, a, a, a, a, a, a, a] %}{% set c = [b, b, b, b, b, b, b, b] %}"
     "{{ c }}", "value written"),
    ("{% set s = 'x' * 50000 %}{% set a = [s, s, s] %}{{ a|string }}", "string"),
    ("{% set s = 'x' * 50000 %}{% set a = [s, s, s] %}{{ 'v' ~ a }}", "joining"),
    ("{% set s = 'x' * 50000 %}{% set a = [s, s, s] %}{{ '%s' % (a,) }}", "formatting"),
    ("{% set s = 'x' * 50000 %}{% set a = [s, s, s] %}{{ '{}'.format(a) }}", "str.format"),
    ("{{ [[1] * 50000] * 3|sum(start=[]) }}", "sum|repeating"),
    ("{{ ('x' * 100000)|wordwrap(1, wrapstring='y' * 1000) }}", "wordwrap"),
    ("{% set _arka_loop_guard = range %}{% for a in range(100000) %}{% for b in range(100000)"
     " %}{% endfor %}{% endfor %}", "loop iterations"),
    ("{{ 'x' * 60000 ~ 'y' * 60000 }}", "joining"),
    ("{{ 'x' * 60000 + 'y' * 60000 }}", "concatenating"),
    ("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
     "{% endfor %}", "joining"),
    ("{{ '%999999999d' % 1 }}", "width"),
    ("{{ '%*d' % (999999999, 1) }}", "width"),
    ("{{ '{:>999999999}'.format(1) }}", "width"),
    ("{{ '{:>{w}}'.format(1, w=999999999) }}", "nested width"),
    ("{{ '%999999999s'|format('a') }}", "width"),
    ("{{ 'x'|center(999999999) }}", "center"),
    ("{{ 'a'|indent(999999999) }}", "indent"),
    ("{{ ('x\n' * 50000)|indent('y' * 100) }}", "indent"),
    ("{{ ('x' * 100000)|replace('x', 'x' * 100000) }}", "replace"),
    ("{{ range(100000)|join('x' * 100000) }}", "join"),
    ("{{ 'x'|wordwrap(10**9) }}", "wordwrap"),
    ("{% for i in range(10**6) %}{% endfor %}", "Range too big"),
    ("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
     "loop iterations"),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "nests calls more than"),
    ("{% for i in range(100001) %}x{% endfor %}", "Range too big"),
    ("{% for i in range(60000) %}xx{% endfor %}", "longer than the limit"),
])
def test_render_refuses(source: str, message: str) -> None:
    start = time.monotonic()
    with pytest.raises(templates.TemplateError, match=message) as caught:
        templates.render(source, {"case": {"id": 1}, "items": [1, 2]})
    assert caught.value.code == "E_TEMPLATE"
    assert time.monotonic() - start < 1.5


def test_render_stops_a_template_that_runs_too_long(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(templates, "SECONDS", 0.2)
    source = ("{% macro f(n) %}{% if n > 0 %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}"
              "{% endmacro %}{{ f(40) }}")
    start = time.monotonic()
    with pytest.raises(templates.TemplateError, match="longer than|loop iterations"):
        templates.render(source, {})
    assert time.monotonic() - start < 1.5


def test_render_limits_are_per_call() -> None:
    assert len(templates.render("{{ 'x' * 500 }}", {}, limit=500)) == 500
    assert templates.render("{{ text|replace('a', 'b')|truncate(9) }}", {"text": "a" * 5000},
                            limit=10) == "bbbbbb..."
    with pytest.raises(templates.TemplateError, match="limit of 499"):
        templates.render("{{ 'x' * 500 }}", {}, limit=499)
    with pytest.raises(templates.TemplateError, match="template is 100001 characters"):
        templates.render("x" * 100_001, {})
    with pytest.raises(templates.TemplateError, match="text"):
        templates.render(None, {})  # type: ignore[arg-type]
    assert templates.render("{{ 'x' * 60000 }}", {}) == "x" * 60000  # back to the default


def test_self_calling_macros_stop_even_when_the_recursion_limit_was_raised() -> None:
    # a library in the process (py-evm does) may raise Python's limit past what the C
    # stack holds; the template's own nesting bound must stop first, with an error
    import sys
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        with pytest.raises(templates.TemplateError, match="nests calls more than"):
            templates.render("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", {})
    finally:
        sys.setrecursionlimit(before)
