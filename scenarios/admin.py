from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.errors import ApplicationError

from .models import Scenario, UserMessage
from .services import (
    MIN_PARTICIPANTS,
    scenario_create,
    scenario_end,
    scenario_pause,
    scenario_resume,
)


class ScenarioAdminForm(forms.ModelForm):
    class Meta:
        model = Scenario
        fields = (
            "ecosystem",
            "title",
            "setting",
            "mood",
            "objectives",
            "participants",
            "duration_minutes",
            "tick_seconds",
            "seed",
            "mode",
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        ecosystem = cleaned.get("ecosystem") or getattr(self.instance, "ecosystem", None)
        participants = cleaned.get("participants")
        if participants is not None:
            if len(participants) < MIN_PARTICIPANTS:
                self.add_error("participants", "A scenario needs at least two characters.")
            elif ecosystem is not None and any(
                character.ecosystem_id != ecosystem.pk for character in participants
            ):
                self.add_error("participants", "Every character must belong to the ecosystem.")
        return cleaned


class UserMessageInline(admin.TabularInline):
    model = UserMessage
    extra = 0
    fields = ("created", "author", "target_character", "content", "answered_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _run_action(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, service: Any, verb: str
) -> None:
    done, refused = 0, []
    for scenario in queryset:
        try:
            service(scenario_id=scenario.pk)
            done += 1
        except ApplicationError as error:
            refused.append(f"{scenario.title}: {error.message}")
    if done:
        modeladmin.message_user(request, f"{verb} {done} scenario(s).", messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, line, messages.WARNING)


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    """Creation and the pause / resume / end actions go through the services, so each writes
    its event and the clock sees a consistent row; clock state is read-only here."""

    form = ScenarioAdminForm
    list_display = (
        "title",
        "ecosystem",
        "status",
        "mode",
        "turn",
        "tick_seconds",
        "duration_minutes",
        "started_at",
        "next_tick_at",
        "ended_at",
    )
    list_filter = ("status", "mode", "ecosystem", "started_at")
    search_fields = ("title", "setting", "mood", "ecosystem__name")
    list_select_related = ("ecosystem",)
    filter_horizontal = ("participants",)
    readonly_fields = (
        "id",
        "status",
        "turn",
        "next_tick_at",
        "started_at",
        "active_seconds",
        "resumed_at",
        "ended_at",
        "summary",
    )
    inlines = (UserMessageInline,)
    actions = ("pause_scenarios", "resume_scenarios", "end_scenarios")
    date_hierarchy = "started_at"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:  # the clock's inputs are fixed once the scenario runs
            return (*self.readonly_fields, "ecosystem", "seed")
        return self.readonly_fields

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.inlines if obj is not None else ()  # messages exist only once it runs

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "participants":
            from characters.models import Character

            kwargs["queryset"] = Character.objects.select_related("ecosystem").order_by(
                "ecosystem__name", "name"
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Scenario, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
        # A new scenario is created by scenario_create in save_related, once the
        # participants are known.

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if change:
            super().save_related(request, form, formsets, change)
            return
        data = form.cleaned_data
        scenario = scenario_create(
            ecosystem=data["ecosystem"],
            participants=list(data["participants"]),
            title=data["title"],
            setting=data.get("setting") or "",
            mood=data.get("mood") or "",
            objectives=data.get("objectives") or [],
            duration_minutes=data["duration_minutes"],
            tick_seconds=data["tick_seconds"],
            seed=data.get("seed"),
            mode=data["mode"],
        )
        form.instance.pk = scenario.pk
        form.instance._state.adding = False

    @admin.action(description="Pause the selected scenarios")
    def pause_scenarios(self, request: HttpRequest, queryset: QuerySet[Scenario]) -> None:
        _run_action(self, request, queryset, scenario_pause, "Paused")

    @admin.action(description="Resume the selected scenarios")
    def resume_scenarios(self, request: HttpRequest, queryset: QuerySet[Scenario]) -> None:
        _run_action(self, request, queryset, scenario_resume, "Resumed")

    @admin.action(description="End the selected scenarios (writes the summary)")
    def end_scenarios(self, request: HttpRequest, queryset: QuerySet[Scenario]) -> None:
        _run_action(self, request, queryset, scenario_end, "Ended")
