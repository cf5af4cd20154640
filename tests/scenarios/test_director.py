"""The scenario director: who speaks, to whom and how; seeded, fair, and in character."""

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from characters.emotion import PAD
from characters.energy import MIN_ENERGY_TO_TALK
from characters.personality import INTERACTION_TYPES, BigFive
from relationships.dynamics import RelationshipState
from scenarios.director import Participant, PendingMessage, TurnPlan, plan_turn

CALM = PAD(0.0, 0.0, 0.0)
AVERAGE = BigFive(0.5, 0.5, 0.5, 0.5, 0.5)
ACQUAINTED = RelationshipState(0.1, 0.4, 10)


def person(
    pid: str,
    *,
    e: float = 0.5,
    a: float = 0.5,
    n: float = 0.5,
    c: float = 0.5,
    energy: float = 1.0,
    active: bool = True,
    emotion: PAD = CALM,
) -> Participant:
    return Participant(
        id=pid,
        personality=BigFive(0.5, c, e, a, n),
        energy=energy,
        active=active,
        emotion=emotion,
    )


def both_ways(a: str, b: str, state: RelationshipState) -> dict[tuple[str, str], RelationshipState]:
    return {(a, b): state, (b, a): state}


def plan(
    participants,
    *,
    relationships=None,
    recent=(),
    mood="",
    objectives=(),
    seed=1,
    turn=0,
    pending=None,
) -> TurnPlan | None:
    return plan_turn(
        participants=participants,
        relationships=relationships or {},
        recent_speakers=list(recent),
        mood=mood,
        objectives=list(objectives),
        seed=seed,
        turn=turn,
        pending=pending,
    )


# --- Properties --------------------------------------------------------------------------

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
signed = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False)
IDS = ("ada", "bo", "cy", "dee", "eli", "fay")


@st.composite
def casts(draw, min_size=0):
    ids = draw(st.lists(st.sampled_from(IDS), min_size=min_size, max_size=6, unique=True))
    return [
        Participant(
            id=pid,
            personality=draw(st.builds(BigFive, unit, unit, unit, unit, unit)),
            energy=draw(unit),
            active=draw(st.booleans()),
            emotion=draw(st.builds(PAD, signed, signed, signed)),
        )
        for pid in ids
    ]


relationship_maps = st.dictionaries(
    st.tuples(st.sampled_from(IDS), st.sampled_from(IDS)),
    st.builds(RelationshipState, signed, unit, st.integers(min_value=0, max_value=100)),
    max_size=20,
)
pendings = st.one_of(
    st.none(),
    st.builds(
        PendingMessage,
        content=st.sampled_from(["Hello all!", "You are all idiots and I hate you.", "Why?"]),
        target_id=st.one_of(st.none(), st.sampled_from((*IDS, "nobody"))),
    ),
)
scenario_inputs = st.fixed_dictionaries(
    {
        "participants": casts(),
        "relationships": relationship_maps,
        "recent_speakers": st.lists(st.sampled_from(IDS), max_size=12),
        "mood": st.sampled_from(["", "tense", "friendly", "hostile and competitive"]),
        "objectives": st.sampled_from([[], ["find the map"], ["", " "]]),
        "seed": st.integers(),
        "turn": st.integers(min_value=0, max_value=10_000),
        "pending": pendings,
    }
)


def can_talk(participant: Participant) -> bool:
    return participant.active and participant.energy >= MIN_ENERGY_TO_TALK


@settings(max_examples=400)
@given(scenario_inputs)
def test_a_plan_is_valid_whenever_two_can_talk_and_none_otherwise(inputs):
    result = plan_turn(**inputs)
    able = {p.id for p in inputs["participants"] if can_talk(p)}
    if len(able) < 2:
        assert result is None
        return
    assert result is not None
    assert result.initiator_id != result.target_id
    assert result.initiator_id in able and result.target_id in able
    assert result.interaction_type in INTERACTION_TYPES
    assert result.answers_user == (inputs["pending"] is not None)


@given(scenario_inputs)
def test_the_same_inputs_give_the_same_plan(inputs):
    assert plan_turn(**inputs) == plan_turn(**inputs)


@given(scenario_inputs, st.randoms(use_true_random=False))
def test_the_order_participants_are_listed_in_does_not_matter(inputs, rng):
    shuffled = list(inputs["participants"])
    rng.shuffle(shuffled)
    assert plan_turn(**inputs) == plan_turn(**{**inputs, "participants": shuffled})


@given(scenario_inputs)
def test_a_named_pending_target_that_can_talk_answers_the_user(inputs):
    able = [p for p in inputs["participants"] if can_talk(p)]
    if len(able) < 2:
        return
    named = able[-1]
    pending = PendingMessage(content="What do you think, friend?", target_id=named.id)
    result = plan_turn(**{**inputs, "pending": pending})
    assert result is not None
    assert result.initiator_id == named.id
    assert result.answers_user is True
    assert result.user_message == "What do you think, friend?"


# --- Examples --------------------------------------------------------------------------------


