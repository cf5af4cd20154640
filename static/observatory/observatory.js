// The observatory page: stats, network, character panel, activity feed and the scenario
// director, kept live by the ecosystem's WebSocket (see live.js for resume and dedupe).

import { ApiError, apiGet, apiPost } from "./api.js";
import { setupCardImport } from "./cards.js";
import { describeEvent } from "./describe.js";
import { byId, byIdAs, clockTime, el, emotionClass, fixed, readJsonScript, showMessage, unit } from "./dom.js";
import { NetworkView } from "./graph.js";
import { EcosystemStream, renderConnection } from "./live.js";

/** @typedef {import("./live.js").EventEnvelope} EventEnvelope */
/** @typedef {import("./graph.js").CharacterNode} CharacterNode */
/** @typedef {import("./graph.js").RelationshipEdge} RelationshipEdge */

/**
 * @typedef {object} PageData
 * @property {string} ecosystem_id
 * @property {number} last_seq
 * @property {string} ws_path
 * @property {string} api_base
 * @property {{placeholder: string, character_page: string, scenario_page: string, scenario_list_partial: string, avatar: string, card_import: string}} urls
 * @property {{cytoscape: string}} vendor
 * @property {(CharacterNode & {has_avatar?: boolean})[]} characters
 * @property {RelationshipEdge[]} relationships
 * @property {EventEnvelope[]} recent_events newest first
 * @property {string[]} event_times timestamps of the last minute's events
 * @property {string} server_now
 * @property {string[]} active_scenario_ids
 * @property {number} card_max_bytes
 */

const FEED_SIZE = 50;
const FEED_TYPES = new Set([
  "character_interaction",
  "scenario_started",
  "scenario_paused",
  "scenario_resumed",
  "scenario_ended",
  "user_message",
]);
const SCENARIO_TYPES = new Set(["scenario_started", "scenario_paused", "scenario_resumed", "scenario_ended"]);
const TRAITS = /** @type {const} */ (["openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"]);
const PANEL_RELATIONSHIPS = 12;
const MINUTE_MS = 60_000;

const page = /** @type {PageData} */ (readJsonScript("observatory-data"));

/**
 * @param {string} pattern a URL with the placeholder id
 * @param {string} id
 */
function urlFor(pattern, id) {
  return pattern.replace(page.urls.placeholder, encodeURIComponent(id));
}

// --- Names known before the graph loads (the feed renders first) ---------------------------

/** @type {Map<string, string>} */
const names = new Map(page.characters.map((c) => [c.id, c.name]));
/** @type {NetworkView | null} */
let network = null;

/** Characters with an avatar image (GET /api/v1/characters/{id}/avatar answers 200). */
const withAvatar = new Set(page.characters.filter((c) => c.has_avatar).map((c) => c.id));

/** @param {string} id */
function nameOf(id) {
  return names.get(id) ?? "someone";
}

// --- Stats ---------------------------------------------------------------------------------

const clockOffset = Date.now() - Date.parse(page.server_now || new Date().toISOString());
/** Arrival times (client clock, ms) of the events of the last minute. */
const recentEventTimes = page.event_times.map((iso) => Date.parse(iso) + clockOffset);
const activeScenarios = new Set(page.active_scenario_ids);
const counts = { characters: page.characters.length, relationships: page.relationships.length };

/**
 * @param {string} name
 * @param {number} value
 */
function setStat(name, value) {
  const node = document.querySelector(`[data-stat="${name}"]`);
  if (node && node.textContent !== String(value)) {
    node.textContent = String(value);
    node.classList.remove("bump");
    void (/** @type {HTMLElement} */ (node).offsetWidth); // restart the highlight animation
    node.classList.add("bump");
  }
}

let statsFrameRequested = false;

/** Render the stats once per animation frame, however many events arrive in it (each render
 * restarts a highlight animation, which costs a layout). */
function scheduleStats() {
  if (statsFrameRequested) return;
  statsFrameRequested = true;
  requestAnimationFrame(() => {
    statsFrameRequested = false;
    renderStats();
  });
}

function renderStats() {
  const horizon = Date.now() - MINUTE_MS;
  while (recentEventTimes.length && recentEventTimes[0] < horizon) recentEventTimes.shift();
  if (network) Object.assign(counts, network.counts());
  setStat("characters", counts.characters);
  setStat("relationships", counts.relationships);
  setStat("active_conversations", activeScenarios.size);
  setStat("events_per_minute", recentEventTimes.length);
}

