// Calls the server's HTTP APIs with the token the user gave, asking for one when the server says 401.

const TOKEN_KEY = 'sightline.token';

/** An API answer that was not a success: the HTTP status and the server's own message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function token() {
  return localStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(value) {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
}

/** The headers every API call carries. */
export function authHeaders() {
  const t = token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

let pendingPrompt = null;

/** Shows the token dialog (once, however many calls are waiting) and resolves when a token was entered. */
export function askForToken(reason) {
  if (pendingPrompt) return pendingPrompt;
  const dialog = document.getElementById('token-dialog');
  const input = document.getElementById('token-input');
  document.getElementById('token-reason').textContent = reason;
  input.value = '';
  pendingPrompt = new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      pendingPrompt = null;
      if (input.value) setToken(input.value.trim());
      resolve(Boolean(input.value));
    }, { once: true });
  });
  dialog.showModal();
  input.focus();
  return pendingPrompt;
}

/** `path?params`: params is an object (arrays give repeated keys; null and undefined are left out) or URLSearchParams. */
export function url(path, params) {
  if (!params) return path;
  const search = params instanceof URLSearchParams ? params : new URLSearchParams();
  if (!(params instanceof URLSearchParams)) {
    for (const [key, value] of Object.entries(params)) {
      if (value === undefined || value === null || value === '') continue;
      for (const item of Array.isArray(value) ? value : [value]) search.append(key, String(item));
    }
  }
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

/** The message in an error answer, whichever API's shape it has. */
async function errorMessage(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    if (typeof body.error === 'string') return body.error;                       // Prometheus, audit
    if (body.error && body.error.reason) return body.error.reason;               // Elasticsearch
    if (Array.isArray(body.errors) && body.errors[0]?.msg) return body.errors[0].msg; // Jaeger
    if (typeof body.message === 'string') return body.message;                   // Alertmanager
  } catch {
    // plain text (Loki)
  }
  return text.trim() || `HTTP ${response.status} ${response.statusText}`;
}

/**
 * Calls the API and returns the parsed JSON (or the Response with `raw: true`).
 * Throws ApiError with the server's message for every answer but 2xx; a 401 first asks for a token and retries.
 */
export async function call(path, { params, method = 'GET', body, headers = {}, raw = false, signal } = {}) {
  for (let attempt = 0; ; attempt++) {
    let sent = body;
    const allHeaders = { ...authHeaders(), ...headers };
    if (body !== undefined && typeof body !== 'string' && !(body instanceof URLSearchParams)) {
      sent = JSON.stringify(body);
      allHeaders['Content-Type'] = 'application/json';
    }
    let response;
    try {
      response = await fetch(url(path, params), { method, body: sent, headers: allHeaders, signal });
    } catch (error) {
      if (error.name === 'AbortError') throw error;
      throw new ApiError(0, `the server did not answer (${error.message})`);
    }
    if (response.status === 401 && attempt < 3) {
      const message = await errorMessage(response);
      document.getElementById('token-button').hidden = false;
      if (await askForToken(`The server asks for a token: ${message}`)) continue;
      throw new ApiError(401, message);
    }
    if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
    if (raw) return response;
    if (response.status === 204) return null;
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }
}

/** Prometheus-style answers (`{status, data}`): the data. */
export async function promData(path, params, options = {}) {
  const body = await call(path, { params, ...options });
  if (body && body.status && body.status !== 'success') throw new ApiError(200, body.error || 'query failed');
  return body?.data;
}
