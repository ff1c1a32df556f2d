from django.contrib import admin

from caredesk.automation.models import Automation, CannedResponse, Macro, Trigger

for model in (Trigger, Automation, Macro, CannedResponse):
    admin.site.register(model)