// --- Activity feed -------------------------------------------------------------------------

const feed = byId("feed");
const feedEmpty = byId("feed-empty");

/**
 * @param {EventEnvelope} event
 * @returns {HTMLLIElement | null}
 */
function feedItem(event) {
  const sentence = describeEvent(event, nameOf);
  if (!sentence) return null;
  return el(
    "li",
    {
      className: `feed-item feed-${sentence.kind}${sentence.tone ? ` tone-${sentence.tone}` : ""}`,
      dataset: { seq: String(event.seq), type: event.type },
    },
    el("time", { className: "feed-time", attrs: { datetime: event.timestamp }, text: clockTime(event.timestamp) }),
    el("span", { className: "feed-text", text: sentence.text }),
    sentence.detail ? el("span", { className: "feed-detail", text: sentence.detail }) : null,
    recallMarker(event),
  );
}

/**
 * A line that drew on a memory or on lore: a link to the speaker's memories (docs/dialogue.md).
 * @param {EventEnvelope} event
 * @returns {HTMLElement | null}
 */
function recallMarker(event) {
  const data = event.data ?? {};
  if (event.type !== "character_interaction" || !Array.isArray(data.drew_on) || !data.drew_on.length) return null;
  const source = /** @type {Record<string, string>} */ (data.drew_on[0]);
  const participants = Array.isArray(data.participants) ? data.participants.map(String) : [];
  const speakerId = source.line === "content" ? participants[0] : participants[1];
  const lore = source.kind === "lore";
  return el("a", {
    className: `feed-recall feed-recall-${lore ? "lore" : "memory"}`,
    attrs: {
      href: `${urlFor(page.urls.character_page, speakerId ?? "")}${lore ? "" : `#memory-${encodeURIComponent(String(source.id))}`}`,
      title: String(source.text ?? ""),
    },
    text: lore ? "draws on lore" : "recalls a memory",
  });
}

/** @param {EventEnvelope} event */
function addToFeed(event) {
  if (!FEED_TYPES.has(event.type)) return;
  const item = feedItem(event);
  if (!item) return;
  item.classList.add("fresh");
  feed.prepend(item);
  while (feed.children.length > FEED_SIZE) feed.lastElementChild?.remove();
  feedEmpty.hidden = true;
}

function renderInitialFeed() {
  const items = page.recent_events.map(feedItem).filter((item) => item !== null);
  feed.replaceChildren(...items);
  feedEmpty.hidden = items.length > 0;
}

// --- Character panel -----------------------------------------------------------------------

const panel = byId("character-panel");

/** @param {string | null} id */
function selectCharacter(id) {
  network?.select(id);
  for (const chip of document.querySelectorAll("#character-index [data-character-id]")) {
    chip.setAttribute("aria-pressed", String(chip.getAttribute("data-character-id") === id));
  }
  if (!id) {
    panel.hidden = true;
    panel.dataset.characterId = "";
    return;
  }
  panel.dataset.characterId = id;
  renderPanel();
  panel.hidden = false;
}

/**
 * @param {string} label
 * @param {number} value 0..1
 * @param {string} fillClass
 */
function meterRow(label, value, fillClass) {
  const fill = el("span", { className: `meter-fill ${fillClass}` });
  fill.style.width = `${Math.round(unit(value) * 100)}%`;
  return el(
    "div",
    { className: "meter-row" },
    el("span", { className: "meter-label", text: label }),
    el("span", { className: "meter" }, fill),
    el("span", { className: "meter-value", text: fixed(value) }),
  );
}

function renderPanel() {
  const id = panel.dataset.characterId;
  if (!id) return;
  const character = network?.character(id) ?? page.characters.find((c) => c.id === id) ?? null;
  if (!character) {
    selectCharacter(null);
    return;
  }
  byId("panel-name").textContent = character.name;
  renderPanelAvatar(id, character.name);
  byId("panel-bio").textContent = character.bio ?? "";
  const emotion = byId("panel-emotion");
  const dot = emotion.querySelector(".dot");
  if (dot) dot.className = `dot ${emotionClass(character.label)}`;
  const emotionText = emotion.querySelector(".emo-text");
  if (emotionText) {
    emotionText.textContent = `${character.label} (P ${fixed(character.pleasure)} · A ${fixed(character.arousal)} · D ${fixed(character.dominance)})`;
  }
  byId("panel-status").textContent = character.status;
  byId("panel-energy").textContent = fixed(character.energy);
  byId("panel-energy-bar").style.width = `${Math.round(unit(character.energy) * 100)}%`;
  byId("panel-personality").replaceChildren(
    ...TRAITS.map((trait) => meterRow(trait[0].toUpperCase() + trait.slice(1), Number(character[trait] ?? 0), "trait-fill")),
  );
  byIdAs("panel-link", HTMLAnchorElement).href = urlFor(page.urls.character_page, id);
  renderPanelRelationships(id);
}

