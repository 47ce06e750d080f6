"""A real SMTP server on loopback that keeps what it receives (demo and tests).

aiosmtpd speaks SMTP on a TCP port like any mail server; each message that
arrives is parsed into an ``EmailMessage`` and, optionally, saved as an .eml file.
"""

from __future__ import annotations

import email
import email.policy
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Self

from aiosmtpd.controller import Controller


@dataclass
class ReceivedMail:
    envelope_from: str
    envelope_to: list[str]
    message: EmailMessage
    raw: bytes
    path: Path | None = None
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class _Handler:
    save_dir: Path | None
    received: list[ReceivedMail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self.lock:
            path = None
            if self.save_dir is not None:
                self.save_dir.mkdir(parents=True, exist_ok=True)
                path = self.save_dir / f"{len(list(self.save_dir.glob('*.eml'))) + 1:04d}.eml"
                path.write_bytes(raw)
            self.received.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message, raw, path))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


class MailSink:
    """``with MailSink(port=0) as sink: ... sink.messages``: a loopback SMTP server."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, save_dir: Path | None = None) -> None:
        self._handler = _Handler(save_dir)
        self._controller = Controller(self._handler, hostname=host, port=port or _free_port(host))
        self.host = host

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def received(self) -> list[ReceivedMail]:
        with self._handler.lock:
            return list(self._handler.received)

    @property
    def messages(self) -> list[EmailMessage]:
        return [mail.message for mail in self.received]

    def start(self) -> Self:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
