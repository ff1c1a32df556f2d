"""Django admin for superusers: the instance security policy (e.g. require two-factor for everyone)."""

from django.contrib import admin

from caredesk.accounts.models import ApiToken, SecurityPolicy, Skill, Team


@admin.register(SecurityPolicy)
class SecurityPolicyAdmin(admin.ModelAdmin):
    list_display = ["require_two_factor", "updated_at"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return not SecurityPolicy.objects.exists()


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "agent", "scope", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "token_hash", "agent", "created_at", "last_used_at"]


admin.site.register(Team)
admin.site.register(Skill)
