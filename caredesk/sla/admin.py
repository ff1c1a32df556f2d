from django.contrib import admin

from caredesk.sla.models import BusinessHours, SlaPolicy, TicketSla

admin.site.register(BusinessHours)
admin.site.register(SlaPolicy)


@admin.register(TicketSla)
class TicketSlaAdmin(admin.ModelAdmin):
    list_display = ["ticket", "policy", "next_due", "breached"]
