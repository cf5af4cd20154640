// "Import card" on the observatory page (docs/cards.md, docs/observatory.md): pick or drop a
// Character Card (JSON, PNG or CHARX), see what the import API makes of it (?preview=1:
// name, greeting, Big Five with the words that scored them, the avatar), adjust the Big
// Five, then import it for real. Card text may hold HTML: it only ever becomes text nodes.

import { apiSendWithProgress } from "./api.js";
import { byId, byIdAs, el, fixed, showMessage } from "./dom.js";

const TRAITS = /** @type {const} */ (["openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"]);

/**
 * What ?preview=1 answers (docs/cards.md, "Import").
 * @typedef {object} CardPreview
 * @property {string} spec
 * @property {string} container
 * @property {string} name
 * @property {string} bio
 * @property {string[]} greetings
 * @property {string[]} tags
 * @property {string} creator
 * @property {string} character_version
 * @property {Record<string, number>} big_five
 * @property {"lexicon" | "extensions"} big_five_source
 * @property {Record<string, string[]>} big_five_evidence
 * @property {boolean} has_avatar
 * @property {unknown[]} lore_entries
 */

/**
 * The created character (the character API's fields).
 * @typedef {object} ImportedCharacter
 * @property {string} id
 * @property {string} name
 * @property {string} bio
 * @property {number} openness
 * @property {number} conscientiousness
 * @property {number} extraversion
 * @property {number} agreeableness
 * @property {number} neuroticism
 * @property {number} pleasure
 * @property {number} arousal
 * @property {number} dominance
 * @property {string} emotion
 * @property {number} energy
 * @property {string} status
 */

/**
 * @typedef {object} CardImportOptions
 * @property {string} importUrl POST /api/v1/ecosystem/{id}/characters/import
 * @property {(character: ImportedCharacter, hasAvatar: boolean) => void} onImported
 */

/**
 * @param {number} bytes
 * @returns {string}
 */
function size(bytes) {
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * Whether the file is a PNG (its own bytes, not its name): its image is the avatar and can
 * be shown before the import as a data: URL (the only non-site images the policy allows).
 * @param {File} file
 * @returns {Promise<boolean>}
 */
async function isPng(file) {
  const head = new Uint8Array(await file.slice(0, 8).arrayBuffer());
  return [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((byte, index) => head[index] === byte);
}

/**
 * @param {File} file
 * @returns {Promise<string>}
 */
function dataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.addEventListener("load", () => resolve(String(reader.result)));
    reader.addEventListener("error", () => reject(reader.error));
    reader.readAsDataURL(file);
  });
}

/**
 * Wire the dialog in observatory.html. Returns a function that opens it with a file (for a
 * card dropped anywhere on the network).
 * @param {CardImportOptions} options
 * @returns {{openWith: (file: File) => void}}
 */