/**
 * The avatar's <img> exists only while the panel shows a character who has one: no request
 * that would answer 404, and no image on the page that the page did not mean to show.
 * @param {string} id
 * @param {string} name
 */
function renderPanelAvatar(id, name) {
  const current = document.getElementById("panel-avatar");
  if (!withAvatar.has(id)) {
    current?.remove();
    return;
  }
  const src = urlFor(page.urls.avatar, id);
  const image =
    current instanceof HTMLImageElement
      ? current
      : el("img", { className: "avatar avatar-panel", attrs: { id: "panel-avatar", width: "56", height: "56" } });
  if (image.getAttribute("src") !== src) image.src = src;
  image.alt = `${name}'s avatar`;
  if (!image.isConnected) byId("panel-name").before(image);
}

/** @param {string} id */
function renderPanelRelationships(id) {
  const list = byId("panel-relationships");
  if (!network) return;
  const { outgoing, incoming } = network.relationshipsOf(id);
  const theirView = new Map(incoming.map((edge) => [edge.from, edge]));
  const rows = outgoing.sort((a, b) => Math.abs(b.strength) - Math.abs(a.strength));
  const items = rows.slice(0, PANEL_RELATIONSHIPS).map((edge) => {
    const back = theirView.get(edge.to);
    const other = el("button", { className: "link-button", attrs: { type: "button" }, text: nameOf(edge.to) });
    other.addEventListener("click", () => selectCharacter(edge.to));
    const swatch = el("span", { className: "strength-swatch" });
    swatch.style.background = `var(--edge-${edge.strength < -0.05 ? "neg" : edge.strength > 0.05 ? "pos" : "mid"})`;
    return el(
      "li",
      { className: "rel-item" },
      swatch,
      other,
      el("span", { className: `rel-label rel-${edge.label.replace(/\s+/g, "-")}`, text: edge.label || "—" }),
      el("span", { className: "muted small", text: `strength ${fixed(edge.strength)} · trust ${fixed(edge.trust)}` }),
      back ? el("span", { className: "muted small", text: `their view: ${back.label}` }) : null,
    );
  });
  if (rows.length > PANEL_RELATIONSHIPS) {
    items.push(el("li", { className: "muted small", text: `and ${rows.length - PANEL_RELATIONSHIPS} more on the character page` }));
  }
  if (!items.length) items.push(el("li", { className: "muted small", text: "Has not met anyone yet." }));
  list.replaceChildren(...items);
}

byId("panel-close").addEventListener("click", () => {
  const id = panel.dataset.characterId;
  selectCharacter(null);
  if (id) /** @type {HTMLElement | null} */ (document.querySelector(`#character-index [data-character-id="${CSS.escape(id)}"]`))?.focus();
});

byId("character-index").addEventListener("click", (event) => {
  const chip = /** @type {HTMLElement} */ (event.target).closest("[data-character-id]");
  if (!chip) return;
  const id = chip.getAttribute("data-character-id");
  if (!id) return;
  selectCharacter(panel.dataset.characterId === id && !panel.hidden ? null : id);
  if (!panel.hidden) byId("panel-name").focus();
});

document.addEventListener("keydown", (event) => {
  // Escape in the import dialog closes the dialog only.
  if (event.key === "Escape" && !panel.hidden && !document.querySelector("dialog[open]")) selectCharacter(null);
});

/**
 * Keep the keyboard list of characters in step with the graph.
 * @param {string} id
 * @param {Partial<CharacterNode>} state
 */