def test_nobody_to_talk_to_gives_no_plan():
    assert plan([]) is None
    assert plan([person("ada")]) is None
    assert plan([person("ada"), person("bo", active=False)]) is None
    assert plan([person("ada"), person("bo", energy=0.01)]) is None


def test_resting_and_exhausted_characters_are_never_chosen():
    cast = [
        person("ada", e=0.9),
        person("bo", e=0.9, active=False),
        person("cy", e=0.9, energy=0.0),
        person("dee", e=0.1),
    ]
    for turn in range(300):
        result = plan(cast, turn=turn)
        assert result is not None
        assert {result.initiator_id, result.target_id} == {"ada", "dee"}


def test_a_turn_without_a_user_message_does_not_answer_anyone():
    result = plan([person("ada"), person("bo")])
    assert result is not None
    assert result.answers_user is False and result.user_message is None


def test_an_untargeted_user_message_is_answered_by_the_most_talkative():
    cast = [person("ada", e=0.2), person("bo", e=0.95), person("cy", e=0.6)]
    for turn in range(20):
        result = plan(cast, turn=turn, pending=PendingMessage("Hello, everyone!", None))
        assert result is not None
        assert result.initiator_id == "bo"
        assert result.answers_user is True
        assert result.user_message == "Hello, everyone!"


def test_a_message_to_someone_who_cannot_talk_goes_to_the_most_talkative():
    cast = [person("ada", e=0.2), person("bo", e=0.95), person("cy", e=0.6, active=False)]
    result = plan(cast, pending=PendingMessage("Cy, are you there?", "cy"))
    assert result is not None
    assert result.initiator_id == "bo"


def test_a_friendly_user_message_is_answered_with_a_chat_and_a_hostile_one_with_a_conflict():
    cast = [person("ada"), person("bo")]
    friendly = plan(cast, pending=PendingMessage("Good morning, lovely to see you!", "ada"))
    hostile = plan(cast, pending=PendingMessage("You are pathetic liars and I hate you.", "ada"))
    assert friendly is not None and friendly.interaction_type == "chat"
    assert hostile is not None and hostile.interaction_type == "conflict"


def test_different_seeds_and_turns_vary_the_plan():
    cast = [person("ada"), person("bo"), person("cy"), person("dee")]
    plans = {plan(cast, seed=seed, turn=turn) for seed in range(10) for turn in range(10)}
    assert len({p.initiator_id for p in plans if p}) == 4
    assert len({p.interaction_type for p in plans if p}) >= 3


def conflicts_over_seeds(cast, relationships=None, mood="", objectives=(), count=1000):
    kinds = Counter(
        p.interaction_type
        for seed in range(count)
        if (
            p := plan(
                cast, relationships=relationships, mood=mood, objectives=objectives, seed=seed
            )
        )
    )
    return kinds


def test_rivals_argue_more_often_than_friends():
    cast = [person("ada"), person("bo")]
    rivals = conflicts_over_seeds(cast, both_ways("ada", "bo", RelationshipState(-0.4, 0.3, 10)))
    friends = conflicts_over_seeds(cast, both_ways("ada", "bo", RelationshipState(0.5, 0.6, 10)))
    assert rivals["conflict"] > 2 * friends["conflict"]


def test_a_tense_mood_brings_more_conflict_than_a_friendly_one():
    cast = [person("ada"), person("bo")]
    relationships = both_ways("ada", "bo", ACQUAINTED)
    tense = conflicts_over_seeds(cast, relationships, mood="tense, suspicious")
    friendly = conflicts_over_seeds(cast, relationships, mood="friendly and relaxed")
    assert tense["conflict"] > 2 * friendly["conflict"]
    assert friendly["collaboration"] > tense["collaboration"]


def test_disagreeable_neurotic_characters_start_more_conflicts():
    relationships = both_ways("ada", "bo", ACQUAINTED)
    prickly = conflicts_over_seeds(
        [person("ada", a=0.1, n=0.9), person("bo", a=0.1, n=0.9)], relationships
    )
    gentle = conflicts_over_seeds(
        [person("ada", a=0.9, n=0.1), person("bo", a=0.9, n=0.1)], relationships
    )
    assert prickly["conflict"] > 3 * gentle["conflict"]


def test_an_angry_character_starts_more_conflicts_than_a_happy_one():
    relationships = both_ways("ada", "bo", ACQUAINTED)
    angry = PAD(-0.6, 0.7, 0.5)
    happy = PAD(0.7, 0.3, 0.2)
    fuming = conflicts_over_seeds(
        [person("ada", emotion=angry), person("bo", emotion=angry)], relationships
    )
    glad = conflicts_over_seeds(
        [person("ada", emotion=happy), person("bo", emotion=happy)], relationships
    )
    assert fuming["conflict"] > 2 * glad["conflict"]


