// Events in words a person reads ("Mira snapped at Tobias — trust 0.62 → 0.48").

import { fixed } from "./dom.js";

/** @typedef {import("./live.js").EventEnvelope} EventEnvelope */

/**
 * @typedef {object} Sentence
 * @property {string} kind the event type (a CSS hook)
 * @property {string} text the line itself
 * @property {string} [detail] a second, quieter line (what was said)
 * @property {string} [tone] "positive" | "negative" | "neutral"
 */

/** How each interaction type reads as a verb. */
export const VERBS = /** @type {Record<string, string>} */ ({
  greeting: "greeted",
  chat: "chatted with",
  conflict: "snapped at",
  collaboration: "collaborated with",
});

/**
 * @param {Record<string, any>} change {strength_delta, trust_delta, new_strength, new_trust}
 * @returns {string}
 */
function trustMove(change) {
  const after = Number(change.new_trust);
  const before = after - Number(change.trust_delta);
  return `trust ${fixed(before)} → ${fixed(after)}`;
}

/**
 * @param {number} delta
 * @returns {"positive" | "negative" | "neutral"}
 */
function toneOf(delta) {
  if (delta > 0.0005) return "positive";
  if (delta < -0.0005) return "negative";
  return "neutral";
}

/**
 * @param {string} text
 * @param {number} [max]
 * @returns {string}
 */
export function quote(text, max = 160) {
  const clean = String(text ?? "").trim();
  return `“${clean.length > max ? `${clean.slice(0, max - 1)}…` : clean}”`;
}

/**
 * A sentence for an event, or null for the events that only move the graph.
 * @param {EventEnvelope} event
 * @param {(id: string) => string} nameOf a character's name by id ("someone" if unknown)
 * @returns {Sentence | null}
 */
export function describeEvent(event, nameOf) {
  const data = event.data ?? {};
  const title = typeof data.title === "string" && data.title ? quote(data.title, 80) : "a scenario";
  switch (event.type) {
    case "character_interaction": {
      const [initiatorId, targetId] = Array.isArray(data.participants) ? data.participants : [];
      const names = /** @type {Record<string, string>} */ (data.names ?? {});
      const initiator = names[initiatorId] ?? nameOf(initiatorId);
      const target = names[targetId] ?? nameOf(targetId);
      const verb = VERBS[data.interaction_type] ?? "talked with";
      const change = data.relationship_change ?? {};
      // How the one spoken to now regards the speaker: the trust that this moment moved.
      const regard = change.reverse ?? change;
      const hasTrust = Number.isFinite(Number(regard.new_trust));
      return {
        kind: event.type,
        text: `${initiator} ${verb} ${target}${hasTrust ? ` — ${trustMove(regard)}` : ""}`,
        detail: `${quote(data.content)} — ${target}: ${quote(data.response)}`,
        tone: toneOf(Number(regard.trust_delta ?? 0) + Number(regard.strength_delta ?? 0)),
      };
    }
    case "relationship_changed": {
      const changes = Array.isArray(data.changes) ? data.changes : [];
      const parts = changes.map(
        (/** @type {Record<string, any>} */ c) =>
          `${c.from_name ?? nameOf(c.from)} now sees ${c.to_name ?? nameOf(c.to)} as ${c.label ?? "?"}`,
      );
      return parts.length ? { kind: event.type, text: parts.join("; ") } : null;
    }
    case "scenario_started":
      return { kind: event.type, text: `Scenario ${title} started` };
    case "scenario_paused":
      return { kind: event.type, text: `Scenario ${title} paused` };
    case "scenario_resumed":
      return { kind: event.type, text: `Scenario ${title} resumed` };
    case "scenario_ended": {
      const summary = data.summary ?? {};
      const turns = Number(summary.turns ?? summary.turn_count);
      return {
        kind: event.type,
        text: `Scenario ${title} ended${Number.isFinite(turns) ? ` after ${turns} turns` : ""}`,
      };
    }
    case "user_message": {
      const to = data.target_character_id ? nameOf(String(data.target_character_id)) : "everyone";
      return {
        kind: event.type,
        text: `You said to ${to}${data.title ? ` in ${title}` : ""}`,
        detail: quote(data.content),
      };
    }
    default:
      return null;
  }
}