function updateChip(id, state) {
  const chip = document.querySelector(`#character-index [data-character-id="${CSS.escape(id)}"]`);
  if (!chip) {
    if (!state.name || state.status === "archived") return;
    const button = el(
      "button",
      { className: "chip", attrs: { type: "button" }, dataset: { characterId: id } },
      el("span", { className: `dot ${emotionClass(state.label)}`, dataset: { dot: "" } }),
      el("span", { dataset: { name: "" }, text: state.name }),
    );
    byId("character-index").append(el("li", {}, button));
    return;
  }
  const dot = chip.querySelector("[data-dot]");
  if (dot && state.label) dot.className = `dot ${emotionClass(state.label)}`;
}

// --- Applying events ---------------------------------------------------------------------

/** @type {number | undefined} */
let scenarioRefresh;

function refreshScenarioList() {
  window.clearTimeout(scenarioRefresh);
  scenarioRefresh = window.setTimeout(() => {
    document.body.dispatchEvent(new CustomEvent("scenarios-changed"));
  }, 250);
}

/**
 * @param {string} id
 * @param {Record<string, any>} state {name, pleasure, arousal, dominance, label, energy, status}
 */
function applyCharacterState(id, state) {
  if (typeof state.name === "string") names.set(id, state.name);
  network?.updateCharacter(id, state);
  updateChip(id, state);
  if (panel.dataset.characterId === id && !panel.hidden) renderPanel();
}

/** @param {EventEnvelope} event */
function applyEvent(event) {
  const data = event.data ?? {};
  recentEventTimes.push(Date.parse(event.timestamp) + clockOffset);
  if (data.names && typeof data.names === "object") {
    for (const [id, name] of Object.entries(data.names)) names.set(id, String(name));
  }
  switch (event.type) {
    case "character_interaction": {
      const participants = Array.isArray(data.participants) ? data.participants.map(String) : [];
      for (const [id, state] of Object.entries(data.emotional_states ?? {})) applyCharacterState(id, state);
      network?.pulse(participants);
      if (data.scenario_id && data.turn !== null && data.turn !== undefined) {
        const turn = document.querySelector(`[data-scenario-id="${CSS.escape(String(data.scenario_id))}"] [data-turn]`);
        if (turn) turn.textContent = String(data.turn);
      }
      break;
    }
    case "relationship_changed":
      for (const change of Array.isArray(data.changes) ? data.changes : []) {
        if (change.from_name) names.set(String(change.from), String(change.from_name));
        if (change.to_name) names.set(String(change.to), String(change.to_name));
        network?.updateRelationship(change);
      }
      if (panel.dataset.characterId && !panel.hidden) renderPanel();
      break;
    case "character_state_changed":
      for (const [id, state] of Object.entries(data.characters ?? {})) applyCharacterState(id, state);
      break;
    case "scenario_started":
    case "scenario_resumed":
      if (data.scenario_id) activeScenarios.add(String(data.scenario_id));
      break;
    case "scenario_paused":
    case "scenario_ended":
      if (data.scenario_id) activeScenarios.delete(String(data.scenario_id));
      break;
    default:
      break;
  }
  if (SCENARIO_TYPES.has(event.type)) refreshScenarioList();
  addToFeed(event);
  byId("last-seq").textContent = String(event.seq);
  const container = byId("network");
  container.dataset.updates = String(network?.updates ?? 0);
  container.dataset.lastSeq = String(event.seq);
  scheduleStats();
}

// --- Scenario director -------------------------------------------------------------------

const directorMessage = byId("director-message");

byId("scenario-list").addEventListener("click", async (event) => {
  const button = /** @type {HTMLElement} */ (event.target).closest("button[data-action]");
  if (!(button instanceof HTMLButtonElement)) return;
  const action = button.dataset.action;
  const scenarioId = button.dataset.scenarioId;
  if (!action || !scenarioId) return;
  if (action === "end" && !window.confirm("End this scenario? It cannot be resumed.")) return;
  button.disabled = true;
  try {
    await apiPost(`${page.api_base}/scenarios/${encodeURIComponent(scenarioId)}/${action}`);
    refreshScenarioList();
  } catch (error) {
    showMessage(directorMessage, error instanceof Error ? error.message : String(error), { tone: "error" });
    button.disabled = false;
  }
});

const scenarioForm = byIdAs("scenario-form", HTMLFormElement);
/** Names the service uses for a field that the form calls otherwise. */
const FIELD_ALIASES = /** @type {Record<string, string>} */ ({ participants: "character_ids" });
const scenarioFormError = byId("scenario-form-error");

