"""Building each recipient's message from its post-office template and context."""

from __future__ import annotations

import threading
from typing import Any

from django.core.mail import EmailMultiAlternatives
from post_office.models import EmailTemplate
from post_office.settings import get_template_engine

from campaigns.dispatch.values import Item


class Renderer:
    """post-office EmailTemplates compiled once per campaign, rendered per recipient."""

    def __init__(self) -> None:
        self._compiled: dict[int | None, tuple[Any, Any, Any]] = {}
        self._lock = threading.Lock()

    def _templates(self, template_id: int | None) -> tuple[Any, Any, Any]:
        with self._lock:
            if template_id not in self._compiled:
                template = EmailTemplate.objects.get(pk=template_id)
                engine = get_template_engine()
                self._compiled[template_id] = (
                    engine.from_string(template.subject),
                    engine.from_string(template.content),
                    engine.from_string(template.html_content),
                )
            return self._compiled[template_id]

    def message(self, item: Item) -> EmailMultiAlternatives:
        """The same message post-office would build from the Email's template and context."""
        subject_t, text_t, html_t = self._templates(item.template_id)
        subject = " ".join(subject_t.render(item.context).split())
        msg = EmailMultiAlternatives(
            subject=subject, body=text_t.render(item.context), from_email=item.from_email,
            to=[item.address],
            headers={"Message-ID": item.message_id} if item.message_id else None,
        )
        msg.attach_alternative(html_t.render(item.context), "text/html")
        return msg
