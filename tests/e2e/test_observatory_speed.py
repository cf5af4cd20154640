"""The observatory of a large ecosystem (200 characters, 2,000 relationships) in a real
browser: how fast the first view comes up and whether it keeps up with 10 interactions per
second (30 events/s, three times the issue's 10 events/s). The numbers are printed
(pytest -s) and checked against the issue's targets, with a margin for a busy CI machine."""

import random
import threading
import time

import pytest
from django.db import connection
from playwright.sync_api import expect

from characters import emotion
from characters.models import Character
from characters.personality import BigFive
from interactions.services import InteractionRefused, dialogue_backend, interaction_process
from relationships.models import Relationship
from tests.factories import EcosystemFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHARACTERS = 200
RELATIONSHIPS_PER_CHARACTER = 10
BURST_RATE_PER_SECOND = 10
BURST_SECONDS = 6
FIRST_VIEW_SECONDS = 1.0
# "Usable": scrolling, clicks and the feed stay responsive. On a quiet 2-core machine the page
# keeps 50-65 frames/s through the burst; a CI machine busy with the rest of the suite gets
# less, so the floor has a wide margin.
MIN_FRAMES_PER_SECOND = 10


def seed_large_ecosystem(user, *, seed: int = 42):
    """200 characters and 2,000 directed relationships, written in bulk."""
    rng = random.Random(seed)
    ecosystem = EcosystemFactory(owner=user, name="Metropolis")
    characters = []
    for index in range(CHARACTERS):
        traits = {name: rng.random() for name in BigFive.__dataclass_fields__}
        state = emotion.PAD(
            pleasure=rng.uniform(-0.8, 0.8),
            arousal=rng.uniform(-0.8, 0.8),
            dominance=rng.uniform(-0.8, 0.8),
        )
        characters.append(
            Character(
                ecosystem=ecosystem,
                name=f"Citizen {index:03d}",
                bio="One of many.",
                pleasure=state.pleasure,
                arousal=state.arousal,
                dominance=state.dominance,
                emotion=emotion.label(state),
                energy=rng.uniform(0.5, 1.0),
                **traits,
            )
        )
    Character.objects.bulk_create(characters)
    Relationship.objects.bulk_create(
        Relationship(
            ecosystem=ecosystem,
            from_character=characters[index],
            to_character=characters[(index + 7 * step) % CHARACTERS],
            strength=rng.uniform(-1, 1),
            trust=rng.random(),
            interaction_count=rng.randint(1, 30),
        )
        for index in range(CHARACTERS)
        for step in range(1, RELATIONSHIPS_PER_CHARACTER + 1)
    )
    return ecosystem, characters


def play_burst(characters, *, rate: float, seconds: float, stop: threading.Event) -> int:
    """Real interactions through the engine at ``rate`` per second, from a thread of its own
    (its broadcasts need a thread without Playwright's event loop). Returns how many ran."""
    rng = random.Random(7)
    played = 0
    started = time.monotonic()
    try:
        for index in range(int(rate * seconds)):
            if stop.is_set():
                break
            due = started + index / rate
            time.sleep(max(0.0, due - time.monotonic()))
            first, second = rng.sample(characters, 2)
            try:
                interaction_process(
                    initiator_id=first.pk,
                    target_id=second.pk,
                    interaction_type=rng.choice(("greeting", "chat", "conflict", "collaboration")),
                    content="A word in passing.",
                    seed=index,
                )
                played += 1
            except InteractionRefused:
                continue
    finally:
        connection.close()
    return played


FPS_PROBE = """() => {
  window.__stopFrames = false;
  window.__frames = 0;
  window.__worstFrame = 0;
  let last = performance.now();
  const tick = (now) => {
    window.__frames += 1;
    window.__worstFrame = Math.max(window.__worstFrame, now - last);
    last = now;
    if (!window.__stopFrames) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  window.__framesStarted = performance.now();
}"""


