// The scenario chat page (the seed's Multi-Character Chat): participants, the transcript
// growing live, the mode toggle, the intervention panel and the relationship summary.
// It follows the ecosystem's WebSocket and keeps the events of this scenario.

import { ApiError, apiPost } from "./api.js";
import { VERBS, quote } from "./describe.js";
import { byId, byIdAs, clockTime, el, emotionClass, fixed, readJsonScript, showMessage, signed, unit } from "./dom.js";
import { EcosystemStream, renderConnection } from "./live.js";

/** @typedef {import("./live.js").EventEnvelope} EventEnvelope */
/** @typedef {import("./graph.js").CharacterNode} CharacterNode */
/** @typedef {import("./graph.js").RelationshipEdge} RelationshipEdge */

/**
 * @typedef {object} InteractionEntry
 * @property {"interaction"} kind
 * @property {string} id
 * @property {string} created
 * @property {number | null} turn
 * @property {string} interaction_type
 * @property {string[]} participants [initiator, target]
 * @property {Record<string, string>} names
 * @property {string} content
 * @property {string} response
 * @property {Record<string, any>} relationship_change
 * @property {Record<string, Record<string, any>>} emotional_states
 * @property {string | null} user_message_id
 */

/**
 * @typedef {object} UserMessageEntry
 * @property {"user_message"} kind
 * @property {string} id
 * @property {string} created
 * @property {string} content
 * @property {string | null} target_character_id
 */

/**
 * @typedef {object} ScenarioState
 * @property {string} id
 * @property {string} title
 * @property {string} status "active" | "paused" | "ended"
 * @property {string} mode "observer" | "participant"
 * @property {number} turn
 * @property {number} tick_seconds
 * @property {number} seconds_left
 */

/**
 * @typedef {object} ChatData
 * @property {string} ecosystem_id
 * @property {number} last_seq
 * @property {string} ws_path
 * @property {string} api_base
 * @property {{placeholder: string, character_page: string}} urls
 * @property {ScenarioState} scenario
 * @property {CharacterNode[]} participants
 * @property {(InteractionEntry | UserMessageEntry)[]} transcript oldest first
 * @property {RelationshipEdge[]} relationships among the participants
 */

/**
 * @typedef {object} PairChange
 * @property {string} from
 * @property {string} to
 * @property {number} strengthStart
 * @property {number} strengthNow
 * @property {number} trustStart
 * @property {number} trustNow
 */

const page = /** @type {ChatData} */ (readJsonScript("scenario-data"));
const scenario = page.scenario;
const scenarioApi = `${page.api_base}/scenarios/${encodeURIComponent(scenario.id)}`;

/** @type {Map<string, string>} */
const names = new Map(page.participants.map((p) => [p.id, p.name]));
const participantIds = new Set(page.participants.map((p) => p.id));
/** Interaction ids and user message ids already shown (replays after a reconnect are skipped). */
const shown = new Set();
/** The person's own messages shown from the POST answer, by content and target, that their
 * user_message event has not echoed yet (the event is then skipped, not shown twice). */
/** @type {Map<string, number>} */
const awaitingEcho = new Map();
/** @type {Map<string, PairChange>} "from>to" -> change over this scenario */
const pairChanges = new Map();
/** @type {Map<string, string>} "from>to" -> relationship label now */
const pairLabels = new Map(page.relationships.map((r) => [`${r.from}>${r.to}`, r.label]));

/** @param {string} id */
function nameOf(id) {
  return names.get(id) ?? "someone";
}

// --- Scenario state: status, turn, time left, controls, mode --------------------------------

const statusBadge = byId("scenario-status");
const turnText = byId("scenario-turn");
const timeLeft = byId("scenario-time-left");
const chatMessage = byId("chat-message");
const intervention = byIdAs("intervention", HTMLFormElement);
const observerNote = byId("observer-note");
let secondsLeft = scenario.seconds_left;

