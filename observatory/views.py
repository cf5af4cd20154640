"""Server-rendered pages of the observatory (docs/observatory.md).

Each page reads its first view through ``observatory.selectors`` (never over HTTP) and hands
the browser a JSON snapshot (``json_script``) plus the ``seq`` it was taken at; the page's
JavaScript then follows the ecosystem's WebSocket from that ``seq`` on. Writes go through the
REST API (scenarios, messages, interactions) or, for the ecosystem form, a service call here.
"""

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from characters.emotion import EMOTION_LABELS
from characters.personality import BIG_FIVE_FIELDS
from characters.selectors import ecosystem_get
from characters.services import ecosystem_create

from . import selectors
from .forms import EcosystemCreateForm

# Any UUID works as the placeholder: the browser swaps in a real id.
URL_PLACEHOLDER_ID = uuid.UUID(int=0)
API_BASE = "/api/v1"


def _user(request: HttpRequest) -> Any:
    return request.user


def _url_patterns() -> dict[str, str]:
    """Page and API URLs with a placeholder id the browser replaces (reverse() stays the one
    source of truth for paths)."""
    placeholder = str(URL_PLACEHOLDER_ID)
    return {
        "placeholder": placeholder,
        "character_page": reverse("observatory:character", args=[placeholder]),
        "scenario_page": reverse("observatory:scenario-chat", args=[placeholder]),
        "scenario_list_partial": reverse("observatory:scenario-list-partial", args=[placeholder]),
        "lore_page": reverse("observatory:lore", args=[placeholder]),
        # REST paths are contracts (docs/api.md), written out rather than reversed: the
        # card endpoints' module may move, their paths do not.
        "avatar": f"{API_BASE}/characters/{placeholder}/avatar",
        "card_import": f"{API_BASE}/ecosystem/{placeholder}/characters/import",
        "documents": f"{API_BASE}/ecosystem/{placeholder}/documents",
        "search": f"{API_BASE}/ecosystem/{placeholder}/search",
    }


def _live_config(*, ecosystem_id: uuid.UUID, last_seq: int) -> dict[str, Any]:
    return {
        "ecosystem_id": str(ecosystem_id),
        "last_seq": last_seq,
        "ws_path": f"/ws/ecosystem/{ecosystem_id}/",
        "api_base": API_BASE,
        "urls": _url_patterns(),
    }


# --- Ecosystems --------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def ecosystem_list_page(request: HttpRequest) -> HttpResponse:
    """The user's ecosystems with counts and a live/idle badge, and the form to create one.

    htmx: the list refreshes itself (``HX-Target: ecosystem-rows``) and the form posts in
    place; without JavaScript both work as a plain page and a plain form post."""
    form = EcosystemCreateForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            ecosystem = ecosystem_create(
                owner=_user(request),
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
            )
            url = reverse("observatory:observatory", args=[ecosystem.pk])
            if request.htmx:  # type: ignore[attr-defined]
                return HttpResponseClientRedirect(url)
            return redirect(url)
        if request.htmx:  # type: ignore[attr-defined]
            return render(request, "observatory/partials/ecosystem_form.html", {"form": form})
    rows = selectors.ecosystem_rows(user=_user(request))
    if request.htmx and request.htmx.target == "ecosystem-rows":  # type: ignore[attr-defined]
        return render(request, "observatory/partials/ecosystem_rows.html", {"rows": rows})
    return render(request, "observatory/ecosystem_list.html", {"rows": rows, "form": form})


# --- Observatory -------------------------------------------------------------------------------


@login_required
@require_GET
def observatory_page(request: HttpRequest, ecosystem_id: uuid.UUID) -> HttpResponse:
    snapshot = selectors.observatory_snapshot(user=_user(request), ecosystem_id=ecosystem_id)
    ecosystem = snapshot.ecosystem
    page_data = {
        **_live_config(ecosystem_id=ecosystem.pk, last_seq=snapshot.last_seq),
        "vendor": {"cytoscape": static("vendor/cytoscape.esm.min.js")},
        "characters": snapshot.characters,
        "relationships": snapshot.relationships,
        "recent_events": snapshot.recent_events,
        "event_times": snapshot.event_times_last_minute,
        "active_scenario_ids": snapshot.active_scenario_ids,
        "server_now": timezone.now().isoformat(),
        "emotion_labels": list(EMOTION_LABELS),
        "card_max_bytes": int(settings.CARD_IMPORT_MAX_BYTES),
    }
    return render(
        request,
        "observatory/observatory.html",
        {
            "ecosystem": ecosystem,
            "snapshot": snapshot,
            "stats": snapshot.stats,
            "scenarios": snapshot.scenarios,
            "characters": snapshot.characters,
            "page_data": page_data,
            "emotion_labels": EMOTION_LABELS,
            "big_five_fields": BIG_FIVE_FIELDS,
            "card_max_mib": _mib(int(settings.CARD_IMPORT_MAX_BYTES)),
        },
    )


def _mib(size: int) -> str:
    """A byte limit for people: "8 MiB", "0.5 MiB"."""
    return f"{size / (1024 * 1024):.3g} MiB"


# --- Lore --------------------------------------------------------------------------------------


@login_required
@require_GET
def lore_page(request: HttpRequest, ecosystem_id: uuid.UUID) -> HttpResponse:
    """The ecosystem's lore (docs/observatory.md, "The Lore page"): documents and keyed
    entries listed, uploaded, edited, deleted and searched through the lore API."""
    context = selectors.lore_page(user=_user(request), ecosystem_id=ecosystem_id)
    ecosystem = context.ecosystem
    page_data = {
        "ecosystem_id": str(ecosystem.pk),
        "api_base": API_BASE,
        "urls": _url_patterns(),
        "characters": context.characters,
        "max_document_bytes": int(settings.LORE_MAX_DOCUMENT_BYTES),
        # A JSON body's limit: pasted text longer than this goes up as a file.
        "max_json_bytes": int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE),
    }
    return render(
        request,
        "observatory/lore.html",
        {
            "ecosystem": ecosystem,
            "characters": context.characters,
            "max_document_mib": _mib(int(settings.LORE_MAX_DOCUMENT_BYTES)),
            "page_data": page_data,
        },
    )


