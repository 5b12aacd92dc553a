// The API client: cookie auth with the CSRF header, one refresh on a 401 and a retry.

export const BASE = "/api/v1";

/** A problem+json answer (RFC 9457): status, title, detail and per-field errors. */
export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.errors = (problem && problem.errors) || {};
  }
}

/** The request never reached the service (offline, connection refused). */
export class NetworkError extends Error {}

export function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);
let refreshing = null;
let onSignedOut = () => {};

/** Called when a refresh fails: the login is over (expired, revoked, signed out elsewhere). */
export function setSignedOutHandler(fn) {
  onSignedOut = fn;
}

// A page being left (reload, navigation) never refreshes: its streams and requests are being cut,
// and its refresh would race the next page's with the same refresh cookie. The API answers a
// refresh token presented twice by ending the whole login (reuse detection).
let leaving = false;
addEventListener("pagehide", () => {
  leaving = true;
});
addEventListener("pageshow", () => {
  leaving = false;
});

/**
 * Exchange the refresh cookie for new tokens, once however many requests ask at the same time.
 * Tabs of the same origin take turns (Web Locks), so each sends the cookie the previous one got.
 */
export function refresh() {
  if (leaving) return Promise.resolve(false);
  if (!refreshing) {
    const exchange = () =>
      fetch(BASE + "/auth/refresh", {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-TOKEN": cookie("csrf_refresh_token") || "" },
      })
        .then((r) => r.ok)
        .catch(() => false);
    const turn = navigator.locks ? navigator.locks.request("todos-auth-refresh", exchange) : exchange();
    refreshing = turn.finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function send(method, path, { body, headers = {}, form } = {}) {
  const h = { Accept: "application/json", ...headers };
  if (WRITES.has(method)) h["X-CSRF-TOKEN"] = cookie("csrf_access_token") || "";
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    h["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  try {
    return await fetch(path.startsWith("/") && !path.startsWith(BASE) ? BASE + path : path, {
      method,
      headers: h,
      body: payload,
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (e) {
    throw new NetworkError(e.message || "offline");
  }
}

async function parse(response) {
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) return response.json();
  return response.text();
}

/**
 * Call the API: api("GET", "/lists"); api("POST", "/lists", {body}).
 * Answers the parsed body (with `.headers` on `full`), throws ApiError or NetworkError.
 */
export async function api(method, path, options = {}) {
  let response = await send(method, path, options);
  const isAuth = path.startsWith("/auth/login") || path.startsWith("/auth/register") || path.startsWith("/auth/refresh");
  if (response.status === 401 && !isAuth && !options.noRefresh) {
    if (await refresh()) response = await send(method, path, options);
    else {
      onSignedOut();
    }
  }
  const data = await parse(response);
  if (!response.ok) throw new ApiError(response.status, typeof data === "object" ? data : { detail: data });
  return options.full ? { data, headers: response.headers, status: response.status } : data;
}

/** A query string from an object; arrays repeat the key; empty values are left out. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) q.append(key, String(v));
  }
  const s = q.toString();
  return s ? "?" + s : "";
}

/** A random Idempotency-Key (UUID v4). */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Which optional capabilities this service has, read from its OpenAPI document. */
export async function detectFeatures() {
  const features = {};
  try {
    const spec = await api("GET", "/openapi.json");
    const paths = spec.paths || {};
    const has = (p) => Boolean(paths[BASE + p]);
    const schemas = (spec.components && spec.components.schemas) || {};
    const todo = schemas.Todo || schemas.TodoSchema || {};
    const user = schemas.User || schemas.UserSchema || {};
    Object.assign(features, {
      tokens: has("/auth/tokens"),
      changes: has("/changes"),
      events: has("/events"),
      exports: has("/exports"),
      imports: has("/imports"),
      passwordReset: has("/auth/password-reset"),
      verifyEmail: has("/auth/verify-email"),
      invitations: Object.keys(paths).some((p) => /^\/api\/v1\/lists\/\{[^}]+\}\/invitations$/.test(p)),
      emailChange: has("/users/me/email"),
      recurrence: Boolean(todo.properties && todo.properties.recurrence),
      timezone: Boolean(user.properties && user.properties.timezone),
    });
  } catch (e) {
    // Without the document every optional page still tries its endpoint and says when it is missing.
  }
  return features;
}
