"""E-mail: scheduled pages to their own member's addresses, failure notices to whoever is told.

A page made for ``rep:R017`` goes only to the addresses ``[email] addresses`` gives for
``rep:R017`` (a team's page to the team's, ...): never to anyone else, and a member without an
address gets nothing (the run says so). The page travels as an attachment with plotly.js inside
(it opens offline); the message's own text names the report, the period and the scope, and
nothing else. The password comes from the environment variable ``[email] password_env``, never
from the config file. One SMTP connection per run.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from salesml.config import EmailSettings
from salesml.errors import SalesmlError


class EmailError(SalesmlError, RuntimeError):
    """The SMTP server could not be reached or refused a message; the message says which."""


@dataclass(frozen=True)
class Letter:
    """One message: to whom, its subject and text, and the page it carries (if any)."""

    to: tuple[str, ...]
    subject: str
    text: str
    page: Path | None = None


def page_letter(e: EmailSettings, member: str, report: str, parameters: dict, page: Path, figures: dict | None = None) -> Letter | None:
    """The message carrying ``page`` to ``member``'s own addresses (None: the member has none);
    its text opens with the page's summary and actions (``figures`` the page recorded), in
    the page's language, so the reader sees what happened before opening the attachment."""
    to = tuple(e.addresses.get(member, ()))
    if not to:
        return None
    figures = figures or {}
    zh = figures.get("lang") == "zh"
    when = parameters.get("period") or parameters.get("as_of") or ""
    title = report.replace("_", " ").capitalize()
    if zh:
        intro = f"附件是你的{title}报告{('（' + str(when) + '）') if when else ''}（{member}）：请用浏览器打开。"
    else:
        intro = f"Your {title.lower()} report{' for ' + str(when) if when else ''} ({member}) is attached: open it in a browser."
    parts = [intro]
    sentences = [str(t) for t in figures.get("summary") or []]
    if sentences:
        parts.append("\n".join(sentences))
    actions = [str(t) for t in figures.get("actions") or []]
    if actions:
        head = "建议行动：" if zh else "What to do:"
        parts.append(head + "\n" + "\n".join(f"{i}. {a}" for i, a in enumerate(actions, 1)))
    warnings = figures.get("warnings")
    if warnings:
        parts.append(f"风险预警 {warnings} 项：见报告顶部。" if zh else f"{warnings} early warning(s): at the top of the page.")
    parts.append("由 salesml 发送。" if zh else "Sent by salesml.")
    return Letter(to, f"{title} {when} — {member}".strip(), "\n\n".join(parts), page)


def failure_letter(e: EmailSettings, failures: list[tuple[str, str, str]]) -> Letter | None:
    """A notice of failed pages (``(schedule, member, error)``) to ``[email] failures_to``."""
    if not e.failures_to or not failures:
        return None
    lines = [f"- {schedule} / {member}: {error}" for schedule, member, error in failures]
    return Letter(tuple(e.failures_to), f"salesml: {len(failures)} scheduled page(s) failed",
                  "These scheduled pages failed; the next run-due tries them again:\n\n" + "\n".join(lines) + "\n")


def _message(e: EmailSettings, letter: Letter) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = e.sender
    msg["To"] = ", ".join(letter.to)
    msg["Subject"] = letter.subject
    msg.set_content(letter.text)
    if letter.page is not None:
        msg.add_attachment(letter.page.read_bytes(), maintype="text", subtype="html", filename=letter.page.name)
    return msg


@contextmanager
def smtp(e: EmailSettings) -> Iterator[smtplib.SMTP]:
    """A logged-in SMTP connection to ``[email] host`` for a ``with`` block."""
    try:
        if e.security == "ssl":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(e.host, e.port, timeout=e.timeout_s, context=ssl.create_default_context())
        else:
            conn = smtplib.SMTP(e.host, e.port, timeout=e.timeout_s)
            if e.security == "starttls":
                conn.starttls(context=ssl.create_default_context())
        if e.username:
            password = os.environ.get(e.password_env, "")
            if not password:
                conn.close()
                raise EmailError(f"[email] username is set but ${e.password_env} holds no password")
            conn.login(e.username, password)
    except (OSError, smtplib.SMTPException) as err:
        raise EmailError(f"cannot send e-mail through {e.host}:{e.port}: {err}") from None
    try:
        yield conn
    finally:
        try:
            conn.quit()
        except (OSError, smtplib.SMTPException):
            conn.close()


def send(e: EmailSettings, letters: list[Letter]) -> list[str | None]:
    """Send ``letters`` over one connection: for each, None when sent, else why not (a
    connection that cannot be made is an :class:`EmailError`)."""
    if not letters:
        return []
    outcome: list[str | None] = []
    with smtp(e) as conn:
        for letter in letters:
            try:
                conn.send_message(_message(e, letter))
                outcome.append(None)
            except (OSError, smtplib.SMTPException) as err:
                outcome.append(f"e-mail {letter.subject!r} to {', '.join(letter.to)} was refused: {err}")
    return outcome
