"""Email over SMTP: Jinja2 templates (plain text + HTML), optional .ics calendar invite.

The claimed outbox payload holds the facts: template name, recipient (with the time zone they read
times in), context (ids, people, plan, UTC start and end instants, the place, paths of the
frontend's pages) and, for appointment emails, the invite (UID, SEQUENCE, METHOD). A session email's
row carries ids only; the claim reads those facts in its transaction (the session as it is when
sent: app_private.session_email_facts); other emails carry them as written. All wording is in the
templates, subjects included (`<name>.subject.j2`); times (in the RECIPIENT's zone: a Toronto
customer and a Vancouver mechanic each read their own wall-clock time) and the address are formatted
once, by api/presentation.py; links are on the frontend's URL (AUTODOC_APP_URL), never on the API's
host. This module renders and sends it. The Message-ID is derived from the outbox key, so in the
rare case a message is sent twice (the worker died between the SMTP answer and the write-back; SMTP
has no idempotency keys) both copies carry the same Message-ID and mail clients show one.

SMTP replies: 4xx (transient) and 5xx are both retried with backoff until the row's max_attempts,
then the row is a dead letter an admin can retry (a 5xx is usually a relay or configuration
problem an operator fixes, after which the retry succeeds). A connection failure (server down) is
retried the same way, so an SMTP outage loses nothing. A server that accepts the connection and then
says nothing is a failure after AUTODOC_SMTP_TIMEOUT_SECONDS (10 s; it holds only the email lane).
A payload we cannot render is permanent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import smtplib
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from api.calendar_invite import build_invite, organizer_from
from api.config import Settings
from api.effects import Job, PermanentError, RetryableError
from api.presentation import local_datetime, local_time, place

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "email"


def _money(cents: Any) -> str:
    try:
        return f"${int(cents) / 100:,.2f}"
    except (TypeError, ValueError):
        return ""


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["money"] = _money
    env.filters["local_time"] = local_time   # {{ instant | local_time(zone) }}: '10:30 AM' (an offer's expiry)
    return env


def render(template: str, variables: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) for one template and its variables. Jinja's loader caches the compiled
    templates, subjects included (compiling a subject per message cost ~0.5 ms of ~3.5 ms)."""
    env = _env()
    try:
        subject = env.get_template(f"{template}.subject.j2").render(**variables)
        text = env.get_template(f"{template}.txt.j2").render(**variables)
        html = env.get_template(f"{template}.html.j2").render(**variables)
    except jinja2.TemplateError as e:
        raise PermanentError(f"cannot render email template {template!r}: {e}") from e
    return " ".join(subject.split()), text, html


def presented(facts: Mapping[str, Any], zone: str | None = None) -> dict[str, Any]:
    """The facts plus how the reader sees them: the start as 'Monday, March 4, 2030 at 10:00 AM' and
    the end as '10:30 AM' in the reader's zone (else the appointment's), and the place on one line."""
    context = dict(facts)
    zone = zone or context.get("timezone")
    context["timezone"] = zone
    context["local_start"] = local_datetime(context.get("starts_at"), zone)
    context["local_end"] = local_time(context.get("ends_at"), zone)
    context["location"] = place(context.get("place"))
    return context


def message_id(key: str, mail_from: str) -> str:
    domain = organizer_from(mail_from)[1].rpartition("@")[2] or "autodoctor.local"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def build_message(settings: Settings, job: Job, *, now: dt.datetime | None = None) -> EmailMessage:
    """The MIME message: multipart/mixed { multipart/alternative { text, html }, invite.ics }.
    The invite part is `text/calendar; method=REQUEST|CANCEL`, which is what makes mail clients
    offer to add, update or remove the event."""
    p = job.payload
    try:
        template = str(p["template"])
        to = p["to"]
        to_addr = formataddr((str(to.get("name") or ""), str(to["email"])))
        person = (p.get("context") or {}).get(str(p.get("recipient_role") or "")) or {}
        zone = to.get("timezone") or (person.get("timezone") if isinstance(person, dict) else None)
        context = presented(p.get("context") or {}, zone)
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise PermanentError(f"malformed email payload: {e!r}") from e
    base_url = settings.app_url.rstrip("/")  # links open the frontend, never the API
    variables = {"context": context, "to": to, "base_url": base_url,
                 "url": lambda path: base_url + str(path or "")}
    subject, text, html = render(template, variables)

    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to_addr
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
    msg["Message-ID"] = message_id(job.idempotency_key, settings.mail_from)
    msg["X-AutoDoctor-Key"] = job.idempotency_key
    if context.get("session_id"):
        msg["X-AutoDoctor-Session"] = str(context["session_id"])
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")

    invite = p.get("invite")
    if invite:
        name, address = organizer_from(settings.mail_from)
        try:
            ics = build_invite(invite, organizer_name=name, organizer_email=address, base_url=base_url, now=now)
        except (KeyError, TypeError, ValueError) as e:
            raise PermanentError(f"malformed invite: {e!r}") from e
        method = str(invite.get("method") or "REQUEST").upper()
        msg.make_mixed()
        msg.add_attachment(ics, maintype="text", subtype="calendar",
                           params={"method": method, "charset": "utf-8"},
                           filename="cancel.ics" if method == "CANCEL" else "invite.ics")
    return msg


def send_email(settings: Settings, job: Job) -> dict[str, Any]:
    msg = build_message(settings, job)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds) as smtp:
            refused = smtp.send_message(msg)
    except smtplib.SMTPRecipientsRefused as e:
        codes = sorted({code for code, _ in e.recipients.values()})
        raise RetryableError(f"SMTP refused every recipient: {codes}") from e
    except smtplib.SMTPResponseException as e:
        kind = "transient" if 400 <= e.smtp_code < 500 else "permanent"
        raise RetryableError(f"SMTP {e.smtp_code} ({kind}): {e.smtp_error!r}") from e
    except (TimeoutError, smtplib.SMTPException, OSError) as e:
        raise RetryableError(f"SMTP unavailable: {e!r}") from e
    return {"message_id": msg["Message-ID"], "to": msg["To"], "subject": msg["Subject"],
            "refused": sorted(refused)}
