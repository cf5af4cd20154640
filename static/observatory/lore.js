// The Lore page: an ecosystem's documents and keyed entries, listed, uploaded (with the
// upload's progress, then "embedding…" until the server answers), edited, deleted and
// searched, all through the lore API (docs/api.md, "Lore") with the page's session.
// Documents may hold HTML: every text here becomes a text node (dom.js), never markup.

import { ApiError, apiDelete, apiGet, apiSendWithProgress } from "./api.js";
import { byId, byIdAs, el, fixed, readJsonScript, showMessage } from "./dom.js";

/**
 * @typedef {object} LorePageData
 * @property {string} ecosystem_id
 * @property {string} api_base
 * @property {{placeholder: string, documents: string, search: string}} urls
 * @property {{id: string, name: string}[]} characters
 * @property {number} max_document_bytes
 * @property {number} max_json_bytes
 */

/**
 * A document as the API lists it (the list leaves out `content`).
 * @typedef {object} LoreDocument
 * @property {number} id
 * @property {string} title
 * @property {string} kind "text" | "markdown" | "pdf"
 * @property {string} [content]
 * @property {string[]} characters
 * @property {string[]} keys
 * @property {string[]} secondary_keys
 * @property {boolean} constant
 * @property {number} order
 * @property {boolean} enabled
 * @property {string} source_name
 * @property {number} chunk_count
 * @property {string} created
 * @property {string} updated
 */

/**
 * @typedef {object} SearchHit
 * @property {string} text
 * @property {number} score
 * @property {number} document_id
 * @property {string} document_title
 * @property {number} position
 * @property {string[]} keys
 */

const page = /** @type {LorePageData} */ (readJsonScript("lore-data"));
const characterNames = new Map(page.characters.map((c) => [c.id, c.name]));
const KIND_NAMES = /** @type {Record<string, string>} */ ({ text: "Plain text", markdown: "Markdown", pdf: "PDF" });

/** @param {string} pattern */
function ecosystemUrl(pattern) {
  return pattern.replace(page.urls.placeholder, encodeURIComponent(page.ecosystem_id));
}

const documentsUrl = ecosystemUrl(page.urls.documents);
const searchUrl = ecosystemUrl(page.urls.search);

/** @param {number} id */
function documentUrl(id) {
  return `${documentsUrl}/${encodeURIComponent(String(id))}`;
}

/**
 * "lighthouse, Gull Point" → ["lighthouse", "Gull Point"]
 * @param {string} text
 * @returns {string[]}
 */
function splitKeys(text) {
  return text
    .split(",")
    .map((key) => key.trim())
    .filter(Boolean);
}

/**
 * @param {unknown} error
 * @returns {string}
 */
function messageOf(error) {
  return error instanceof Error ? error.message : String(error);
}

/**
 * @param {number} bytes
 * @returns {string}
 */
function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * @param {string} iso
 * @returns {string}
 */
function when(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString([], { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });
}

// --- The list ------------------------------------------------------------------------------

const tbody = byId("documents");
const documentsMessage = byId("documents-message");
/** @type {Map<number, LoreDocument>} */
const documents = new Map();

/**
 * @param {string[]} keys
 * @param {string} [className]
 */
function keyChips(keys, className = "key-chip") {
  return el("span", { className: "key-chips" }, ...keys.map((key) => el("span", { className, text: key })));
}

/** @param {LoreDocument} doc */
function documentRow(doc) {
  const edit = el("button", { className: "btn btn-ghost btn-small", attrs: { type: "button" }, dataset: { action: "edit", documentId: String(doc.id) }, text: "Edit" });
  const remove = el("button", { className: "btn btn-ghost btn-small btn-danger-text", attrs: { type: "button" }, dataset: { action: "delete", documentId: String(doc.id) }, text: "Delete" });
  edit.setAttribute("aria-label", `Edit ${doc.title}`);
  remove.setAttribute("aria-label", `Delete ${doc.title}`);
  const flags = [doc.constant ? "constant" : "", doc.enabled ? "" : "disabled"].filter(Boolean);
  const keyCell = el(
    "td",
    { className: "doc-keys" },
    doc.keys.length ? keyChips(doc.keys) : el("span", { className: "muted", text: "—" }),
    doc.secondary_keys.length ? el("span", { className: "muted small secondary-keys" }, "and one of ", keyChips(doc.secondary_keys, "key-chip key-chip-secondary")) : null,
    flags.length ? el("span", { className: "muted small doc-flags", text: `${flags.join(" · ")} · order ${doc.order}` }) : null,
  );
  const names = doc.characters.map((id) => characterNames.get(id) ?? "a character");
  return el(
    "tr",
    { dataset: { documentId: String(doc.id) } },
    el("th", { attrs: { scope: "row" } }, el("span", { className: "doc-title", text: doc.title }), doc.source_name ? el("span", { className: "muted small doc-source", text: doc.source_name }) : null),
    el("td", { className: "doc-kind", text: KIND_NAMES[doc.kind] ?? doc.kind }),
    keyCell,
    el("td", { className: "doc-character", text: names.length ? names.join(", ") : "Everyone" }),
    el("td", { className: "num doc-chunks", text: String(doc.chunk_count) }),
    el("td", { className: "small" }, el("time", { attrs: { datetime: doc.updated }, text: when(doc.updated) })),
    el("td", { className: "doc-actions" }, edit, remove),
  );
}

