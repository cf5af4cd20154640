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
