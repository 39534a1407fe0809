// hopla's JSON API, called with the page's session: the CSRF token from its cookie on every write.
// A session that has ended sends the person to the login page, and back here afterwards.

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export function toLogin() {
  const here = window.location.pathname + window.location.search;
  window.location.assign(`/login/?next=${encodeURIComponent(here)}`);
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `The server answered ${status}.`);
    this.status = status;
    this.code = body && body.code;
    this.body = body || {};
  }
}

export async function api(method, path, { json, form, ifMatch } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (ifMatch !== undefined) headers["If-Match"] = `"${ifMatch}"`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  const response = await fetch(`/api/v1/${path}`, { method, headers, body, credentials: "same-origin" });
  if (response.status === 401) {
    toLogin();
    throw new ApiError(401, { detail: "Your session has ended; log in again." });
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// A server-rendered fragment of the board (escaped by Django's templates), with its response.
// With `etag` (the ETag of the copy the page shows) it asks conditionally: a 304 means that copy is
// still current, and `content` is then empty.
export async function fragment(url, { etag } = {}) {
  const headers = { Accept: "text/html" };
  if (etag) headers["If-None-Match"] = etag;
  const response = await fetch(url, { credentials: "same-origin", headers });
  if (response.redirected && new URL(response.url).pathname === "/login/") {
    toLogin();
    throw new ApiError(401, { detail: "Your session has ended; log in again." });
  }
  // Read to its end whatever the status: a 304's empty body left unread counts as an aborted request.
  const text = await response.text();
  const html = response.status === 200 ? text : "";
  const template = document.createElement("template");
  template.innerHTML = html; // server HTML: every value in it was escaped by the template engine
  return { response, content: template.content };
}

// Why a write was refused, in a sentence for the person who tried it.
export function explain(error, subject) {
  if (!(error instanceof ApiError)) return `${subject}: the server could not be reached. Nothing was changed.`;
  switch (error.status) {
    case 409:
      return `${subject} was not moved: ${error.message}`;
    case 412:
      return `${subject} was changed by someone else meanwhile, so your change was not applied. The board shows its latest state; try again.`;
    case 403:
      return `${subject}: you are not allowed to do that (${error.message})`;
    case 404:
      return `${subject} no longer exists.`;
    case 400: {
      const errors = error.body.errors || {};
      const details = Object.entries(errors)
        .map(([field, list]) => `${field}: ${list.map((item) => item.message).join(" ")}`)
        .join("; ");
      return `${subject}: ${details || error.message}`;
    }
    default:
      return `${subject}: ${error.message}`;
  }
}