function renderDocuments() {
  const rows = [...documents.values()].sort((a, b) => a.order - b.order || a.title.localeCompare(b.title) || a.id - b.id);
  tbody.replaceChildren(...rows.map(documentRow));
  byId("documents-empty").hidden = rows.length > 0;
  byId("document-count").textContent = rows.length ? `(${rows.length})` : "";
}

async function loadDocuments() {
  const loading = byId("documents-loading");
  loading.hidden = false;
  try {
    const answer = await apiGet(documentsUrl);
    documents.clear();
    for (const doc of /** @type {LoreDocument[]} */ (answer.results ?? [])) documents.set(doc.id, doc);
    renderDocuments();
    documentsMessage.hidden = true;
  } catch (error) {
    showMessage(documentsMessage, `The documents could not be loaded: ${messageOf(error)}`, { tone: "error" });
  } finally {
    loading.hidden = true;
    byId("documents-table").dataset.loaded = "true";
  }
}

tbody.addEventListener("click", async (event) => {
  const button = /** @type {HTMLElement} */ (event.target).closest("button[data-action]");
  if (!(button instanceof HTMLButtonElement)) return;
  const id = Number(button.dataset.documentId);
  const doc = documents.get(id);
  if (!doc) return;
  if (button.dataset.action === "edit") {
    await startEditing(doc);
    return;
  }
  if (!window.confirm(`Delete “${doc.title}” and its ${doc.chunk_count} chunks?`)) return;
  button.disabled = true;
  try {
    await apiDelete(documentUrl(id));
    documents.delete(id);
    renderDocuments();
    if (editing?.id === id) stopEditing();
    showMessage(documentsMessage, `Deleted “${doc.title}”.`, { tone: "success" });
  } catch (error) {
    showMessage(documentsMessage, messageOf(error), { tone: "error" });
    button.disabled = false;
  }
});

byId("documents-reload").addEventListener("click", () => void loadDocuments());

// --- Adding and editing ----------------------------------------------------------------------

const form = byIdAs("lore-form", HTMLFormElement);
const formError = byId("lore-form-error");
const fileInput = byIdAs("lore-file", HTMLInputElement);
const fileName = byId("lore-file-name");
const dropZone = byId("lore-drop");
const titleInput = byIdAs("lore-title", HTMLInputElement);
const contentInput = byIdAs("lore-content", HTMLTextAreaElement);
const kindSelect = byIdAs("lore-kind", HTMLSelectElement);
const keysInput = byIdAs("lore-keys", HTMLInputElement);
const secondaryInput = byIdAs("lore-secondary-keys", HTMLInputElement);
const orderInput = byIdAs("lore-order", HTMLInputElement);
const characterSelect = byIdAs("lore-character", HTMLSelectElement);
const constantInput = byIdAs("lore-constant", HTMLInputElement);
const enabledInput = byIdAs("lore-enabled", HTMLInputElement);
const submitButton = byIdAs("lore-submit", HTMLButtonElement);
const cancelButton = byIdAs("lore-form-cancel", HTMLButtonElement);
const progress = byId("lore-progress");
const progressBar = byIdAs("lore-progress-bar", HTMLProgressElement);
const progressText = byId("lore-progress-text");

/** The document being edited, with the content it had when loaded (null: adding). */
/** @type {LoreDocument | null} */
let editing = null;
/** The character picker's value when editing began: unchanged, the document's ties stay. */
let editingCharacter = "";
/** @type {File | null} */
let droppedFile = null;

/** @returns {"file" | "text"} */
function source() {
  const checked = form.querySelector("input[name=source]:checked");
  return checked instanceof HTMLInputElement && checked.value === "text" ? "text" : "file";
}

/** @param {"file" | "text"} value */
function setSource(value) {
  for (const radio of form.querySelectorAll("input[name=source]")) {
    if (radio instanceof HTMLInputElement) radio.checked = radio.value === value;
  }
  byId("lore-file-part").hidden = value !== "file";
  byId("lore-text-part").hidden = value !== "text";
}

form.addEventListener("change", (event) => {
  const target = event.target;
  if (target instanceof HTMLInputElement && target.name === "source") setSource(source());
});

