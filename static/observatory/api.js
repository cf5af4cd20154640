// fetch() helpers for the REST API with the session cookie. Unsafe methods carry Django's
// CSRF token (read from the csrftoken cookie) in X-CSRFToken.

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {Record<string, unknown>} body
   */
  constructor(status, body) {
    const detail = typeof body.detail === "string" ? body.detail : `Request failed (${status})`;
    super(detail);
    this.status = status;
    this.body = body;
  }

  /**
   * Field errors of a 400 answer: {field: "first message"}.
   * @returns {Record<string, string>}
   */
  fieldErrors() {
    /** @type {Record<string, string>} */
    const result = {};
    const errors = this.body.errors;
    if (errors && typeof errors === "object" && !Array.isArray(errors)) {
      for (const [field, messages] of Object.entries(errors)) {
        result[field] = Array.isArray(messages) ? String(messages[0]) : String(messages);
      }
    }
    return result;
  }
}

/**
 * @param {string} name
 * @returns {string}
 */
function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

/**
 * @param {string} method
 * @param {string} url
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
async function request(method, url, body) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    headers["X-CSRFToken"] = cookie("csrftoken");
  }
  const response = await fetch(url, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  /** @type {any} */
  let data = {};
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: `Unexpected answer from the server (${response.status}).` };
    }
  }
  if (!response.ok) {
    if (response.status === 401 || response.status === 403) {
      data.detail = data.detail ?? "You are signed out; reload the page to log in again.";
    }
    throw new ApiError(response.status, data && typeof data === "object" ? data : {});
  }
  return data;
}

/**
 * @param {string} url
 * @returns {Promise<any>}
 */
export function apiGet(url) {
  return request("GET", url);
}

/**
 * @param {string} url
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
export function apiPost(url, body = {}) {
  return request("POST", url, body);
}

/**
 * @param {string} url
 * @param {unknown} body
 * @returns {Promise<any>}
 */
export function apiPatch(url, body) {
  return request("PATCH", url, body);
}

/**
 * @param {string} url
 * @returns {Promise<any>}
 */
export function apiDelete(url) {
  return request("DELETE", url);
}

/**
 * What a long request is doing: sending its body (bytes so far of total), then waiting for
 * the server's answer (e.g. while it embeds an uploaded document).
 * @typedef {{phase: "sending", loaded: number, total: number} | {phase: "waiting"}} SendProgress
 */

/**
 * POST (or PATCH) a multipart form or a JSON body with XMLHttpRequest, which (unlike fetch)
 * reports the upload's progress. Errors reject with ApiError carrying the API's message.
 * @param {string} method
 * @param {string} url
 * @param {FormData | unknown} body a FormData is sent as multipart; anything else as JSON
 * @param {(progress: SendProgress) => void} [onProgress]
 * @returns {Promise<any>}
 */
export function apiSendWithProgress(method, url, body, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", cookie("csrftoken"));
    xhr.withCredentials = true;
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress?.({ phase: "sending", loaded: event.loaded, total: event.total });
    });
    xhr.upload.addEventListener("load", () => onProgress?.({ phase: "waiting" }));
    xhr.addEventListener("load", () => {
      /** @type {any} */
      let data = {};
      if (xhr.responseText) {
        try {
          data = JSON.parse(xhr.responseText);
        } catch {
          data = { detail: `Unexpected answer from the server (${xhr.status}).` };
        }
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(data);
        return;
      }
      if (!data || typeof data !== "object" || Array.isArray(data)) data = {};
      if (xhr.status === 401 || xhr.status === 403) {
        data.detail = data.detail ?? "You are signed out; reload the page to log in again.";
      }
      if (xhr.status === 413) data.detail = data.detail ?? "The file is too large.";
      reject(new ApiError(xhr.status, data));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, { detail: "The server could not be reached; try again." })));
    xhr.addEventListener("abort", () => reject(new ApiError(0, { detail: "The upload was cancelled." })));
    if (body instanceof FormData) {
      xhr.send(body);
    } else {
      xhr.setRequestHeader("Content-Type", "application/json");
      xhr.send(JSON.stringify(body));
    }
  });
}
