// Small DOM helpers. User text only ever becomes a text node (textContent /
// createTextNode): these helpers have no way to parse HTML.

/**
 * @typedef {Node | string | number | null | undefined | false} Child
 */

/**
 * @typedef {object} ElementOptions
 * @property {string} [className]
 * @property {string} [text] set as textContent
 * @property {Record<string, string>} [attrs] plain attributes (never event handlers)
 * @property {Record<string, string>} [dataset]
 */

/**
 * Create an element whose children are nodes or text.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {ElementOptions} [options]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, options = {}, ...children) {
  const node = document.createElement(tag);
  if (options.className) node.className = options.className;
  if (options.text !== undefined) node.textContent = options.text;
  for (const [name, value] of Object.entries(options.attrs ?? {})) {
    if (name.toLowerCase().startsWith("on")) continue; // never an inline handler
    node.setAttribute(name, value);
  }
  for (const [name, value] of Object.entries(options.dataset ?? {})) {
    node.dataset[name] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/**
 * The element with this id; throws if the page lacks it (a template bug, not a user error).
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from the page`);
  return node;
}

/**
 * An element of a given class with this id (e.g. a form or a select).
 * @template {Element} T
 * @param {string} id
 * @param {new (...args: any[]) => T} type
 * @returns {T}
 */
export function byIdAs(id, type) {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new Error(`#${id} is missing or not a ${type.name}`);
  return node;
}

/**
 * Parse the JSON a template embedded with Django's json_script filter.
 * @param {string} id
 * @returns {unknown}
 */
export function readJsonScript(id) {
  return JSON.parse(byId(id).textContent ?? "null");
}

/**
 * @param {number} value
 * @param {number} [digits]
 * @returns {string}
 */
export function fixed(value, digits = 2) {
  if (!Number.isFinite(value)) return "–";
  const text = value.toFixed(digits);
  return Number(text) === 0 ? (0).toFixed(digits) : text; // never "-0.00"
}

/**
 * A signed number with a real minus sign: "+0.05", "−0.12".
 * @param {number} value
 * @param {number} [digits]
 * @returns {string}
 */
export function signed(value, digits = 2) {
  if (!Number.isFinite(value)) return "–";
  const text = Math.abs(value).toFixed(digits);
  if (Number(text) === 0) return `±${text}`;
  return value > 0 ? `+${text}` : `−${text}`;
}

/**
 * "14:03:22" in the reader's time zone.
 * @param {string} iso
 * @returns {string}
 */
export function clockTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

/**
 * Clamp to 0..1.
 * @param {number} value
 * @returns {number}
 */
export function unit(value) {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}

/**
 * Show a short status message in an element (text only), optionally with one link.
 * @param {HTMLElement} box
 * @param {string} text
 * @param {{tone?: "info" | "error" | "success", link?: {href: string, text: string}}} [options]
 */
export function showMessage(box, text, options = {}) {
  box.replaceChildren(text);
  if (options.link) {
    box.append(" ", el("a", { attrs: { href: options.link.href }, text: options.link.text }));
  }
  box.className = `alert alert-${options.tone ?? "info"}`;
  box.hidden = false;
}

/**
 * The emotion labels the server knows get a colour class; anything else is "neutral".
 * @param {string | undefined} label
 * @returns {string}
 */
export function emotionClass(label) {
  const safe = /^[a-z]+$/.test(label ?? "") ? label : "neutral";
  return `emo-bg-${safe}`;
}
