"""Hand an email to the SMTP server (plain, STARTTLS or SSL; optional login)."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

from seedwatch.alerting.rules import SmtpSettings

# What "the server could not take it now" looks like: refused or dropped connections,
# timeouts, TLS failures (all OSError) and 4xx/5xx answers (SMTPException is an OSError).
DELIVERY_ERRORS = (OSError,)


def deliver(smtp: SmtpSettings, message: EmailMessage, recipients: Sequence[str]) -> dict[str, Any]:
    """Send ``message``; return the recipients the server refused (empty: all accepted).

    Raises one of ``DELIVERY_ERRORS`` when nothing was accepted.
    """
    context = ssl.create_default_context()
    client_class = smtplib.SMTP_SSL if smtp.security == "ssl" else smtplib.SMTP
    kwargs: dict[str, Any] = {"context": context} if smtp.security == "ssl" else {}
    with client_class(smtp.host, smtp.port, timeout=smtp.timeout_s, **kwargs) as client:
        if smtp.security == "starttls":
            client.starttls(context=context)
        if smtp.username and smtp.password:
            client.login(smtp.username, smtp.password.get_secret_value())
        return dict(client.send_message(message, from_addr=smtp.sender, to_addrs=list(recipients)))