function renderState() {
  const words = /** @type {Record<string, string>} */ ({ active: "Active", paused: "Paused", ended: "Ended" });
  statusBadge.textContent = words[scenario.status] ?? scenario.status;
  statusBadge.className = `badge badge-${scenario.status}`;
  document.body.dataset.scenarioStatus = scenario.status;
  turnText.textContent = String(scenario.turn);
  for (const button of document.querySelectorAll(".controls [data-action]")) {
    const action = button.getAttribute("data-action");
    const visible =
      (action === "pause" && scenario.status === "active") ||
      (action === "resume" && scenario.status === "paused") ||
      (action === "end" && scenario.status !== "ended");
    /** @type {HTMLElement} */ (button).hidden = !visible;
  }
  for (const button of document.querySelectorAll(".segmented [data-mode]")) {
    button.setAttribute("aria-pressed", String(button.getAttribute("data-mode") === scenario.mode));
    /** @type {HTMLButtonElement} */ (button).disabled = scenario.status === "ended";
  }
  const participating = scenario.mode === "participant" && scenario.status !== "ended";
  intervention.hidden = !participating;
  observerNote.hidden = participating;
  if (scenario.status === "ended") observerNote.textContent = "This scenario has ended.";
  renderTimeLeft();
}

function renderTimeLeft() {
  if (scenario.status === "ended") {
    timeLeft.textContent = "ended";
    return;
  }
  const total = Math.max(0, Math.round(secondsLeft));
  const minutes = Math.floor(total / 60);
  const seconds = String(total % 60).padStart(2, "0");
  timeLeft.textContent = `${minutes}:${seconds} left${scenario.status === "paused" ? " (paused)" : ""}`;
}

window.setInterval(() => {
  if (scenario.status === "active") {
    secondsLeft = Math.max(0, secondsLeft - 1);
    renderTimeLeft();
  }
}, 1_000);

/**
 * Take the scenario fields an API answer carries (GET /scenarios/{id} and the actions).
 * @param {Record<string, any>} answer
 */
function takeState(answer) {
  if (!answer || typeof answer !== "object") return;
  if (typeof answer.status === "string") scenario.status = answer.status;
  if (typeof answer.mode === "string") scenario.mode = answer.mode;
  if (typeof answer.turn === "number") scenario.turn = Math.max(scenario.turn, answer.turn);
  const left = Number(answer.seconds_left ?? answer.time_left_seconds);
  if (Number.isFinite(left)) secondsLeft = left;
  renderState();
}

for (const button of document.querySelectorAll(".controls [data-action]")) {
  button.addEventListener("click", async () => {
    const action = button.getAttribute("data-action");
    if (!action) return;
    if (action === "end" && !window.confirm("End this scenario? It cannot be resumed.")) return;
    const target = /** @type {HTMLButtonElement} */ (button);
    target.disabled = true;
    try {
      takeState(await apiPost(`${scenarioApi}/${action}`));
      chatMessage.hidden = true;
    } catch (error) {
      showMessage(chatMessage, error instanceof Error ? error.message : String(error), { tone: "error" });
    } finally {
      target.disabled = false;
    }
  });
}

for (const button of document.querySelectorAll(".segmented [data-mode]")) {
  button.addEventListener("click", async () => {
    const mode = button.getAttribute("data-mode");
    if (!mode || mode === scenario.mode) return;
    try {
      const answer = await apiPost(`${scenarioApi}/mode`, { mode });
      scenario.mode = mode;
      takeState(answer);
      chatMessage.hidden = true;
      if (mode === "participant") byIdAs("intervention", HTMLFormElement).querySelector("textarea")?.focus();
    } catch (error) {
      showMessage(chatMessage, error instanceof Error ? error.message : String(error), { tone: "error" });
    }
  });
}

// --- Participants ----------------------------------------------------------------------------

/**
 * @param {string} id
 * @param {Record<string, any>} state {label, energy, status, ...}
 */
function updateParticipant(id, state) {
  const row = document.querySelector(`#participants [data-character-id="${CSS.escape(id)}"]`);
  if (!row) return;
  const dot = row.querySelector("[data-emotion] .dot");
  const label = row.querySelector("[data-emotion] .emo-text");
  if (typeof state.label === "string") {
    if (dot) dot.className = `dot ${emotionClass(state.label)}`;
    if (label) label.textContent = state.label;
  }
  const energy = Number(state.energy);
  if (Number.isFinite(energy)) {
    const bar = row.querySelector("[data-energy-bar]");
    if (bar instanceof HTMLElement) bar.style.width = `${Math.round(unit(energy) * 100)}%`;
    const value = row.querySelector("[data-energy]");
    if (value) value.textContent = fixed(energy);
  }
  row.classList.toggle("is-resting", state.status === "resting");
}