@login_required
@require_GET
def scenario_list_partial(request: HttpRequest, ecosystem_id: uuid.UUID) -> HttpResponse:
    """The director's scenario list, re-rendered by htmx when a scenario event arrives."""
    ecosystem = ecosystem_get(user=_user(request), ecosystem_id=ecosystem_id)
    scenarios = selectors.scenario_list_for_ecosystem(ecosystem=ecosystem)
    return render(
        request,
        "observatory/partials/scenario_list.html",
        {"ecosystem": ecosystem, "scenarios": scenarios},
    )


# --- Scenario chat -----------------------------------------------------------------------------


@login_required
@require_GET
def scenario_chat_page(request: HttpRequest, scenario_id: uuid.UUID) -> HttpResponse:
    snapshot = selectors.scenario_chat_snapshot(user=_user(request), scenario_id=scenario_id)
    scenario = snapshot.scenario
    page_data = {
        **_live_config(ecosystem_id=scenario.ecosystem_id, last_seq=snapshot.last_seq),
        "scenario": {
            "id": str(scenario.pk),
            "title": scenario.title,
            "status": scenario.status,
            "mode": scenario.mode,
            "turn": scenario.turn,
            "tick_seconds": scenario.tick_seconds,
            "seconds_left": round(snapshot.seconds_left, 1),
        },
        "participants": snapshot.participants,
        "transcript": snapshot.transcript,
        "relationships": snapshot.pair_relationships,
    }
    return render(
        request,
        "observatory/scenario_chat.html",
        {
            "scenario": scenario,
            "ecosystem": scenario.ecosystem,
            "snapshot": snapshot,
            "participants": snapshot.participants,
            "minutes_left": int(snapshot.seconds_left // 60),
            "page_data": page_data,
        },
    )


# --- Character ---------------------------------------------------------------------------------

CHART_WIDTH = 640
CHART_HEIGHT = 160
CHART_PADDING = 8


@dataclass(frozen=True)
class ChartSeries:
    name: str
    css_class: str
    points: str


@dataclass(frozen=True)
class ChartDot:
    x: float
    y: float
    label: str
    title: str


@dataclass(frozen=True)
class TimelineChart:
    width: int
    height: int
    series: list[ChartSeries]
    dots: list[ChartDot]
    zero_y: float
    first_at: Any
    last_at: Any


def _timeline_chart(timeline: list[selectors.TimelinePoint]) -> TimelineChart | None:
    """Polylines for pleasure, arousal (-1..1) and energy (0..1, drawn on the same scale as
    -1..1 so 0 energy sits at the bottom), one point per recorded interaction."""
    if len(timeline) < 2:
        return None
    inner_width = CHART_WIDTH - 2 * CHART_PADDING
    inner_height = CHART_HEIGHT - 2 * CHART_PADDING
    step = inner_width / (len(timeline) - 1)

    def x_of(index: int) -> float:
        return round(CHART_PADDING + index * step, 1)

    def y_of(value: float) -> float:  # value in -1..1, +1 at the top
        clamped = max(-1.0, min(1.0, value))
        return round(CHART_PADDING + (1 - (clamped + 1) / 2) * inner_height, 1)

    def polyline(values: list[float]) -> str:
        return " ".join(f"{x_of(i)},{y_of(v)}" for i, v in enumerate(values))

    series = [
        ChartSeries("Pleasure", "series-pleasure", polyline([p.pleasure for p in timeline])),
        ChartSeries("Arousal", "series-arousal", polyline([p.arousal for p in timeline])),
        ChartSeries("Energy", "series-energy", polyline([p.energy * 2 - 1 for p in timeline])),
    ]
    dots = [
        ChartDot(
            x=x_of(i),
            y=y_of(p.pleasure),
            label=p.label,
            title=f"{p.label} · energy {p.energy:.2f} · {p.at:%H:%M:%S}",
        )
        for i, p in enumerate(timeline)
    ]
    return TimelineChart(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        series=series,
        dots=dots,
        zero_y=y_of(0.0),
        first_at=timeline[0].at,
        last_at=timeline[-1].at,
    )


@login_required
@require_GET
def character_page(request: HttpRequest, character_id: uuid.UUID) -> HttpResponse:
    snapshot = selectors.character_snapshot(user=_user(request), character_id=character_id)
    character = snapshot.character
    personality = [
        (trait.capitalize(), getattr(character, trait), round(getattr(character, trait) * 100))
        for trait in BIG_FIVE_FIELDS
    ]
    return render(
        request,
        "observatory/character.html",
        {
            "character": character,
            "ecosystem": character.ecosystem,
            "personality": personality,
            "energy_percent": round(character.energy * 100),
            "chart": _timeline_chart(snapshot.timeline),
            "relationships": snapshot.relationships,
            "recent_interactions": snapshot.recent_interactions,
            "interaction_count": snapshot.interaction_count,
            "memories": snapshot.memories,
            "memory_count": snapshot.memory_count,
            "greetings": [greeting for greeting in character.greetings if greeting][:3],
            "more_greetings": max(0, len([g for g in character.greetings if g]) - 3),
            "lore": snapshot.lore,
            "avatar_url": (
                f"{API_BASE}/characters/{character.pk}/avatar" if snapshot.has_avatar else None
            ),
        },
    )