def test_conscientious_characters_with_objectives_collaborate_more():
    relationships = both_ways("ada", "bo", ACQUAINTED)
    diligent = [person("ada", c=0.9), person("bo", c=0.9)]
    careless = [person("ada", c=0.1), person("bo", c=0.1)]
    with_goal = conflicts_over_seeds(diligent, relationships, objectives=["rebuild the mill"])
    without_goal = conflicts_over_seeds(diligent, relationships)
    careless_goal = conflicts_over_seeds(careless, relationships, objectives=["rebuild the mill"])
    assert with_goal["collaboration"] > 1.5 * without_goal["collaboration"]
    assert with_goal["collaboration"] > 2 * careless_goal["collaboration"]


def test_a_first_meeting_is_more_often_a_greeting():
    cast = [person("ada"), person("bo")]
    strangers = conflicts_over_seeds(cast)  # a missing pair is a stranger
    acquainted = conflicts_over_seeds(cast, both_ways("ada", "bo", ACQUAINTED))
    assert strangers["greeting"] > 3 * acquainted["greeting"]
    assert strangers["greeting"] > strangers["conflict"]


def test_the_talkative_speak_more_often_than_the_quiet():
    cast = [person("ada", e=0.9), person("bo", e=0.1), person("cy", e=0.5)]
    initiators = Counter(p.initiator_id for turn in range(1000) if (p := plan(cast, turn=turn)))
    assert initiators["ada"] > 2 * initiators["bo"]
    assert initiators["ada"] > initiators["cy"] > initiators["bo"]


def test_tired_characters_speak_less_often():
    cast = [person("ada", energy=1.0), person("bo", energy=0.2), person("cy", energy=0.6)]
    initiators = Counter(p.initiator_id for turn in range(1000) if (p := plan(cast, turn=turn)))
    assert initiators["ada"] > initiators["cy"] > initiators["bo"]


def simulate(cast, turns, *, track=True):
    recent: list[str] = []
    initiated: Counter[str] = Counter()
    spoke: Counter[str] = Counter()
    for turn in range(turns):
        result = plan(cast, recent=recent if track else (), seed=11, turn=turn)
        assert result is not None
        initiated[result.initiator_id] += 1
        spoke[result.initiator_id] += 1
        spoke[result.target_id] += 1
        recent.extend((result.initiator_id, result.target_id))
    return initiated, spoke


def test_nobody_holds_the_floor_over_a_long_run():
    # One character ten times as talkative as the other three.
    cast = [
        person("ada", e=1.0),
        person("bo", e=0.1, energy=0.5),
        person("cy", e=0.1, energy=0.5),
        person("dee", e=0.1, energy=0.5),
    ]
    turns = 2000
    initiated, spoke = simulate(cast, turns)
    untracked, _ = simulate(cast, turns, track=False)
    assert initiated["ada"] <= 0.55 * turns
    assert spoke["ada"] <= 0.4 * 2 * turns
    assert untracked["ada"] > 0.7 * turns  # what the floor penalty prevents
    assert min(initiated[pid] for pid in ("bo", "cy", "dee")) >= 0.1 * turns


def test_in_an_even_group_everyone_gets_a_fair_share():
    cast = [person(pid) for pid in ("ada", "bo", "cy", "dee", "eli")]
    turns = 2000
    _, spoke = simulate(cast, turns)
    for pid in ("ada", "bo", "cy", "dee", "eli"):
        assert 0.15 <= spoke[pid] / (2 * turns) <= 0.25


def test_the_last_speaker_is_usually_the_one_addressed():
    cast = [person("ada"), person("bo"), person("cy"), person("dee")]
    addressed_last = sum(
        1
        for turn in range(1000)
        if (p := plan(cast, recent=["cy"], turn=turn))
        and p.initiator_id != "cy"
        and p.target_id == "cy"
    )
    others_speaking = sum(
        1
        for turn in range(1000)
        if (p := plan(cast, recent=["cy"], turn=turn)) and p.initiator_id != "cy"
    )
    assert addressed_last > 0.5 * others_speaking


def test_people_address_those_they_feel_strongly_about():
    cast = [person("ada"), person("bo"), person("cy")]
    relationships = {
        ("ada", "bo"): RelationshipState(-0.8, 0.1, 30),  # a bitter enemy
        ("ada", "cy"): RelationshipState(0.02, 0.3, 0),  # a stranger
    }
    targets = Counter(
        p.target_id
        for seed in range(1000)
        if (p := plan(cast, relationships=relationships, seed=seed)) and p.initiator_id == "ada"
    )
    assert targets["bo"] > 2 * targets["cy"]


def test_with_an_objective_a_conscientious_speaker_seeks_the_trusted_partner():
    cast = [person("ada", c=0.95), person("bo"), person("cy")]
    relationships = {
        ("ada", "bo"): RelationshipState(0.3, 0.95, 10),
        ("ada", "cy"): RelationshipState(0.3, 0.05, 10),
    }

    def share_to_bo(objectives):
        targets = Counter(
            p.target_id
            for seed in range(1000)
            if (p := plan(cast, relationships=relationships, objectives=objectives, seed=seed))
            and p.initiator_id == "ada"
        )
        return targets["bo"] / (targets["bo"] + targets["cy"])

    assert share_to_bo([]) < 0.6
    assert share_to_bo(["rebuild the mill"]) > 0.65