/** @param {string[]} ids */
function markSpeaking(ids) {
  for (const row of document.querySelectorAll("#participants .participant")) {
    row.classList.toggle("speaking", ids.includes(row.getAttribute("data-character-id") ?? ""));
  }
}

// --- Transcript -----------------------------------------------------------------------------

const transcript = byId("transcript");
const transcriptEmpty = byId("transcript-empty");
const messageCount = byId("message-count");

/**
 * "Tobias → Mira: strength +0.04 · trust −0.02"
 * @param {string} from
 * @param {string} to
 * @param {Record<string, any> | undefined} change
 */
function relationshipNote(from, to, change) {
  if (!change || !Number.isFinite(Number(change.strength_delta))) return null;
  const strength = Number(change.strength_delta);
  const trust = Number(change.trust_delta);
  const tone = strength + trust > 0.0005 ? "positive" : strength + trust < -0.0005 ? "negative" : "neutral";
  return el(
    "span",
    { className: `rel-change tone-${tone}` },
    `${nameOf(from)} → ${nameOf(to)}: strength ${signed(strength)} · trust ${signed(trust)}`,
  );
}

/**
 * @param {string} speakerId
 * @param {Record<string, any> | undefined} state
 */
function emotionNote(speakerId, state) {
  if (!state || typeof state.label !== "string") return null;
  return el(
    "span",
    { className: "emo small" },
    el("span", { className: `dot ${emotionClass(state.label)}` }),
    el("span", { className: "emo-text", text: `${state.label} · energy ${fixed(Number(state.energy))}` }),
  );
}

/**
 * @param {object} message
 * @param {string} message.speakerId
 * @param {string} message.listenerId
 * @param {string} message.text
 * @param {string} message.created
 * @param {string} message.interactionId
 * @param {string} message.interactionType
 * @param {"opening" | "reply"} message.part
 * @param {Record<string, any> | undefined} message.state the speaker's emotion after
 * @param {HTMLElement | null} message.relationship
 * @param {boolean} message.answersUser
 */
function messageItem(message) {
  const kind = message.part === "opening" ? VERBS[message.interactionType] ?? message.interactionType : "replied to";
  return el(
    "li",
    {
      className: `message msg-${message.interactionType}${message.answersUser ? " answers-user" : ""}`,
      dataset: {
        kind: "character",
        speakerId: message.speakerId,
        interactionId: message.interactionId,
        part: message.part,
      },
    },
    el(
      "div",
      { className: "message-head" },
      el("strong", { className: "speaker", text: nameOf(message.speakerId) }),
      el("span", { className: "muted small", text: `${kind} ${nameOf(message.listenerId)}` }),
      message.answersUser ? el("span", { className: "badge badge-mode", text: "answering you" }) : null,
      el("time", { className: "muted small", attrs: { datetime: message.created }, text: clockTime(message.created) }),
    ),
    el("p", { className: "message-text", text: message.text }),
    el("div", { className: "message-meta" }, emotionNote(message.speakerId, message.state), message.relationship),
  );
}

/** @param {InteractionEntry} entry */
function renderInteraction(entry) {
  const [initiator, target] = entry.participants;
  const change = entry.relationship_change ?? {};
  const answersUser = Boolean(entry.user_message_id);
  // The opening moved how the target regards the speaker (reverse); the reply moved how the
  // initiator regards the target (forward).
  return [
    messageItem({
      speakerId: initiator,
      listenerId: target,
      text: entry.content,
      created: entry.created,
      interactionId: entry.id,
      interactionType: entry.interaction_type,
      part: "opening",
      state: entry.emotional_states?.[initiator],
      relationship: relationshipNote(target, initiator, change.reverse),
      answersUser,
    }),
    messageItem({
      speakerId: target,
      listenerId: initiator,
      text: entry.response,
      created: entry.created,
      interactionId: entry.id,
      interactionType: entry.interaction_type,
      part: "reply",
      state: entry.emotional_states?.[target],
      relationship: relationshipNote(initiator, target, change),
      answersUser: false,
    }),
  ];
}

