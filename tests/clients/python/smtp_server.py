"""A real SMTP server for the email tests (tests/api/support/smtp_sink.rs):
aiosmtpd on loopback. It prints `listening <port>`, then one JSON line per
message it was given: the envelope, the message, and the code it answered
the end of the message with.

--fail-first N answers 451 to the first N attempts of each message (by
Message-ID), then 250; --always CODE answers CODE to every message.
--tls starttls offers STARTTLS and takes no mail before it; --tls tls
speaks TLS from the first byte; both with --cert and --key (PEM files).
Without --tls the server offers no TLS at all.
"""

import argparse
import asyncio
import json
import socket
import ssl
import sys
from email.parser import BytesHeaderParser

from aiosmtpd.controller import Controller


class Recorder:
    def __init__(self, fail_first, always):
        self.fail_first = fail_first
        self.always = always
        self.attempts = {}

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content
        message_id = (BytesHeaderParser().parsebytes(data).get("Message-ID") or "").strip()
        earlier = self.attempts.get(message_id, 0)
        self.attempts[message_id] = earlier + 1
        if self.always is not None:
            answered = self.always
        elif earlier < self.fail_first:
            answered = 451
        else:
            answered = 250
        print(json.dumps({
            "mail_from": envelope.mail_from,
            "rcpt_to": envelope.rcpt_tos,
            "data": data.decode("utf-8", "replace"),
            "message_id": message_id,
            "answered": answered,
        }), flush=True)
        return "250 queued" if answered == 250 else f"{answered} no"


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--always", type=int)
    parser.add_argument("--tls", choices=["starttls", "tls"])
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    tls = {}
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        if args.tls == "starttls":
            tls = {"tls_context": context, "require_starttls": True}
        else:
            tls = {"ssl_context": context}
    # aiosmtpd checks that it listens by connecting to its port, so the
    # port is chosen here rather than by the system at its bind.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        Recorder(args.fail_first, args.always), hostname="127.0.0.1", port=port, **tls
    )
    controller.start()
    print(f"listening {port}", flush=True)
    # Runs until the test's end kills it, or its standard input closes.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    controller.stop()


asyncio.run(main())
