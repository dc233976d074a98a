"""Who may export what: the model's `view` permission plus its own `export_<model>` one."""

from __future__ import annotations

from typing import Any

from exports.registry import EXPORT_TYPES, ExportType


def export_perms(entry: ExportType) -> tuple[str, str]:
    """The two permissions an export of this claim type needs, as `has_perms` takes them."""
    meta = entry.model._meta
    return (f"{meta.app_label}.view_{meta.model_name}",
            f"{meta.app_label}.export_{meta.model_name}")


def may_export(user: Any, entry: ExportType) -> bool:
    """Active staff with both permissions (superusers have all)."""
    return bool(user.is_active and user.is_staff and user.has_perms(export_perms(entry)))


def exportable_types(user: Any) -> list[ExportType]:
    """The claim types this user may export, in the registry's order."""
    return [entry for entry in EXPORT_TYPES.values() if may_export(user, entry)]


def export_refusal(entry: ExportType) -> str:
    """The 403 sentence: what is missing and whom to ask."""
    return (f"You may not export {entry.label.lower()}: it needs the permissions "
            f"“Can view {entry.model._meta.verbose_name}” and “Can export "
            f"{entry.model._meta.verbose_name_plural}”. Ask an administrator.")


def job_permitted(user: Any, params: dict[str, Any] | None) -> bool:
    """JobKind.permitted of exports: may this user see (or start) an export with these params
    (params None: of some claim type)?"""
    if params is None:
        return bool(exportable_types(user))
    entry = EXPORT_TYPES.get(str(params.get("claim_type")))
    return entry is not None and may_export(user, entry)


EXPORTERS_GROUP = "Claims exporters"


def exporters_group_ensure(**_signal: Any) -> None:
    """post_migrate: the role group that may export every claim type (the Django habit: grant
    a group, then add people to it). Adds missing permissions; never removes any."""
    from django.contrib.auth.models import Group, Permission

    group, _created = Group.objects.get_or_create(name=EXPORTERS_GROUP)
    for entry in EXPORT_TYPES.values():
        for perm in export_perms(entry):
            app_label, codename = perm.split(".")
            found = Permission.objects.filter(content_type__app_label=app_label,
                                              codename=codename).first()
            if found is not None:
                group.permissions.add(found)
