"""Admin for macros: supervisors edit the shared ones and their own (the page's rules and checks)."""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.admin_permissions import ReadOnlyAdminMixin, SupervisorWritesMixin
from macros import selectors, services
from macros.models import Macro, MacroUse


@admin.register(Macro)
class MacroAdmin(SupervisorWritesMixin, admin.ModelAdmin):
    list_display = ("name", "owner", "set_status", "set_priority", "usage_count", "updated_at")
    list_filter = (("owner", admin.EmptyFieldListFilter), "set_status", "set_priority")
    search_fields = ("name", "body")
    readonly_fields = ("usage_count", "created_by", "created_at", "updated_at")
    raw_id_fields = ("owner", "assignee")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Macro]:
        # Another agent's personal macros are theirs alone, here too.
        return selectors.visible_macros(request.user)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)

        class Checked(form):
            def _post_clean(self) -> None:
                super()._post_clean()  # the instance now holds the submitted values
                try:
                    services.validate_macro(self.instance)
                except ValidationError as exc:
                    for message in exc.messages:
                        self.add_error(None, message)

        return Checked

    def save_model(self, request: HttpRequest, obj: Macro, form, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        obj.save()


@admin.register(MacroUse)
class MacroUseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("macro", "user", "comment", "message", "created_at")
    list_select_related = ("macro", "user")
    raw_id_fields = ("macro", "user", "comment", "message")

    def get_queryset(self, request: HttpRequest) -> QuerySet[MacroUse]:
        return super().get_queryset(request).filter(macro__in=selectors.visible_macros(request.user))