/** @param {UserMessageEntry} entry */
function renderUserMessage(entry) {
  const to = entry.target_character_id ? nameOf(entry.target_character_id) : "everyone";
  return el(
    "li",
    { className: "message from-user", dataset: { kind: "user", messageId: entry.id, target: entry.target_character_id ?? "" } },
    el(
      "div",
      { className: "message-head" },
      el("strong", { className: "speaker", text: "You" }),
      el("span", { className: "muted small", text: `to ${to}` }),
      el("time", { className: "muted small", attrs: { datetime: entry.created }, text: clockTime(entry.created) }),
    ),
    el("p", { className: "message-text", text: entry.content }),
  );
}

function nearBottom() {
  return transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 80;
}

/**
 * @param {(InteractionEntry | UserMessageEntry)[]} entries
 * @param {"snapshot" | "event" | "local"} source
 */
function appendEntries(entries, source) {
  const live = source !== "snapshot";
  const stick = !live || nearBottom();
  /** @type {HTMLElement[]} */
  const items = [];
  for (const entry of entries) {
    if (entry.kind === "interaction") {
      if (shown.has(entry.id)) continue;
      shown.add(entry.id);
      items.push(...renderInteraction(entry));
      addToSummary(entry);
    } else {
      const key = `${entry.content}\u0000${entry.target_character_id ?? ""}`;
      const waiting = awaitingEcho.get(key) ?? 0;
      if (entry.id && shown.has(entry.id)) {
        if (source === "event" && waiting > 0) awaitingEcho.set(key, waiting - 1);
        continue;
      }
      if (entry.id) shown.add(entry.id);
      if (source === "event" && waiting > 0) {
        awaitingEcho.set(key, waiting - 1); // the echo of a message shown when it was sent
        continue;
      }
      if (source === "local") awaitingEcho.set(key, waiting + 1);
      items.push(renderUserMessage(entry));
    }
  }
  if (!items.length) return;
  if (live) for (const item of items) item.classList.add("fresh");
  transcript.append(...items);
  messageCount.textContent = String(transcript.children.length);
  transcriptEmpty.hidden = true;
  if (stick) transcript.scrollTop = transcript.scrollHeight;
}

// --- Relationship changes summary -------------------------------------------------------------

/** @param {InteractionEntry} entry */
function addToSummary(entry) {
  const [initiator, target] = entry.participants;
  const change = entry.relationship_change ?? {};
  for (const [from, to, move] of /** @type {[string, string, Record<string, any> | undefined][]} */ ([
    [initiator, target, change],
    [target, initiator, change.reverse],
  ])) {
    if (!move || !Number.isFinite(Number(move.new_strength))) continue;
    const key = `${from}>${to}`;
    const strengthNow = Number(move.new_strength);
    const trustNow = Number(move.new_trust);
    const existing = pairChanges.get(key);
    if (existing) {
      existing.strengthNow = strengthNow;
      existing.trustNow = trustNow;
    } else {
      pairChanges.set(key, {
        from,
        to,
        strengthStart: strengthNow - Number(move.strength_delta),
        strengthNow,
        trustStart: trustNow - Number(move.trust_delta),
        trustNow,
      });
    }
  }
  scheduleSummary();
}

/** @type {number | undefined} */
let summaryTimer;
function scheduleSummary() {
  window.clearTimeout(summaryTimer);
  summaryTimer = window.setTimeout(renderSummary, 100);
}

