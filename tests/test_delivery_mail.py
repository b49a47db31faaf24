"""E-mail of scheduled pages through a real SMTP server the test starts (aiosmtpd): each page
goes only to its own member's addresses; failures are told to whoever is named."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from salesml.config import EmailSettings, ScheduleSettings
from salesml.delivery import mail, runs
from tests.conftest import free_port
from tests.test_reports_runner import with_notebooks

MARCH_1 = datetime(2024, 3, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _settings(toy, port, **schedule):
    e = EmailSettings(host="127.0.0.1", port=port, security="none", sender="salesml@example.com",
                      addresses={"rep:R1": ("alice@example.com",), "rep:R3": ("carol@example.com",)},
                      failures_to=("bi@example.com",))
    s = ScheduleSettings(report="sales_performance", cron="0 6 1 * *", timezone="Asia/Shanghai", audience=("rep:R1", "rep:R3", "rep:R2"),
                         parameters={"period": "last_month"}, email=True, **schedule)
    return dataclasses.replace(with_notebooks(toy), email=e, schedules={"reps": s})


@pytest.mark.notebook
def test_each_page_goes_only_to_its_own_member(toy, smtp_server):
    controller, inbox = smtp_server
    from salesml import warehouse

    with warehouse.open(toy) as con:
        con.execute("UPDATE reps SET name = 'CANARY-7731 Carol' WHERE rep_id = 'R3'")
    s = _settings(toy, controller.port)
    out = runs.run_due(s, MARCH_1, workers=2)
    assert not out.failed
    assert out.problems == ["schedule reps: no e-mail address for rep:R2 ([email] addresses)"]
    got = {to: msg for to, msg in inbox.messages}
    assert set(got) == {("alice@example.com",), ("carol@example.com",)}  # R2 has no address: nothing sent
    alice = got[("alice@example.com",)]
    assert alice["Subject"] == "Sales performance 2024-02 — rep:R1" and alice["From"] == "salesml@example.com"
    (page,) = [p for p in alice.walk() if p.get_filename()]
    assert page.get_filename() == "rep-R1.html"
    html = page.get_payload(decode=True).decode("utf-8")
    assert "Alice" in html and "CANARY-7731" not in html  # Alice's own page, nothing of Carol's
    assert "CANARY-7731" not in alice.as_string()
    # the letter opens with the page's own summary (Alice's figures) and what to do
    body = alice.get_body(("plain",)).get_content()
    assert body.startswith("Your sales performance report for 2024-02 (rep:R1) is attached")
    assert "Revenue " in body and "of target" in body and "Sent by salesml." in body
    carol = got[("carol@example.com",)].as_string()
    assert "CANARY-7731" in "".join(p.get_payload(decode=True).decode("utf-8") for p in got[("carol@example.com",)].walk() if p.get_filename())
    assert "alice" not in carol.lower()
    rec = runs.records(s).set_index("audience")
    assert rec.loc["rep:R1", "emailed_to"] == "alice@example.com" and rec.loc["rep:R2", "emailed_to"] is None


def test_a_chinese_page_is_announced_in_chinese_with_its_summary(tmp_path):
    page = tmp_path / "p.html"
    page.write_text("<html></html>", encoding="utf-8")
    e = EmailSettings(host="h", sender="s@example.com", addresses={"rep:R1": ("a@example.com",)})
    figures = {"lang": "zh", "summary": ["净收入 ¥207.9万。"], "actions": ["联系客户。"], "warnings": 2}
    letter = mail.page_letter(e, "rep:R1", "sales_performance", {"period": "2026-11"}, page, figures)
    assert letter.text.startswith("附件是你的")
    assert "净收入 ¥207.9万。" in letter.text and "建议行动：\n1. 联系客户。" in letter.text and "风险预警 2 项" in letter.text
    assert mail.page_letter(e, "rep:R9", "sales_performance", {}, page, figures) is None


def test_failures_are_told_and_an_unreachable_server_is_said_not_hidden(toy, smtp_server):
    controller, inbox = smtp_server
    s = _settings(toy, controller.port)
    letter = mail.failure_letter(s.email, [("reps", "rep:R3", "report sales_performance failed in cell 4: boom")])
    assert mail.send(s.email, [letter]) == [None]
    ((to, msg),) = inbox.messages
    assert to == ("bi@example.com",) and "rep:R3: report sales_performance failed in cell 4: boom" in msg.get_payload()
    dead = dataclasses.replace(s.email, port=free_port())
    with pytest.raises(mail.EmailError, match=r"cannot send e-mail through 127\.0\.0\.1:\d+"):
        mail.send(dead, [letter])
    with pytest.raises(mail.EmailError, match=r"\$SALESML_SMTP_PASSWORD holds no password"):
        mail.send(dataclasses.replace(s.email, username="bot"), [letter])


def test_starttls_is_required_never_dropped_for_plain_text(smtp_server):
    """Under ``[email] security = "starttls"`` (the default) a server that does not offer
    STARTTLS (this one has no certificate) is refused: nothing is sent in the clear."""
    controller, inbox = smtp_server
    e = EmailSettings(host="127.0.0.1", port=controller.port, sender="salesml@example.com", failures_to=("bi@example.com",))
    assert e.security == "starttls"
    letter = mail.failure_letter(e, [("reps", "rep:R3", "CANARY-4410")])
    with pytest.raises(mail.EmailError, match=r"cannot send e-mail through 127\.0\.0\.1:\d+: STARTTLS extension not supported"):
        mail.send(e, [letter])
    assert inbox.messages == []
    assert mail.send(dataclasses.replace(e, security="none"), [letter]) == [None]  # the same server, in the clear when asked
    assert "CANARY-4410" in inbox.messages[0][1].get_payload()
