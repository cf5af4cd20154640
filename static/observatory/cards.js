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

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const ZIP_SIGNATURE = [0x50, 0x4b, 0x03, 0x04];

/**
 * @param {Uint8Array} bytes
 * @param {number[]} signature
 */
function startsWith(bytes, signature) {
  return signature.every((byte, index) => bytes[index] === byte);
}

/**
 * The media type of an image the server keeps as an avatar (PNG, JPEG, GIF, WebP), from its
 * first bytes; null for anything else (docs/cards.md, "Avatar storage").
 * @param {Uint8Array} bytes
 * @returns {string | null}
 */
function imageType(bytes) {
  if (startsWith(bytes, PNG_SIGNATURE)) return "image/png";
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return "image/jpeg";
  if (startsWith(bytes, [0x47, 0x49, 0x46, 0x38])) return "image/gif";
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && String.fromCharCode(...bytes.slice(8, 12)) === "WEBP") return "image/webp";
  return null;
}

/**
 * @typedef {object} ZipMember
 * @property {number} method 0 stored, 8 deflated
 * @property {number} size compressed size
 * @property {number} offset of its local header
 */

/**
 * A zip's members from its central directory (no zip64, as CHARX files are small).
 * @param {DataView} view
 * @returns {Map<string, ZipMember>}
 */
function zipMembers(view) {
  let end = -1;
  for (let at = view.byteLength - 22; at >= Math.max(0, view.byteLength - 22 - 65_535); at -= 1) {
    if (view.getUint32(at, true) === 0x06054b50) {
      end = at;
      break;
    }
  }
  if (end < 0) throw new Error("not a zip");
  const count = view.getUint16(end + 10, true);
  let at = view.getUint32(end + 16, true);
  /** @type {Map<string, ZipMember>} */
  const members = new Map();
  const decoder = new TextDecoder();
  for (let index = 0; index < count && at + 46 <= view.byteLength; index += 1) {
    if (view.getUint32(at, true) !== 0x02014b50) break;
    const nameLength = view.getUint16(at + 28, true);
    const name = decoder.decode(new Uint8Array(view.buffer, view.byteOffset + at + 46, nameLength));
    members.set(name, { method: view.getUint16(at + 10, true), size: view.getUint32(at + 20, true), offset: view.getUint32(at + 42, true) });
    at += 46 + nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  return members;
}

/**
 * @param {DataView} view
 * @param {ZipMember} member
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
async function zipRead(view, member) {
  const start = member.offset + 30 + view.getUint16(member.offset + 26, true) + view.getUint16(member.offset + 28, true);
  const raw = new Uint8Array(view.buffer, view.byteOffset + start, member.size).slice();
  if (member.method === 0) return raw;
  if (member.method !== 8) throw new Error(`zip method ${member.method}`);
  const stream = new Blob([raw]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * The image a CHARX's avatar comes from, chosen as the server chooses it
 * (characters/cards/charx.py): the V3 ``assets`` icon named "main" first, by its
 * ``embeded://`` (sic) or ``embedded://`` path, else the first file under assets/icon/.
 * @param {File} file
 * @returns {Promise<Blob | null>}
 */
async function charxIcon(file) {
  const view = new DataView(await file.arrayBuffer());
  const members = zipMembers(view);
  const cardMember = members.get("card.json");
  /** @type {string[]} */
  const candidates = [];
  if (cardMember) {
    const card = JSON.parse(new TextDecoder().decode(await zipRead(view, cardMember)));
    const assets = card?.data?.assets ?? card?.assets;
    if (Array.isArray(assets)) {
      const icons = assets.filter((asset) => asset && typeof asset === "object" && asset.type === "icon");
      icons.sort((a, b) => Number(a.name !== "main") - Number(b.name !== "main"));
      for (const asset of icons) {
        const uri = typeof asset.uri === "string" ? asset.uri : "";
        for (const prefix of ["embeded://", "embedded://"]) {
          if (uri.startsWith(prefix)) candidates.push(uri.slice(prefix.length));
        }
      }
    }
  }
  candidates.push(...[...members.keys()].filter((name) => name.startsWith("assets/icon/")).sort());
  for (const name of candidates) {
    const member = members.get(name);
    if (!member) continue;
    const bytes = await zipRead(view, member);
    const type = imageType(bytes.slice(0, 12));
    return type ? new Blob([bytes], { type }) : null;
  }
  return null;
}

/**
 * The card's image, to show before the import: a PNG card is its own image; a CHARX holds
 * it as a member. Shown as a data: URL (the only images from outside the site the policy
 * allows). Null when there is none to show.
 * @param {File} file
 * @returns {Promise<Blob | null>}
 */
async function cardImage(file) {
  const head = new Uint8Array(await file.slice(0, 12).arrayBuffer());
  if (startsWith(head, PNG_SIGNATURE)) return file;
  if (startsWith(head, ZIP_SIGNATURE)) {
    try {
      return await charxIcon(file);
    } catch {
      return null; // the server read it; the preview just goes without the picture
    }
  }
  return null;
}

/**
 * @param {Blob} file
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
  const avatarSlot = byId("card-avatar-slot");
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
    avatarSlot.replaceChildren(); // the <img> exists only while there is an image to show
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
    avatarSlot.replaceChildren();
    const image = card.has_avatar && file ? await cardImage(file) : null;
    if (image) {
      const avatar = el("img", { className: "avatar avatar-preview", attrs: { id: "card-avatar", width: "96", height: "96" } });
      avatar.alt = `${card.name}'s avatar`;
      avatar.src = await dataUrl(image);
      avatarSlot.replaceChildren(avatar);
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
