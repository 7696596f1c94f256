"""Django admin for tickets: filters, search, inline comments and events, actions through services."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.access import is_supervisor
from accounts.admin_permissions import SupervisorWritesMixin
from accounts.models import User
from tickets import services
from tickets.calendars import library_holidays
from tickets.models import (
    Attachment,
    CalendarHoliday,
    CalendarHours,
    Category,
    Comment,
    CustomField,
    Event,
    SlaPolicy,
    Status,
    SupportCalendar,
    Tag,
    Ticket,
    watcher_outsiders,
)

#: What the change form may edit; each goes through its service (timeline event, notifications).
EDITABLE = ("priority", "category", "assignee", "watchers", "tags")


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
    fields = ("created_at", "actor", "kind", "old_value", "new_value", "internal", "via")
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


class TicketAdminForm(forms.ModelForm):
    """Checks the same rules as the services before anything is saved, to show them as form errors."""

    class Meta:
        model = Ticket
        fields = EDITABLE

    def __init__(self, *args, actor: User | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        if "watchers" in self.fields and self.instance.pk:
            staff = Q(role__in=(User.Role.AGENT, User.Role.SUPERVISOR))
            self.fields["watchers"].queryset = User.objects.filter(
                staff | Q(franchise_id=self.instance.franchise_id), is_active=True
            )

    def clean_watchers(self):
        watchers = self.cleaned_data["watchers"]
        outsiders = watcher_outsiders(self.instance.franchise_id, [u.pk for u in watchers])
        if outsiders:
            raise ValidationError(_("Solo siguen un ticket el equipo de soporte y su franquicia."))
        return watchers

    def clean_assignee(self):
        assignee = self.cleaned_data.get("assignee")
        stored = Ticket.objects.select_related("assignee").get(pk=self.instance.pk)
        if (assignee.pk if assignee else None) != stored.assignee_id:
            try:
                services.check_assignment(ticket=stored, actor=self.actor, assignee=assignee)
            except services.TicketError as exc:
                raise ValidationError(str(exc)) from exc
        return assignee


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
    list_filter = ("status", "priority", "sla_state", "source", "category", "franchise", "assignee", "tags")
    search_fields = ("subject", "description", "requester__username", "franchise__name")
    list_select_related = ("franchise", "assignee")
    date_hierarchy = "created_at"
    raw_id_fields = ("requester", "assignee", "merged_into")
    filter_horizontal = ("watchers", "tags")
    inlines = (CommentInline, AttachmentInline, EventInline)
    actions = (
        claim_selected,
        _bulk_status(Status.RESOLVED, _("Marcar como resueltos")),
        _bulk_status(Status.CLOSED, _("Cerrar")),
        _bulk_status(Status.ON_HOLD, _("Poner en espera")),
    )
    form = TicketAdminForm
    readonly_fields = (
        "franchise",
        "requester",
        "subject",
        "description",
        "source",
        "merged_into",
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

    def has_delete_permission(self, request: HttpRequest, obj: Ticket | None = None) -> bool:
        # a ticket is closed, not deleted; only a supervisor may remove one (e.g. spam)
        return is_supervisor(request.user) and super().has_delete_permission(request, obj)

    def get_form(self, request: HttpRequest, obj: Ticket | None = None, change: bool = False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)

        class WithActor(form_class):
            def __init__(self, *args, **kw) -> None:
                super().__init__(*args, actor=request.user, **kw)

        return WithActor

    def save_model(self, request: HttpRequest, obj: Ticket, form, change: bool) -> None:
        """Every change through its service, in the admin's transaction; never `obj.save()`."""
        stored = Ticket.objects.get(pk=obj.pk)
        actor = request.user
        changed = set(form.changed_data)
        if "priority" in changed:
            stored = services.change_priority(ticket=stored, actor=actor, priority=obj.priority)
        if "category" in changed:
            stored = services.change_category(ticket=stored, actor=actor, category=obj.category)
        if "assignee" in changed:
            if obj.assignee is None:
                stored = services.unassign(ticket=stored, actor=actor)
            else:
                stored = services.assign(ticket=stored, actor=actor, assignee=obj.assignee)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        watchers = form.cleaned_data.pop("watchers", None)
        tags = form.cleaned_data.pop("tags", None)
        super().save_related(request, form, formsets, change)  # the inlines are read-only
        if tags is not None and "tags" in form.changed_data:
            services.set_tags(ticket=form.instance, actor=request.user, tags=[t.name for t in tags])
        if watchers is not None and "watchers" in form.changed_data:
            services.set_watchers(ticket=form.instance, actor=request.user, watchers=watchers)

    @admin.display(description=_("número"), ordering="id")
    def number(self, obj: Ticket) -> str:
        return obj.number


class CustomFieldInline(SupervisorWritesMixin, admin.StackedInline):
    """Supervisors define the fields a category's tickets ask for (tickets/custom_fields.py)."""

    model = CustomField
    extra = 0
    fields = (("label", "key"), ("kind", "required", "active", "position"), "options", "help_text")
    prepopulated_fields = {"key": ("label",)}


@admin.register(CustomField)
class CustomFieldAdmin(SupervisorWritesMixin, admin.ModelAdmin):
    list_display = ("label", "key", "category", "kind", "required", "active", "position")
    list_filter = ("category", "kind", "required", "active")
    search_fields = ("label", "key")
    prepopulated_fields = {"key": ("label",)}


@admin.register(Category)
class CategoryAdmin(SupervisorWritesMixin, admin.ModelAdmin):
    list_display = ("name", "name_en", "slug", "active", "calendar")
    list_filter = ("active",)
    search_fields = ("name", "name_en", "slug")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("agents",)
    inlines = (CustomFieldInline,)


@admin.register(Tag)
class TagAdmin(SupervisorWritesMixin, admin.ModelAdmin):
    """Tags are put on tickets from the ticket page; here supervisors rename or remove a label."""

    list_display = ("name",)
    search_fields = ("name",)


@admin.register(SlaPolicy)
class SlaPolicyAdmin(SupervisorWritesMixin, admin.ModelAdmin):
    list_display = ("priority", "first_response_minutes", "resolution_minutes", "at_risk_percent", "calendar")


class CalendarHoursInline(admin.TabularInline):
    model = CalendarHours
    extra = 1


class CalendarHolidayInline(admin.TabularInline):
    model = CalendarHoliday
    extra = 1


@admin.register(SupportCalendar)
class SupportCalendarAdmin(SupervisorWritesMixin, admin.ModelAdmin):
    """Support calendars: supervisors edit them, agents may look (the SLA clocks follow them)."""

    list_display = ("name", "time_zone", "holiday_country", "holiday_subdivision", "is_default")
    inlines = (CalendarHoursInline, CalendarHolidayInline)
    readonly_fields = ("library_holidays_this_year",)

    @admin.display(description=_("festivos del año (nacionales y regionales)"))
    def library_holidays_this_year(self, obj: SupportCalendar) -> str:
        year = timezone.localdate().year
        days = library_holidays(obj.holiday_country.upper(), obj.holiday_subdivision, year) if obj.pk else []
        return "; ".join(f"{day:%d/%m} {name}" for day, name in days) or "—"
