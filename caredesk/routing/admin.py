from django.contrib import admin

from caredesk.routing.models import SkillRule, TeamRouting

admin.site.register(TeamRouting)
admin.site.register(SkillRule)
