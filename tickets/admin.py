"""Django admin for tickets: filters, search, inline comments and events, actions through services."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.access import is_agent, is_supervisor
from tickets import services
from tickets.calendars import library_holidays
from tickets.models import (
    Attachment,
    CalendarHoliday,
    CalendarHours,
    Category,
    Comment,
    Event,
    SlaPolicy,
    Status,
    SupportCalendar,
    Ticket,
)


class CommentInline(admin.TabularInline):
    model = Comment
    extra = 0
    fields = ("created_at", "author", "internal", "body")
    readonly_fields = ("created_at", "author", "internal", "body")
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class EventInline(admin.TabularInline):
    model = Event
    extra = 0
    fields = ("created_at", "actor", "kind", "old_value", "new_value", "internal")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class AttachmentInline(admin.TabularInline):
    model = Attachment
    extra = 0
    fields = ("original_name", "content_type", "size", "uploaded_by", "created_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


def _bulk_status(status: str, label):
    @admin.action(description=label)
    def action(modeladmin, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        done, errors = services.bulk_update(
            actor=request.user, ticket_ids=queryset.values_list("pk", flat=True), action="status", status=status
        )
        modeladmin.message_user(request, _("%(n)d tickets actualizados.") % {"n": done}, messages.SUCCESS)
        for error in errors[:20]:
            modeladmin.message_user(request, error, messages.ERROR)

    action.__name__ = f"mark_{status}"
    return action


@admin.action(description=_("Tomar los tickets seleccionados"))
def claim_selected(modeladmin, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
    done, errors = services.bulk_update(
        actor=request.user, ticket_ids=queryset.values_list("pk", flat=True), action="claim"
    )
    modeladmin.message_user(request, _("%(n)d tickets actualizados.") % {"n": done}, messages.SUCCESS)
    for error in errors[:20]:
        modeladmin.message_user(request, error, messages.ERROR)


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "subject",
        "franchise",
        "status",
        "priority",
        "assignee",
        "sla_state",
        "resolution_due",
        "created_at",
    )
    list_filter = ("status", "priority", "sla_state", "source", "category", "franchise", "assignee")
    search_fields = ("subject", "description", "requester__username", "franchise__name")
    list_select_related = ("franchise", "assignee")
    date_hierarchy = "created_at"
    raw_id_fields = ("requester", "assignee", "merged_into")
    filter_horizontal = ("watchers",)
    inlines = (CommentInline, AttachmentInline, EventInline)
    actions = (
        claim_selected,
        _bulk_status(Status.RESOLVED, _("Marcar como resueltos")),
        _bulk_status(Status.CLOSED, _("Cerrar")),
        _bulk_status(Status.ON_HOLD, _("Poner en espera")),
    )
    readonly_fields = (
        "status",
        "sla_state",
        "first_response_due",
        "resolution_due",
        "sla_paused_at",
        "first_response_at",
        "resolved_at",
        "closed_at",
        "rating",
        "rating_comment",
        "rated_at",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # tickets are opened through /tickets/new/ so that SLA, assignment and notifications apply
        return False

    @admin.display(description=_("número"), ordering="id")
    def number(self, obj: Ticket) -> str:
        return obj.number


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "active", "calendar")
    list_filter = ("active",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("agents",)


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ("priority", "first_response_minutes", "resolution_minutes", "at_risk_percent", "calendar")


class CalendarHoursInline(admin.TabularInline):
    model = CalendarHours
    extra = 1


class CalendarHolidayInline(admin.TabularInline):
    model = CalendarHoliday
    extra = 1


@admin.register(SupportCalendar)
class SupportCalendarAdmin(admin.ModelAdmin):
    """Support calendars: supervisors edit them, agents may look (the SLA clocks follow them)."""

    list_display = ("name", "time_zone", "holiday_country", "holiday_subdivision", "is_default")
    inlines = (CalendarHoursInline, CalendarHolidayInline)
    readonly_fields = ("library_holidays_this_year",)

    def _supervisor(self, request: HttpRequest) -> bool:
        return is_supervisor(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._supervisor(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._supervisor(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._supervisor(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_agent(request.user)

    @admin.display(description=_("festivos del año (nacionales y regionales)"))
    def library_holidays_this_year(self, obj: SupportCalendar) -> str:
        year = timezone.localdate().year
        days = library_holidays(obj.holiday_country.upper(), obj.holiday_subdivision, year) if obj.pk else []
        return "; ".join(f"{day:%d/%m} {name}" for day, name in days) or "—"