/** @returns {File | null} */
function chosenFile() {
  return droppedFile ?? fileInput.files?.[0] ?? null;
}

function showChosenFile() {
  const file = chosenFile();
  fileName.textContent = file ? `${file.name} · ${size(file.size)}` : "";
  dropZone.classList.toggle("has-file", Boolean(file));
}

fileInput.addEventListener("change", () => {
  droppedFile = null;
  showChosenFile();
});

for (const type of ["dragenter", "dragover"]) {
  dropZone.addEventListener(type, (event) => {
    event.preventDefault();
    dropZone.classList.add("dragging");
  });
}
dropZone.addEventListener("dragleave", () => dropZone.classList.remove("dragging"));
dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  dropZone.classList.remove("dragging");
  const file = /** @type {DragEvent} */ (event).dataTransfer?.files?.[0];
  if (!file) return;
  droppedFile = file;
  fileInput.value = "";
  showChosenFile();
});

function clearErrors() {
  formError.hidden = true;
  for (const node of form.querySelectorAll(".field-error")) node.remove();
  for (const node of form.querySelectorAll(".has-error")) node.classList.remove("has-error");
}

/**
 * An API error beside its field, or at the top of the form.
 * @param {unknown} error
 */
function showError(error) {
  showMessage(formError, messageOf(error), { tone: "error" });
  if (!(error instanceof ApiError) || error.status !== 400) return;
  for (const [field, message] of Object.entries(error.fieldErrors())) {
    const wrapper = form.querySelector(`[data-field="${CSS.escape(field)}"]`);
    if (!wrapper) continue;
    wrapper.classList.add("has-error");
    wrapper.append(el("small", { className: "field-error", text: message }));
  }
}

/** @param {import("./api.js").SendProgress} state */
function showProgress(state) {
  progress.hidden = false;
  if (state.phase === "sending") {
    const percent = state.total ? Math.round((state.loaded / state.total) * 100) : 0;
    progressBar.value = percent;
    progressText.textContent = `Uploading… ${percent}% of ${size(state.total)}`;
  } else {
    progressBar.removeAttribute("value"); // indeterminate: the server reads and embeds it
    progressText.textContent = "Embedding…";
  }
  progress.dataset.phase = state.phase;
}

function hideProgress() {
  progress.hidden = true;
  progress.dataset.phase = "";
  progressBar.value = 0;
}

/** The keyed-entry fields as the JSON API takes them. */
function entryFields() {
  const character = characterSelect.value;
  return {
    keys: splitKeys(keysInput.value),
    secondary_keys: splitKeys(secondaryInput.value),
    constant: constantInput.checked,
    order: Number.parseInt(orderInput.value || "100", 10),
    enabled: enabledInput.checked,
    characters: character ? [character] : [],
  };
}

/**
 * @param {File | null} file
 * @param {string} title
 * @returns {Promise<LoreDocument>}
 */
async function addFromFile(file, title) {
  if (!file) throw new ApiError(400, { detail: "Choose a file to upload, or paste text instead." });
  const fields = entryFields();
  const body = new FormData();
  body.append("file", file, file.name);
  body.append("title", title);
  body.append("keys", fields.keys.join(","));
  body.append("constant", fields.constant ? "true" : "false");
  body.append("order", String(fields.order));
  /** @type {LoreDocument} */
  let doc = await apiSendWithProgress("POST", documentsUrl, body, showProgress);
  // The upload takes a file and its keys; what else the form says is set on the new
  // document in a second step (secondary keys, the character, a disabled entry).
  if (fields.secondary_keys.length || fields.characters.length || !fields.enabled) {
    progressText.textContent = "Saving the entry's settings…";
    doc = await apiSendWithProgress("PATCH", documentUrl(doc.id), {
      secondary_keys: fields.secondary_keys,
      characters: fields.characters,
      enabled: fields.enabled,
    });
  }
  return doc;
}

/**
 * Pasted text goes as JSON; text longer than a JSON body may be (DATA_UPLOAD_MAX_MEMORY_SIZE,
 * 256 KiB by default) goes up as a file instead, which the documents' own limit bounds.
 * @returns {Promise<LoreDocument>}
 */
function addFromText() {
  const title = titleInput.value.trim() || "Untitled";
  const text = new Blob([contentInput.value]);
  if (text.size > page.max_json_bytes - 16 * 1024) {
    const extension = kindSelect.value === "markdown" ? "md" : "txt";
    const file = new File([text], `pasted.${extension}`, { type: extension === "md" ? "text/markdown" : "text/plain" });
    return addFromFile(file, title);
  }
  return apiSendWithProgress("POST", documentsUrl, { title, content: contentInput.value, kind: kindSelect.value, ...entryFields() }, showProgress);
}

/**
 * Only what changed is sent: a new content re-embeds the document.
 * @param {LoreDocument} doc
 * @returns {Promise<LoreDocument>}
 */
