"""Where mail goes: an SMTP server (MAIL_URL), the log, or .eml files in instance/mail/ (development)."""

import logging
import smtplib
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10


class MailURLError(ValueError):
    """MAIL_URL cannot be used; the message says why."""


@dataclass(frozen=True)
class SMTPTarget:
    host: str
    port: int
    tls: bool  # smtps:// (TLS from the first byte)
    starttls: bool
    username: str | None
    password: str | None


def parse_mail_url(url):
    """Return an SMTPTarget for an smtp(s):// URL, "log" for `log`, or None (unset: development files)."""
    if not url:
        return None
    if url == "log":
        return "log"
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise MailURLError("must be smtp://user:pass@host:port, smtps://..., or log")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError:
        raise MailURLError("has an invalid port") from None
    starttls = parse_qs(parts.query).get("starttls", ["0"])[0].lower() in ("1", "true", "yes")
    return SMTPTarget(
        host=parts.hostname,
        port=port,
        tls=parts.scheme == "smtps",
        starttls=starttls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class PermanentFailure(Exception):
    """The server refused the mail for good (5xx): retrying would not help."""


def deliver(message, mail_url, mail_dir):
    """Hand `message` (an EmailMessage) to MAIL_URL's server; raise on failure (PermanentFailure for 5xx)."""
    target = parse_mail_url(mail_url)
    if target is None:
        return _write_file(message, Path(mail_dir))
    if target == "log":
        log.info("mail (MAIL_URL=log) to %s: %s\n%s", message["To"], message["Subject"], _text_of(message))
        return
    try:
        _send_smtp(message, target)
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as e:
        codes = [code for code, _ in e.recipients.values()] if hasattr(e, "recipients") else [e.smtp_code]
        if codes and all(500 <= code < 600 for code in codes):
            raise PermanentFailure(str(e)) from e
        raise


def _send_smtp(message, target):
    context = ssl.create_default_context()
    if target.tls:
        client = smtplib.SMTP_SSL(target.host, target.port, timeout=TIMEOUT_SECONDS, context=context)
    else:
        client = smtplib.SMTP(target.host, target.port, timeout=TIMEOUT_SECONDS)
    with client:
        if target.starttls:
            client.starttls(context=context)
        if target.username:
            client.login(target.username, target.password or "")
        client.send_message(message)


def _text_of(message):
    part = message.get_body(("plain",))
    return part.get_content() if part is not None else ""


def _write_file(message, folder):
    """Development without MAIL_URL: log the mail and keep it as instance/mail/<message id>.eml."""
    folder.mkdir(parents=True, exist_ok=True)
    name = message["Message-ID"].strip("<>").replace("@", "_").replace("/", "_") + ".eml"
    path = folder / name
    path.write_bytes(bytes(message))
    log.info("mail to %s: %s (written to %s)\n%s", message["To"], message["Subject"], path, _text_of(message))
