// The page state lives in the URL's fragment: `#/<page>/<rest…>?<params>`, so a link reproduces a view.

/** The current route: `{page, rest: [segments after the page], params: URLSearchParams}`. */
export function currentRoute() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, search = ''] = hash.split('?', 2);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || '', rest: parts.slice(1), params: new URLSearchParams(search) };
}

/** The fragment for a page, its extra path segments and params (an object or URLSearchParams; empty values left out). */
export function routeHash(page, params = {}, rest = []) {
  const search = new URLSearchParams();
  const entries = params instanceof URLSearchParams ? params.entries() : Object.entries(params);
  for (const [key, value] of entries) {
    if (value === undefined || value === null || value === '') continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(key, String(item));
  }
  const path = [page, ...rest].map(encodeURIComponent).join('/');
  const text = search.toString();
  return `#/${path}${text ? `?${text}` : ''}`;
}

let lastHash = null;

/** Whether the fragment differs from the one the UI last wrote or rendered (app.js remounts only then). */
export function hashChangedExternally() {
  return location.hash !== lastHash;
}

export function markRendered() {
  lastHash = location.hash;
}

/**
 * Records the page's state in the URL without re-rendering the page: a new history entry (so Back returns to the
 * previous query) unless `replace`.
 */
export function saveRoute(page, params, { rest = [], replace = false } = {}) {
  const hash = routeHash(page, params, rest);
  if (hash === location.hash) return;
  if (replace) history.replaceState(null, '', hash);
  else history.pushState(null, '', hash);
  lastHash = hash;
}