export function setupCardImport(options) {
  const dialog = byIdAs("card-dialog", HTMLDialogElement);
  const fileInput = byIdAs("card-file", HTMLInputElement);
  const dropZone = byId("card-drop");
  const fileName = byId("card-file-name");
  const errorBox = byId("card-error");
  const preview = byId("card-preview");
  const avatar = byIdAs("card-avatar", HTMLImageElement);
  const progress = byId("card-progress");
  const progressBar = byIdAs("card-progress-bar", HTMLProgressElement);
  const progressText = byId("card-progress-text");
  const importButton = byIdAs("card-import", HTMLButtonElement);

  /** @type {File | null} */
  let file = null;
  /** @type {CardPreview | null} */
  let parsed = null;
  let generation = 0; // a newer file wins over a preview still on its way

  /** @param {import("./api.js").SendProgress} state */
  function showProgress(state) {
    progress.hidden = false;
    if (state.phase === "sending") {
      const percent = state.total ? Math.round((state.loaded / state.total) * 100) : 0;
      progressBar.value = percent;
      progressText.textContent = `Uploading… ${percent}%`;
    } else {
      progressBar.removeAttribute("value");
      progressText.textContent = "Reading the card…";
    }
  }

  function hideProgress() {
    progress.hidden = true;
    progressBar.value = 0;
  }

  function reset() {
    generation += 1;
    file = null;
    parsed = null;
    fileInput.value = "";
    fileName.textContent = "";
    errorBox.hidden = true;
    preview.hidden = true;
    avatar.hidden = true;
    avatar.removeAttribute("src");
    importButton.disabled = true;
    hideProgress();
  }

  /**
   * @param {string} trait
   * @param {number} value
   * @param {string[]} evidence
   */
  function setTrait(trait, value, evidence) {
    const slider = byIdAs(`card-trait-${trait}`, HTMLInputElement);
    slider.value = String(value);
    slider.dataset.adjusted = "";
    byId(`card-trait-${trait}-value`).textContent = fixed(value);
    byId(`card-trait-${trait}-evidence`).replaceChildren(
      ...(evidence.length
        ? evidence.map((marker) => el("span", { className: `evidence ${marker.startsWith("-") ? "evidence-low" : "evidence-high"}`, text: marker }))
        : [el("span", { className: "muted", text: parsed?.big_five_source === "extensions" ? "from the card's own numbers" : "not mentioned" })]),
    );
  }

  /** @param {CardPreview} card */
  async function renderPreview(card) {
    byId("card-name").textContent = card.name;
    const meta = [
      card.spec.replace("chara_card_", "").toUpperCase(),
      card.container.toUpperCase(),
      card.creator ? `by ${card.creator}` : "",
      card.character_version ? `version ${card.character_version}` : "",
    ].filter(Boolean);
    byId("card-meta").textContent = meta.join(" · ");
    const greeting = card.greetings[0] ?? "";
    byId("card-greeting").textContent = greeting;
    byId("card-greeting").hidden = !greeting;
    byId("card-greeting-more").textContent =
      card.greetings.length > 1 ? `and ${card.greetings.length - 1} other greeting${card.greetings.length > 2 ? "s" : ""}` : "";
    byId("card-bio").textContent = card.bio;
    byId("card-tags").replaceChildren(...(card.tags ?? []).map((tag) => el("span", { className: "key-chip", text: String(tag) })));
    byId("card-source").textContent =
      card.big_five_source === "extensions"
        ? "The card carries its own Big Five; adjust them if you like."
        : "Scored from the card's personality and description (the words below); adjust them before saving.";
    const entries = card.lore_entries?.length ?? 0;
    byId("card-lore").textContent = entries ? `Lorebook: ${entries} ${entries === 1 ? "entry" : "entries"}.` : "";
    for (const trait of TRAITS) setTrait(trait, Number(card.big_five[trait] ?? 0.5), card.big_five_evidence?.[trait] ?? []);
    byId("card-avatar-note").textContent = card.has_avatar ? "" : "No image: the character will have no avatar.";
    avatar.hidden = true;
    if (card.has_avatar && file && (await isPng(file))) {
      avatar.src = await dataUrl(file);
      avatar.alt = `${card.name}'s avatar`;
      avatar.hidden = false;
    } else if (card.has_avatar) {
      byId("card-avatar-note").textContent = "The card's image becomes the avatar.";
    }
    preview.hidden = false;
  }

  /** @param {File} chosen */
  async function choose(chosen) {
    reset();
    const mine = generation;
    file = chosen;
    fileName.textContent = `${chosen.name} · ${size(chosen.size)}`;
    const body = new FormData();
    body.append("file", chosen, chosen.name);
    try {
      const card = /** @type {CardPreview} */ (await apiSendWithProgress("POST", `${options.importUrl}?preview=1`, body, showProgress));
      if (mine !== generation) return;
      parsed = card;
      await renderPreview(card);
      importButton.disabled = false;
      dialog.dataset.state = "preview";
    } catch (error) {
      if (mine !== generation) return;
      showMessage(errorBox, error instanceof Error ? error.message : String(error), { tone: "error" });
      dialog.dataset.state = "error";
    } finally {
      if (mine === generation) hideProgress();
    }
  }

  async function importCard() {
    if (!file || !parsed) return;
    const body = new FormData();
    body.append("file", file, file.name);
    // Only the numbers the author moved: the others stay exactly as the card gives them.
    for (const trait of TRAITS) {
      const slider = byIdAs(`card-trait-${trait}`, HTMLInputElement);
      if (slider.dataset.adjusted) body.append(trait, slider.value);
    }
    importButton.disabled = true;
    errorBox.hidden = true;
    try {
      const character = /** @type {ImportedCharacter} */ (await apiSendWithProgress("POST", options.importUrl, body, showProgress));
      const hasAvatar = parsed.has_avatar;
      dialog.close();
      reset();
      options.onImported(character, hasAvatar);
    } catch (error) {
      showMessage(errorBox, error instanceof Error ? error.message : String(error), { tone: "error" });
      importButton.disabled = false;
    } finally {
      hideProgress();
    }
  }

  for (const trait of TRAITS) {
    const slider = byIdAs(`card-trait-${trait}`, HTMLInputElement);
    slider.addEventListener("input", () => {
      slider.dataset.adjusted = "1";
      byId(`card-trait-${trait}-value`).textContent = fixed(Number(slider.value));
    });
  }
  fileInput.addEventListener("change", () => {
    const chosen = fileInput.files?.[0];
    if (chosen) void choose(chosen);
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
    const chosen = /** @type {DragEvent} */ (event).dataTransfer?.files?.[0];
    if (chosen) void choose(chosen);
  });
  byId("card-import-open").addEventListener("click", () => {
    reset();
    dialog.showModal();
  });
  byId("card-cancel").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => reset());
  importButton.addEventListener("click", () => void importCard());

  return {
    openWith(chosen) {
      if (!dialog.open) dialog.showModal();
      void choose(chosen);
    },
  };
}
