"""Each reminder built as post-office's `Email.prepare_email_message()` builds it."""

from __future__ import annotations

from typing import Any

from django.core.mail import EmailMessage
from django.db.models import prefetch_related_objects
from post_office.models import Email, EmailTemplate
from post_office.settings import get_template_engine

from campaigns.dispatch.values import Item


def one_line(text: str) -> str:
    """A header value with its line breaks folded into spaces.

    Django refuses CR/LF in a header (BadHeaderError), and only when the message is turned
    into bytes: at send time, after the row was written, for the whole message. A title
    typed with a line break must not cost the email.
    """
    if "\n" not in text and "\r" not in text:
        return text
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


class Renderer:
    """post-office's own `prepare_email_message()`, each template compiled once per campaign.

    post-office compiles an Email's three templates on every call. Here they are compiled
    once and rendered per recipient, and the rendered parts are handed to post-office's method
    the way an Email without a template carries them: everything else (OVERRIDE_RECIPIENTS,
    cc/bcc, the row's headers, Expires, Message-ID, text and html parts, attachments) is
    post-office's code. Not when the engine's templates collect inline images (post-office's
    own engine keeps them on the compiled template, so a shared one would pile up every
    recipient's): post-office then renders the email itself. One deviation: the subject is
    kept on one line (`one_line`). tests/campaigns/test_mail_build.py compares the two.

    Not thread-safe: the dispatcher's feeding thread alone builds messages.
    """

    def __init__(self) -> None:
        self.engine = get_template_engine()
        self._compiled: dict[int, tuple[Any, Any, Any] | None] = {}

    def _templates(self, template_id: int) -> tuple[Any, Any, Any] | None:
        if template_id not in self._compiled:
            template = EmailTemplate.objects.get(pk=template_id)
            compiled = (self.engine.from_string(template.subject),
                        self.engine.from_string(template.content),
                        self.engine.from_string(template.html_content))
            shareable = not hasattr(compiled[2], "attach_related")
            self._compiled[template_id] = compiled if shareable else None
        return self._compiled[template_id]

    def message(self, item: Item) -> EmailMessage:
        """The message post-office would send for the item's Email row."""
        mail = item.mail if item.mail is not None else _unsaved(item)
        compiled = None
        if mail.template_id is not None and mail.context is not None:
            compiled = self._templates(mail.template_id)
        if compiled is not None:
            subject, text, html = (t.render(mail.context) for t in compiled)
            # A throwaway copy of the row, never saved (bookkeeping writes by SQL).
            mail.subject, mail.message, mail.html_message = subject, text, html
            mail.template = None
        msg = mail.prepare_email_message()
        msg.subject = one_line(msg.subject)
        return msg


def _unsaved(item: Item) -> Email:
    """The Email row an Item describes, for callers that did not load it."""
    mail = Email(pk=item.mail_id, from_email=item.from_email, to=[item.address],
                 template_id=item.template_id, context=item.context,
                 message_id=item.message_id)
    prefetch_related_objects([mail], "attachments")
    return mail