function saveEdit(doc) {
  /** @type {Record<string, unknown>} */
  const changes = { title: titleInput.value.trim() || doc.title, ...entryFields() };
  if (characterSelect.value === editingCharacter) delete changes.characters;
  if (contentInput.value !== doc.content) changes.content = contentInput.value;
  if (doc.kind !== "pdf" && kindSelect.value !== doc.kind) changes.kind = kindSelect.value;
  return apiSendWithProgress("PATCH", documentUrl(doc.id), changes, showProgress);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  submitButton.disabled = true;
  const wasEditing = editing;
  try {
    const doc = wasEditing ? await saveEdit(wasEditing) : source() === "file" ? await addFromFile(chosenFile(), titleInput.value.trim()) : await addFromText();
    documents.set(doc.id, doc);
    renderDocuments();
    const verb = wasEditing ? "Saved" : "Added";
    showMessage(documentsMessage, `${verb} “${doc.title}”: ${doc.chunk_count} ${doc.chunk_count === 1 ? "chunk" : "chunks"}.`, { tone: "success" });
    resetForm();
  } catch (error) {
    showError(error);
  } finally {
    hideProgress();
    submitButton.disabled = false;
  }
});

function resetForm() {
  editing = null;
  droppedFile = null;
  form.reset();
  showChosenFile();
  setSource("file");
  byId("lore-source").hidden = false;
  byId("lore-form-title").textContent = "Add lore";
  submitButton.textContent = "Add";
  cancelButton.hidden = true;
  kindSelect.disabled = false;
}

function stopEditing() {
  clearErrors();
  resetForm();
}

/** @param {LoreDocument} listed */
async function startEditing(listed) {
  clearErrors();
  /** @type {LoreDocument} */
  let doc;
  try {
    doc = await apiGet(documentUrl(listed.id)); // the list leaves out the content
  } catch (error) {
    showMessage(documentsMessage, messageOf(error), { tone: "error" });
    return;
  }
  editing = doc;
  setSource("text");
  byId("lore-source").hidden = true;
  titleInput.value = doc.title;
  contentInput.value = doc.content ?? "";
  kindSelect.value = doc.kind === "markdown" ? "markdown" : "text";
  kindSelect.disabled = doc.kind === "pdf";
  keysInput.value = doc.keys.join(", ");
  secondaryInput.value = doc.secondary_keys.join(", ");
  orderInput.value = String(doc.order);
  constantInput.checked = doc.constant;
  enabledInput.checked = doc.enabled;
  characterSelect.value = doc.characters.length === 1 && characterNames.has(doc.characters[0]) ? doc.characters[0] : "";
  editingCharacter = characterSelect.value;
  byId("lore-form-title").textContent = `Edit “${doc.title}”`;
  submitButton.textContent = "Save";
  cancelButton.hidden = false;
  titleInput.focus();
}

cancelButton.addEventListener("click", stopEditing);

// --- Search ------------------------------------------------------------------------------------

const searchForm = byIdAs("lore-search", HTMLFormElement);
const searchError = byId("lore-search-error");
const results = byId("search-results");
const summary = byId("search-summary");

/** @param {SearchHit} hit */
function hitItem(hit) {
  return el(
    "li",
    { className: "search-hit", dataset: { documentId: String(hit.document_id), position: String(hit.position) } },
    el(
      "div",
      { className: "search-hit-head" },
      el("span", { className: "search-hit-title", text: hit.document_title }),
      el("span", { className: "muted small search-hit-position", text: `chunk ${hit.position + 1}` }),
      el("span", { className: "score", attrs: { title: "Similarity to the question (1: a keyed entry whose key matched)" }, text: `score ${fixed(hit.score, 3)}` }),
      hit.keys.length ? keyChips(hit.keys) : null,
    ),
    el("p", { className: "search-hit-text", text: hit.text }),
  );
}

searchForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  searchError.hidden = true;
  const data = new FormData(searchForm);
  const params = new URLSearchParams({ q: String(data.get("q") ?? "").trim(), k: String(data.get("k") ?? "10") });
  const character = String(data.get("character") ?? "");
  if (character) params.set("character", character);
  summary.textContent = "Searching…";
  try {
    const answer = await apiGet(`${searchUrl}?${params}`);
    const hits = /** @type {SearchHit[]} */ (answer.results ?? []);
    results.replaceChildren(...hits.map(hitItem));
    summary.textContent = hits.length ? `${hits.length} ${hits.length === 1 ? "chunk" : "chunks"}, best first.` : "Nothing found.";
  } catch (error) {
    summary.textContent = "";
    results.replaceChildren();
    showMessage(searchError, messageOf(error), { tone: "error" });
  }
});

// --- Start -------------------------------------------------------------------------------------

setSource("file");
void loadDocuments();
