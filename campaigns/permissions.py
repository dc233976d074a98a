"""Who may send reminder campaigns: the `campaigns.send_reminders` permission."""

from __future__ import annotations

from typing import Any

SEND_REMINDERS = "campaigns.send_reminders"
REFUSAL = ("You may not send reminder campaigns: it needs the permission “Can send reminder "
           "campaigns”. Ask an administrator.")


def may_send_reminders(user: Any) -> bool:
    """Active staff with the permission (superusers have all)."""
    return bool(user.is_active and user.is_staff and user.has_perm(SEND_REMINDERS))


def job_permitted(user: Any, params: dict[str, Any] | None) -> bool:
    """JobKind.permitted of campaigns: the same right to see one as to start one."""
    return may_send_reminders(user)


SENDERS_GROUP = "Reminder senders"


def senders_group_ensure(**_signal: Any) -> None:
    """post_migrate: the role group that may send reminder campaigns."""
    from django.contrib.auth.models import Group, Permission

    group, _created = Group.objects.get_or_create(name=SENDERS_GROUP)
    found = Permission.objects.filter(content_type__app_label="campaigns",
                                      codename="send_reminders").first()
    if found is not None:
        group.permissions.add(found)
