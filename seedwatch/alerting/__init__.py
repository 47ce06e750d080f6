"""Email alerts: one per story, never twice, never lost (see docs/alerts.md).

::

    rules       alerts.yaml -> AlertRule, SmtpSettings (CLI settings or the Airflow connection)
    ledger      the alert_ledger table: sending -> sent | deferred, per rule and story
    send        which stories are due (grouped by story_id, updates), digest timing, sending
    compose     the multipart email from templates/stories.{txt,html}.j2, escaped
    transport   SMTP, plain / STARTTLS / SSL, with login
    operations  the daily operations digest: failing or quiet feeds, index backlog

The two-step protocol (docs/adr/0002-alert-exactly-once.md): ledger rows are
committed as ``sending`` with a deterministic Message-ID *before* the email goes to
the server, and become ``sent`` on its 250. An SMTP failure makes them ``deferred``
(sent on a later run, the delay shown in the email). A crash between the send and
the record leaves ``sending`` rows: the next run sends that email again *with the
same Message-ID*, which mail systems de-duplicate. A named lease per rule keeps two
senders (an Airflow retry next to a CLI run) from sending at once.
"""

from seedwatch.alerting.compose import Story
from seedwatch.alerting.ledger import alert_ledger
from seedwatch.alerting.operations import send_operations_digest
from seedwatch.alerting.rules import AlertRule, SmtpSettings, load_alert_rules, smtp_settings_from_airflow_connection
from seedwatch.alerting.send import SendReport, SentMessage, alert_latencies, send_due_alerts

__all__ = [
    "AlertRule",
    "SendReport",
    "SentMessage",
    "SmtpSettings",
    "Story",
    "alert_latencies",
    "alert_ledger",
    "load_alert_rules",
    "send_due_alerts",
    "send_operations_digest",
    "smtp_settings_from_airflow_connection",
]
