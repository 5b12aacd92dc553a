"""A real SMTP server for tests (aiosmtpd in a thread): what it received, and a switch to refuse mail."""

import email
import email.policy
import re
import socket
import threading

from aiosmtpd.controller import Controller


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """Collects every accepted message; `refuse` makes the server answer 451 (try again later)."""

    def __init__(self):
        self.messages = []
        self.envelopes = []
        self.refuse = False
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return "451 Try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.envelopes.append(envelope)
            self.messages.append(message)
        return "250 OK"

    def to(self, address):
        return [m for m in self.messages if address in str(m["To"])]


class SMTPServer:
    """Start, stop and restart an aiosmtpd server on one free port; `url` is the MAIL_URL that reaches it."""

    def __init__(self):
        self.port = free_port()
        self.inbox = Inbox()
        self.controller = None

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def start(self):
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


LINK = re.compile(r"https?://\S+\?token=([A-Za-z0-9_\-]+)")


def text_part(message):
    return message.get_body(("plain",)).get_content()


def html_part(message):
    return message.get_body(("html",)).get_content()


def token_in(message):
    """The token of the link in a mail's text part."""
    return LINK.search(text_part(message)).group(1)
