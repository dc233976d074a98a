"""Access tokens in the Django admin: read-only (the secret exists only when it is created:
on the dashboard or with `manage.py jobs_token create`), with a Revoke action."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from tokens.models import AccessToken
from tokens.services import token_revoke


@admin.register(AccessToken)
class AccessTokenAdmin(admin.ModelAdmin):
    list_display = ["display_prefix", "name", "user", "scopes", "state", "created_at",
                    "expires_at", "last_used_at"]
    list_filter = ["revoked_at", "expires_at", ("user", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["prefix", "name", "user__username"]
    list_select_related = ["user"]
    actions = ["revoke_tokens"]
    # The hash is shown as what it is; neither it nor anything else can be edited here.
    fields = ["display_prefix", "name", "user", "scopes", "state", "created_at", "expires_at",
              "last_used_at", "revoked_at", "secret_hash"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessToken]:
        """Superusers see every token, other staff their own."""
        tokens = super().get_queryset(request)
        return tokens if request.user.is_superuser else tokens.filter(user=request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AccessToken | None = None
                              ) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: AccessToken | None = None
                            ) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_delete_permission(self, request: HttpRequest, obj: AccessToken | None = None
                              ) -> bool:
        return request.user.is_superuser

    @admin.display(description="token")
    def display_prefix(self, token: AccessToken) -> str:
        return f"{token.display_prefix}_…"

    @admin.display(description="status")
    def state(self, token: AccessToken) -> str:
        return token.status()

    @admin.action(description="Revoke selected tokens")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[AccessToken]) -> None:
        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True):
            if token_revoke(token_id=token.pk) is not None:
                revoked += 1
        self.message_user(request, f"Revoked {revoked} token(s); sockets opened with them are "
                          "closed.", messages.SUCCESS)