function renderSummary() {
  const rows = [...pairChanges.values()].sort(
    (a, b) => Math.abs(b.strengthNow - b.strengthStart) - Math.abs(a.strengthNow - a.strengthStart),
  );
  const list = byId("relationship-summary");
  list.replaceChildren(
    ...rows.map((row) => {
      const strengthDelta = row.strengthNow - row.strengthStart;
      const trustDelta = row.trustNow - row.trustStart;
      const label = pairLabels.get(`${row.from}>${row.to}`);
      const tone = strengthDelta + trustDelta > 0.0005 ? "positive" : strengthDelta + trustDelta < -0.0005 ? "negative" : "neutral";
      return el(
        "li",
        { className: `summary-item tone-${tone}`, dataset: { pair: `${row.from}>${row.to}` } },
        el("span", { className: "summary-pair", text: `${nameOf(row.from)} → ${nameOf(row.to)}` }),
        label ? el("span", { className: `rel-label rel-${label.replace(/\s+/g, "-")}`, text: label }) : null,
        el(
          "span",
          { className: "summary-numbers small" },
          `strength ${signed(strengthDelta)} (${fixed(row.strengthStart)} → ${fixed(row.strengthNow)}) · trust ${signed(trustDelta)}`,
        ),
      );
    }),
  );
  byId("summary-empty").hidden = rows.length > 0;
}

// --- Intervention ------------------------------------------------------------------------------

const interventionError = byId("intervention-error");

intervention.addEventListener("submit", async (event) => {
  event.preventDefault();
  interventionError.hidden = true;
  const form = new FormData(intervention);
  const content = String(form.get("content") ?? "").trim();
  const target = String(form.get("target_character_id") ?? "");
  if (!content) {
    interventionError.textContent = "Write something first.";
    interventionError.hidden = false;
    return;
  }
  const submit = intervention.querySelector("button[type=submit]");
  if (submit instanceof HTMLButtonElement) submit.disabled = true;
  try {
    /** @type {Record<string, string>} */
    const body = { content };
    if (target) body.target_character_id = target;
    const answer = await apiPost(`${scenarioApi}/messages`, body);
    const textarea = intervention.querySelector("textarea");
    if (textarea) textarea.value = "";
    const id = String(answer?.id ?? answer?.message_id ?? "");
    appendEntries(
      [{ kind: "user_message", id, created: String(answer?.created ?? new Date().toISOString()), content, target_character_id: target || null }],
      "local",
    );
  } catch (error) {
    interventionError.textContent =
      error instanceof ApiError && error.status === 409 && scenario.mode !== "participant"
        ? "Switch to Participant mode to step in."
        : error instanceof Error
          ? error.message
          : String(error);
    interventionError.hidden = false;
  } finally {
    if (submit instanceof HTMLButtonElement) submit.disabled = false;
  }
});

intervention.querySelector("textarea")?.addEventListener("keydown", (event) => {
  // Enter sends, Shift+Enter starts a new line (as in most chat apps).
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    intervention.requestSubmit();
  }
});

// --- Who is speaking: ephemeral "speaking" frames (docs/events.md, "Ephemeral frames") -------------

/** A note clears itself after this long without its end (a frame lost on the way). */
const SPEAKING_TIMEOUT_MS = 30_000;
const speakingNote = el("p", {
  className: "speaking-note muted small",
  attrs: { id: "speaking-note", role: "status", "aria-live": "polite" },
});
speakingNote.hidden = true;
transcript.after(speakingNote);
/** @type {Map<string, {name: string, timer: number}>} character id -> writing a line now */
const speakingNow = new Map();

function renderSpeaking() {
  const who = [...speakingNow.values()].map((entry) => entry.name);
  speakingNote.textContent = who.length ? `${who.join(" and ")} ${who.length > 1 ? "are" : "is"} speaking…` : "";
  speakingNote.hidden = who.length === 0;
}

/**
 * @param {string} id
 * @param {string} name
 * @param {boolean} speaking
 */
function setSpeaking(id, name, speaking) {
  const current = speakingNow.get(id);
  if (current) window.clearTimeout(current.timer);
  if (speaking) {
    speakingNow.set(id, { name, timer: window.setTimeout(() => setSpeaking(id, name, false), SPEAKING_TIMEOUT_MS) });
  } else {
    speakingNow.delete(id);
  }
  renderSpeaking();
}

/** @param {Record<string, any>} frame {"type": "speaking", "data": {character_id, name, scenario_id, speaking}} */
function applySpeaking(frame) {
  const data = frame.data ?? {};
  if (String(data.scenario_id ?? "") !== scenario.id || scenario.status === "ended") return;
  const id = String(data.character_id ?? "");
  if (!id) return;
  setSpeaking(id, String(data.name ?? nameOf(id)), data.speaking !== false);
}

