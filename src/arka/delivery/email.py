"""Sending one notification e-mail over SMTP (`starttls`, implicit `tls` or `none`), and
checking recipient addresses. Every result, failures included, is an `Outcome`."""

from __future__ import annotations

import re
import smtplib
import ssl
import time
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

from arka.delivery import SmtpSettings
from arka.delivery.http import Outcome

SECURITY = ("starttls", "tls", "none")
MESSAGE_ID_DOMAIN = "arka"
MAX_ADDRESS = 254
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,76}$")
_ID = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


def valid_address(text: str) -> bool:
    """Whether `text` is one bare e-mail address `local@domain`: a dot-atom ASCII local
    part, a domain of host-name labels (IDNA for internationalized ones), no display name,
    no control characters; surrounding spaces and tabs are ignored, CR or LF anywhere
    refuses it."""
    if not isinstance(text, str) or "\r" in text or "\n" in text:
        return False
    text = text.strip(" \t")
    if not text or len(text) > MAX_ADDRESS or text.count("@") != 1:
        return False
    if any(not c.isprintable() or c.isspace() for c in text):
        return False
    local, domain = text.split("@")
    if not _LOCAL.match(local) or len(local) > 64 or not domain:
        return False
    try:
        ascii_domain = domain.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_domain.split(".")
    if not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        return False
    try:
        parsed = Address(addr_spec=text)
    except (ValueError, IndexError, HeaderParseError):
        return False
    return parsed.username == local and parsed.domain == domain


def message(settings: SmtpSettings, to: list[str], subject: str, body: str,
            message_id: str, headers: dict[str, str] | None = None) -> EmailMessage:
    """The message `send` sends: plain text UTF-8, `Message-ID: <{message_id}@arka>` (the
    same on every retry, so receivers can drop duplicates), `Auto-Submitted`, `Date`.
    Raises ValueError for a bad recipient, message id or header."""
    if not to:
        raise ValueError("the e-mail has no recipients")
    bad = [a for a in to if not valid_address(a)]
    if bad:
        raise ValueError(f"not an e-mail address: {bad[0]!r}")
    if not valid_address(settings.from_address):
        raise ValueError(f"notifications.smtp.from_address {settings.from_address!r} is not "
                         f"an e-mail address")
    if not isinstance(message_id, str) or not _ID.match(message_id):
        raise ValueError(f"message id {message_id!r} may hold only letters, digits, '.', "
                         f"'_' and '-'")
    msg = EmailMessage()
    msg["From"] = settings.from_address.strip()
    msg["To"] = ", ".join(a.strip() for a in to)
    msg["Subject"] = " ".join(str(subject).split())  # one line, whatever the template made
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = f"<{message_id}@{MESSAGE_ID_DOMAIN}>"
    msg["Auto-Submitted"] = "auto-generated"
    for name, value in (headers or {}).items():
        if not _HEADER_NAME.match(name) or any(c in str(value) for c in "\r\n\0"):
            raise ValueError(f"e-mail header {name!r} is not a valid header name and "
                             f"one-line value")
        if name.lower() in {"from", "to", "cc", "bcc", "subject", "message-id", "date"}:
            raise ValueError(f"e-mail header {name!r} is set by ARKA and cannot be given")
        msg[name] = str(value)
    msg.set_content(body)
    return msg


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.security == "tls":
        context = ssl.create_default_context(cafile=settings.ca_file)
        return smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                context=context)
    smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        if settings.security == "starttls":
            context = ssl.create_default_context(cafile=settings.ca_file)
            smtp.ehlo()
            smtp.starttls(context=context)  # refuses a server without STARTTLS
            smtp.ehlo()
    except BaseException:
        smtp.close()
        raise
    return smtp


def _text(value: bytes | str) -> str:
    raw = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(raw.split())[:300]


def send(settings: SmtpSettings, to: list[str], subject: str, body: str, message_id: str,
         headers: dict[str, str] | None = None) -> Outcome:
    """Send one plain-text e-mail (see `message`) to `to` from `settings.from_address`,
    logging in when `settings.username` is set. ok when the server accepted it for at
    least one recipient; `status` is the SMTP reply code of a refusal."""
    start = time.monotonic()

    def done(ok: bool, status: int | None, error: str | None) -> Outcome:
        return Outcome(ok, status, error, time.monotonic() - start)

    if settings.security not in SECURITY:
        return done(False, None, f"notifications.smtp.security is {settings.security!r}; "
                    f"use one of {', '.join(SECURITY)}")
    try:
        msg = message(settings, to, subject, body, message_id, headers)
    except ValueError as exc:
        return done(False, None, str(exc))
    try:
        smtp = _connect(settings)
        try:
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            refused = smtp.send_message(msg)
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()), (None, b""))
        return done(False, code, f"every recipient was refused: {_text(text)}")
    except smtplib.SMTPResponseException as exc:
        return done(False, exc.smtp_code, f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}")
    except ssl.SSLCertVerificationError as exc:
        return done(False, None, f"the SMTP server's certificate does not verify "
                    f"({exc.verify_message}); set notifications.smtp.ca_file to its CA")
    except (smtplib.SMTPException, OSError) as exc:
        return done(False, None, _text(f"{type(exc).__name__}: {exc}") or "SMTP error")
    if refused:
        names = ", ".join(sorted(refused))
        return done(True, 250, _text(f"accepted, but refused for: {names}"))
    return done(True, 250, None)