function clearFieldErrors() {
  scenarioFormError.hidden = true;
  for (const node of scenarioForm.querySelectorAll(".field-error")) node.remove();
  for (const node of scenarioForm.querySelectorAll(".has-error")) node.classList.remove("has-error");
  for (const node of scenarioForm.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

/**
 * @param {string} field
 * @param {string} message
 */
function showFieldError(field, message) {
  const name = FIELD_ALIASES[field] ?? field;
  const wrapper = scenarioForm.querySelector(`[data-field="${CSS.escape(name)}"]`);
  if (!wrapper) {
    showMessage(scenarioFormError, message, { tone: "error" });
    return;
  }
  wrapper.classList.add("has-error");
  wrapper.querySelector("input, textarea, select")?.setAttribute("aria-invalid", "true");
  wrapper.append(el("small", { className: "field-error", text: message }));
}

scenarioForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearFieldErrors();
  const form = new FormData(scenarioForm);
  const characterIds = form.getAll("character_ids").map(String);
  const body = {
    title: String(form.get("title") ?? "").trim(),
    setting: String(form.get("setting") ?? "").trim(),
    mood: String(form.get("mood") ?? "").trim(),
    objectives: String(form.get("objectives") ?? "")
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean),
    character_ids: characterIds,
    duration_minutes: Number(form.get("duration_minutes")),
    tick_seconds: Number(form.get("tick_seconds")),
    mode: String(form.get("mode") ?? "observer"),
  };
  let invalid = false;
  if (!body.title) {
    showFieldError("title", "Give the scenario a title.");
    invalid = true;
  }
  if (characterIds.length < 2) {
    showFieldError("character_ids", "Pick at least two participants.");
    invalid = true;
  }
  if (invalid) {
    /** @type {HTMLElement | null} */ (scenarioForm.querySelector("[aria-invalid], .has-error input"))?.focus();
    return;
  }
  const submit = scenarioForm.querySelector("button[type=submit]");
  if (submit instanceof HTMLButtonElement) submit.disabled = true;
  try {
    const created = await apiPost(`${page.api_base}/ecosystem/${encodeURIComponent(page.ecosystem_id)}/scenario`, body);
    scenarioForm.reset();
    refreshScenarioList();
    showMessage(directorMessage, `Scenario “${body.title}” started.`, {
      tone: "success",
      link: { href: urlFor(page.urls.scenario_page, String(created.id)), text: "Open the chat →" },
    });
  } catch (error) {
    if (error instanceof ApiError && error.status === 400) {
      const fields = error.fieldErrors();
      const entries = Object.entries(fields);
      if (!entries.length) showMessage(scenarioFormError, error.message, { tone: "error" });
      for (const [field, message] of entries) showFieldError(field, message);
    } else {
      showMessage(scenarioFormError, error instanceof Error ? error.message : String(error), { tone: "error" });
    }
  } finally {
    if (submit instanceof HTMLButtonElement) submit.disabled = false;
  }
});

// --- Import card ---------------------------------------------------------------------------

const importMessage = byId("import-message");

/**
 * A participant checkbox for a character who joined after the page was drawn.
 * @param {string} id
 * @param {string} name
 */
function addParticipantChoice(id, name) {
  const picker = scenarioForm.querySelector(".participant-picker");
  if (!picker || picker.querySelector(`input[value="${CSS.escape(id)}"]`)) return;
  picker.querySelector("p.muted")?.remove(); // "This ecosystem has no characters yet."
  picker.append(
    el("label", { className: "check" }, el("input", { attrs: { type: "checkbox", name: "character_ids", value: id } }), " ", el("span", { text: name })),
  );
}

const cardImport = setupCardImport({
  importUrl: urlFor(page.urls.card_import, page.ecosystem_id),
  onImported(character, hasAvatar) {
    const id = String(character.id);
    if (hasAvatar) withAvatar.add(id);
    // No event announces a new character: this page adds it to its network itself; other
    // open pages see it with its first interaction (docs/observatory.md).
    applyCharacterState(id, {
      name: character.name,
      bio: character.bio,
      openness: character.openness,
      conscientiousness: character.conscientiousness,
      extraversion: character.extraversion,
      agreeableness: character.agreeableness,
      neuroticism: character.neuroticism,
      pleasure: character.pleasure,
      arousal: character.arousal,
      dominance: character.dominance,
      label: character.emotion,
      energy: character.energy,
      status: character.status,
    });
    if (!page.characters.some((c) => c.id === id)) {
      page.characters.push({ ...character, id, label: character.emotion, has_avatar: hasAvatar });
    }
    addParticipantChoice(id, character.name);
    scheduleStats();
    selectCharacter(id);
    showMessage(importMessage, `${character.name} joined the ecosystem.`, {
      tone: "success",
      link: { href: urlFor(page.urls.character_page, id), text: "Open the character page →" },
    });
  },
});