/** The ecosystem's stream, also taking the frames with no seq that the chat shows. */
class ChatStream extends EcosystemStream {
  /** @param {string} text */
  receive(text) {
    if (text.includes('"speaking"')) {
      /** @type {any} */
      let frame = null;
      try {
        frame = JSON.parse(text);
      } catch {
        frame = null;
      }
      if (frame && typeof frame === "object" && frame.type === "speaking" && typeof frame.seq !== "number") {
        applySpeaking(frame);
        return;
      }
    }
    super.receive(text);
  }
}

// --- Live events ---------------------------------------------------------------------------------

/** @param {EventEnvelope} event */
function applyEvent(event) {
  const data = event.data ?? {};
  const ours = String(data.scenario_id ?? "") === scenario.id;
  switch (event.type) {
    case "character_interaction": {
      for (const [id, state] of Object.entries(data.emotional_states ?? {})) updateParticipant(id, state);
      if (!ours) break;
      for (const [id, name] of Object.entries(data.names ?? {})) names.set(id, String(name));
      const participants = Array.isArray(data.participants) ? data.participants.map(String) : [];
      if (typeof data.turn === "number") scenario.turn = Math.max(scenario.turn, data.turn);
      appendEntries(
        [
          {
            kind: "interaction",
            id: String(data.interaction_id ?? `seq-${event.seq}`),
            created: event.timestamp,
            turn: typeof data.turn === "number" ? data.turn : null,
            interaction_type: String(data.interaction_type ?? "chat"),
            participants,
            names: data.names ?? {},
            content: String(data.content ?? ""),
            response: String(data.response ?? ""),
            relationship_change: data.relationship_change ?? {},
            emotional_states: data.emotional_states ?? {},
            user_message_id: data.user_message_id ? String(data.user_message_id) : null,
          },
        ],
        "event",
      );
      markSpeaking(participants);
      for (const id of participants) setSpeaking(id, nameOf(id), false); // their lines are here
      renderState();
      break;
    }
    case "character_state_changed":
      for (const [id, state] of Object.entries(data.characters ?? {})) updateParticipant(id, state);
      break;
    case "relationship_changed": {
      let touched = false;
      for (const change of Array.isArray(data.changes) ? data.changes : []) {
        const from = String(change.from);
        const to = String(change.to);
        if (participantIds.has(from) && participantIds.has(to) && change.label) {
          pairLabels.set(`${from}>${to}`, String(change.label));
          touched = true;
        }
      }
      if (touched) scheduleSummary();
      break;
    }
    case "user_message":
      if (!ours) break;
      appendEntries(
        [
          {
            kind: "user_message",
            id: String(data.message_id ?? data.user_message_id ?? data.id ?? ""),
            created: event.timestamp,
            content: String(data.content ?? ""),
            target_character_id: data.target_character_id ? String(data.target_character_id) : null,
          },
        ],
        "event",
      );
      break;
    case "scenario_paused":
    case "scenario_resumed":
    case "scenario_ended":
      if (!ours) break;
      scenario.status = { scenario_paused: "paused", scenario_resumed: "active", scenario_ended: "ended" }[event.type];
      if (event.type === "scenario_ended") {
        secondsLeft = 0;
        markSpeaking([]);
        for (const id of [...speakingNow.keys()]) setSpeaking(id, nameOf(id), false);
        showMessage(chatMessage, "The scenario has ended; the relationship changes below are its summary.", { tone: "info" });
      }
      renderState();
      break;
    default:
      break;
  }
  document.body.dataset.lastSeq = String(event.seq);
}

// --- Start ---------------------------------------------------------------------------------------

renderState();
appendEntries(page.transcript, "snapshot");
renderSummary();
transcriptEmpty.hidden = transcript.children.length > 0;

const stream = new ChatStream({
  wsPath: page.ws_path,
  since: page.last_seq,
  onEvent: applyEvent,
  onStatus: (state, detail) => renderConnection(byId("conn-status"), state, detail),
  onReset: () => window.location.reload(),
});
Object.assign(window, { observatory: { stream } });
stream.start();
