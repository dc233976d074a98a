"""Plain-text parts of campaign mail are not HTML: no `&amp;` in a subject or a body."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string

from campaigns.dispatch.render import Renderer
from campaigns.dispatch.values import Item
from campaigns.services import reminder_template_ensure

pytestmark = pytest.mark.django_db

CONTEXT = {"name": "Ann O'Brien", "link": "http://testserver/agreements/accept/t/?a=1&b=2",
           "title": "Terms & Conditions", "version": 2, "expires_days": 30}


def test_reminder_subject_and_text_body_are_not_html_escaped():
    template = reminder_template_ensure()
    item = Item(recipient_id=1, address="ann@example.test", mail_id=1, template_id=template.pk,
                context=CONTEXT, message_id=None, from_email="noreply@example.test")
    msg = Renderer().message(item)
    assert msg.subject == "Please accept our Terms & Conditions (version 2)"
    assert "Hello Ann O'Brien," in msg.body
    assert "our Terms & Conditions (version 2)" in msg.body
    assert CONTEXT["link"] in msg.body
    assert "&amp;" not in msg.body and "&#x27;" not in msg.body
    # The HTML alternative is HTML: there escaping is right.
    html, _mimetype = msg.alternatives[0]
    assert "Terms &amp; Conditions" in html and "O&#x27;Brien" in html


def test_summary_text_keeps_smtp_replies_as_they_were():
    text = render_to_string("campaigns/email/summary.txt", {
        "title": "Reminders: Terms & Conditions v1", "status": "succeeded",
        "counts": {"total": 1, "sent": 0, "failed": 1, "not_sent": 0},
        "failures": [{"email": "x@example.test", "error": "550 <x@example.test> unknown"}],
    })
    assert 'Campaign "Reminders: Terms & Conditions v1" succeeded.' in text
    assert "x@example.test: 550 <x@example.test> unknown" in text