FRAMES_READ = """() => {
  window.__stopFrames = true;
  return [window.__frames, performance.now() - window.__framesStarted, window.__worstFrame];
}"""


def test_large_ecosystem_first_view_and_ten_interactions_per_second(open_browser, settings):
    # This measures the page. The burst is played in this process, on the same two cores as
    # the browser: memory formation (an embedding per exchange) is left out of the burst so
    # that the frame rate is the page's, not the server's share of the CPU (bench/ measures
    # the server).
    settings.MEMORY_RETENTION_PER_CHARACTER = 0
    # Built before the burst, as a worker does at start: otherwise the first interaction waits
    # seconds for it and the burst's schedule plays the rest back to back at the end.
    dialogue_backend()
    user = UserFactory()
    ecosystem, characters = seed_large_ecosystem(user)
    browser = open_browser()
    browser.login(user)
    page = browser.page

    started = time.monotonic()
    response = page.goto(f"{browser.url}/ecosystems/{ecosystem.pk}/", wait_until="domcontentloaded")
    first_view = time.monotonic() - started
    assert response is not None and response.status == 200
    page.wait_for_selector("#network[data-ready=true]", timeout=15_000)
    graph_ready = time.monotonic() - started
    browser.wait_live()
    expect(page.locator('[data-stat="characters"]')).to_have_text(str(CHARACTERS))
    expect(page.locator('[data-stat="relationships"]')).to_have_text(
        str(CHARACTERS * RELATIONSHIPS_PER_CHARACTER)
    )
    server_ms = page.evaluate(
        "() => performance.getEntriesByType('navigation')[0].responseEnd"
        " - performance.getEntriesByType('navigation')[0].requestStart"
    )

    page.evaluate(FPS_PROBE)
    page.wait_for_timeout(2_000)
    idle_frames, idle_ms, _ = page.evaluate(FRAMES_READ)
    idle_fps = idle_frames / (idle_ms / 1000)

    applied_before = page.evaluate("() => window.observatory.stream.stats.applied")
    page.evaluate(FPS_PROBE)
    stop = threading.Event()
    result: dict[str, int] = {}
    worker = threading.Thread(
        target=lambda: result.update(
            played=play_burst(
                characters, rate=BURST_RATE_PER_SECOND, seconds=BURST_SECONDS, stop=stop
            )
        )
    )
    worker.start()
    worker.join(timeout=BURST_SECONDS * 4)
    stop.set()
    played = result.get("played", 0)
    page.wait_for_function(
        f"() => window.observatory.stream.stats.applied >= {applied_before + 3 * played}",
        timeout=10_000,
    )
    frame_count, elapsed_ms, worst_frame_ms = page.evaluate(FRAMES_READ)
    fps = frame_count / (elapsed_ms / 1000)
    stats = page.evaluate("() => window.observatory.stream.stats")

    print(
        "\nobservatory, 200 characters / 2,000 relationships\n"
        f"  first view (HTML, server + transfer)   {first_view * 1000:7.0f} ms\n"
        f"  server response (request→responseEnd)  {server_ms:7.0f} ms\n"
        f"  graph drawn (navigation→ready)         {graph_ready * 1000:7.0f} ms\n"
        f"  burst: {played} interactions in {BURST_SECONDS} s ({3 * played} events)\n"
        f"  frames/s idle                          {idle_fps:7.1f}\n"
        f"  frames/s during the burst              {fps:7.1f}\n"
        f"  worst frame                            {worst_frame_ms:7.0f} ms\n"
        f"  events applied / duplicates / gaps     {stats['applied']} / "
        f"{stats['duplicates']} / {stats['gaps']}"
    )
    assert first_view < FIRST_VIEW_SECONDS, f"first view took {first_view:.2f} s"
    assert played >= BURST_RATE_PER_SECOND * BURST_SECONDS * 0.8
    assert stats["gaps"] == 0
    assert fps >= MIN_FRAMES_PER_SECOND, f"{fps:.1f} frames/s under 10 interactions/s"
    assert browser.errors == []
