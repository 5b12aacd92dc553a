"""Mails from templates: a plain-text and an HTML part, headers that no name or address can break."""

import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

# Control characters (CR, LF, tab, ...) and Unicode line separators become one space in headers.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")

_env = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def one_line(text, limit=200):
    """`text` as a safe header value: no control characters, at most `limit` characters."""
    return _CONTROL.sub(" ", text or "").strip()[:limit]


def render(kind, context):
    """Return (subject, text, html) of the `kind` templates with `context`."""
    subject = _env.get_template(f"{kind}.subject.txt").render(context)
    text = _env.get_template(f"{kind}.txt").render(context)
    html = _env.get_template(f"{kind}.html").render(context)
    return one_line(subject, 255), text, html


def address(addr, name=None):
    """An Address object; the display name is flattened to one line and quoted by the email package."""
    local, _, domain = addr.rpartition("@")
    if not local or not domain or _CONTROL.search(addr) or any(c in addr for c in ' <>,;"'):
        raise ValueError(f"not a plain address: {addr!r}")
    return Address(display_name=one_line(name, 100), username=local, domain=domain)


def sender(mail_from):
    """MAIL_FROM ("Name <addr>" or "addr") as an Address."""
    name, addr = parseaddr(mail_from)
    return address(addr, name)


def build(mail, mail_from):
    """The EmailMessage of a rendered outbox row."""
    message = EmailMessage()
    message["From"] = sender(mail_from)
    message["To"] = address(mail.to_addr, mail.to_name)
    message["Subject"] = one_line(mail.subject, 255)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = mail.message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text_body, cte=_transfer_encoding(mail.text_body))
    message.add_alternative(mail.html_body, subtype="html", cte=_transfer_encoding(mail.html_body))
    return message


def _transfer_encoding(text):
    """7bit when the text allows it, so a link reads as-is in a raw .eml; else quoted-printable."""
    if text.isascii() and all(len(line) <= 900 for line in text.splitlines()):
        return "7bit"
    return "quoted-printable"