// A card dropped anywhere on the network opens the import with it.
const networkCard = byId("network").closest("section") ?? byId("network");
for (const type of ["dragenter", "dragover"]) {
  networkCard.addEventListener(type, (event) => {
    const drag = /** @type {DragEvent} */ (event);
    if (!drag.dataTransfer?.types.includes("Files")) return;
    event.preventDefault();
    networkCard.classList.add("dragging");
  });
}
networkCard.addEventListener("dragleave", (event) => {
  if (event.target === networkCard) networkCard.classList.remove("dragging");
});
networkCard.addEventListener("drop", (event) => {
  const file = /** @type {DragEvent} */ (event).dataTransfer?.files?.[0];
  networkCard.classList.remove("dragging");
  if (!file) return;
  event.preventDefault();
  cardImport.openWith(file);
});

// --- Start -------------------------------------------------------------------------------

renderInitialFeed();
renderStats();
window.setInterval(renderStats, 5_000);

const connection = byId("conn-status");
const graphMessage = byId("graph-message");
const stream = new EcosystemStream({
  wsPath: page.ws_path,
  since: page.last_seq,
  onEvent: applyEvent,
  onStatus: (state, detail) => renderConnection(connection, state, detail),
  onReset: () => window.location.reload(),
});

/** Handles for the curious and for the browser tests. */
const debug = { stream, network: /** @type {NetworkView | null} */ (null) };
Object.assign(window, { observatory: debug });

/**
 * The influence ranking from the graph service; null when there is none (503 without Neo4j).
 * @returns {Promise<Map<string, number> | null>}
 */
async function loadInfluence() {
  try {
    const answer = await apiGet(`${page.api_base}/ecosystem/${encodeURIComponent(page.ecosystem_id)}/influence`);
    const rows = Array.isArray(answer) ? answer : answer.results ?? answer.characters ?? answer.ranking ?? [];
    /** @type {Map<string, number>} */
    const scores = new Map();
    for (const row of rows) {
      const id = String(row.id ?? row.character_id ?? row.uid ?? "");
      const score = Number(row.score ?? row.influence ?? row.centrality ?? row.value);
      if (id && Number.isFinite(score)) scores.set(id, score);
    }
    return scores.size ? scores : null;
  } catch {
    return null;
  }
}

/**
 * Size by energy, or by influence when the graph service can rank the characters.
 * @param {NetworkView} view
 * @param {HTMLSelectElement} select
 */
async function changeSizeMode(view, select) {
  if (select.value !== "influence") {
    view.setSizeMode("energy");
    return;
  }
  const scores = await loadInfluence();
  if (!scores) {
    select.value = "energy";
    showMessage(graphMessage, "Influence needs the graph service (Neo4j), which is not configured here; sizes show energy.", { tone: "info" });
    return;
  }
  graphMessage.hidden = true;
  view.setInfluence(scores);
  view.setSizeMode("influence");
}

async function startNetwork() {
  const container = byId("network");
  try {
    const view = await NetworkView.create({
      container,
      cytoscapeUrl: page.vendor.cytoscape,
      characters: page.characters,
      relationships: page.relationships,
      onSelect: selectCharacter,
    });
    network = view;
    debug.network = view;
    container.dataset.ready = "true";
    byId("graph-fit").addEventListener("click", () => view.fit());
    byId("graph-relayout").addEventListener("click", () => view.relayout());
    const sizeSelect = byIdAs("graph-size", HTMLSelectElement);
    sizeSelect.addEventListener("change", () => void changeSizeMode(view, sizeSelect));
    window.addEventListener("resize", () => view.resize());
  } catch (error) {
    container.replaceChildren(
      el("p", { className: "alert alert-error", text: "The network could not be drawn: the graph library is missing. Run `make vendor` and reload." }),
    );
    console.error(error);
  }
}

// Draw the network first, so the first events already move it; then follow the stream.
void startNetwork().finally(() => stream.start());
