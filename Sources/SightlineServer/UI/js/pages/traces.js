// The Traces page: search traces over the Jaeger query API, open one as a waterfall (span tree, timing bars, span
// details, the trace's log lines), and draw the service map from /api/dependencies.
//
// URL: `#/traces?service=…&operation=…&tags=…&minDuration=…&maxDuration=…&limit=…&from=…&to=…&sort=…` (search),
// `#/traces/<traceid>?…` (one trace; the search params stay so "Back to search" returns), `#/traces/map?from=…&to=…`.

import { h, clear, notice, showNotice, debounce, download } from '../dom.js';
import { call, ApiError } from '../api.js';
import { saveRoute, routeHash } from '../state.js';
import { timeRangePicker, formatTime, formatLatency, isoTime } from '../time.js';
import { PALETTE } from '../chart.js';

const SEARCH_KEYS = ['service', 'operation', 'tags', 'minDuration', 'maxDuration', 'limit', 'from', 'to', 'sort'];
const DEFAULT_LIMIT = 20;
const DEFAULT_FROM = 'now-1h';
const MAX_LIST_ROWS = 1000;
const LOG_LIMIT = 500;
const LOG_MARGIN_MS = 5 * 60_000;
const SORTS = [
  ['recent', 'Most recent'], ['longest', 'Longest first'], ['shortest', 'Shortest first'], ['spans', 'Most spans'],
  ['errors', 'Most errors'],
];

// -- helpers ---------------------------------------------------------------------------------------------------------

// Service colours: the services' order in /api/services picks distinct colours (no reds: red marks errors); a
// service not in that list falls back to a hash of its name. The same everywhere on the page.
const COLORS = PALETTE.filter((c) => !['#ef4444', '#f43f5e'].includes(c));
const serviceIndex = new Map();
let servicesLoaded = null;

function knowServices(names) {
  [...names].sort().forEach((name, i) => { if (!serviceIndex.has(name)) serviceIndex.set(name, i); });
}

/** The service names (once per page load), which also fixes their colours. */
function loadServices(signal) {
  servicesLoaded ??= call('/api/services', { signal }).then((body) => {
    const names = body?.data || [];
    knowServices(names);
    return names;
  }).catch((error) => { servicesLoaded = null; throw error; });
  return servicesLoaded;
}

/** A stable colour per service name (the same in the list, the waterfall and the map). */
export function serviceColor(name) {
  if (serviceIndex.has(name)) return COLORS[serviceIndex.get(name) % COLORS.length];
  let hash = 2166136261;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 16777619);
  return COLORS[(hash >>> 0) % COLORS.length];
}

const GO_DURATION = /^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const GO_UNITS = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 6e10, h: 3.6e12 };

/** A Go duration ("100ms", "1.5s", "2m30s") in nanoseconds; throws a message naming the field on bad input. */
export function parseGoDuration(text, field) {
  const source = text.trim();
  if (source === '0') return 0;
  if (!GO_DURATION.test(source)) {
    throw new Error(`${field}: "${source}" is not a duration (use e.g. 250us, 100ms, 1.5s, 2m)`);
  }
  let total = 0;
  for (const m of source.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) total += parseFloat(m[1]) * GO_UNITS[m[2]];
  return total;
}

/** `key=value key2="a b"` → {key: 'value', key2: 'a b'}; throws naming the bad part. */
export function parseTags(text) {
  const tags = {};
  const re = /\s*([^\s=]+)=(?:"((?:[^"\\]|\\.)*)"|(\S*))\s*/y;
  const source = text.trim();
  let index = 0;
  while (index < source.length) {
    re.lastIndex = index;
    const m = re.exec(source);
    if (!m) {
      const bad = source.slice(index).split(/\s+/)[0];
      throw new Error(`Tags: "${bad}" is not key=value (separate several with spaces; quote values with spaces: key="a b")`);
    }
    tags[m[1]] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
    index = re.lastIndex;
  }
  return tags;
}

function tagValue(tags, key) {
  if (!tags) return undefined;
  for (const tag of tags) if (tag.key === key) return tag.value;
  return undefined;
}

function isErrorSpan(span) {
  const error = tagValue(span.tags, 'error');
  return error === true || error === 'true' || tagValue(span.tags, 'otel.status_code') === 'ERROR';
}

function ago(ms) {
  const seconds = Math.round((Date.now() - ms) / 1000);
  if (seconds < 0) return 'in the future';
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86400)}d ago`;
}

const fmtUs = (us) => formatLatency(us / 1000);

function serviceOf(trace, span) {
  return trace.processes?.[span.processID]?.serviceName ?? 'unknown';
}

/**
 * The trace in one pass: spans in depth-first order (children by start time) with depth, parent and subtree size,
 * plus the summary the list shows. Every span gets exactly one row, also orphans and spans in a reference cycle.
 */
export function buildTrace(trace) {
  const spans = trace.spans || [];
  const byId = new Map();
  for (const span of spans) if (!byId.has(span.spanID)) byId.set(span.spanID, span);
  const children = new Map();
  const roots = [];
  const parentOf = new Map();
  for (const span of spans) {
    const ref = (span.references || []).find((r) => r.refType === 'CHILD_OF' && r.spanID !== span.spanID && byId.has(r.spanID))
      || (span.references || []).find((r) => r.spanID !== span.spanID && byId.has(r.spanID) && r.traceID === span.traceID);
    const parent = ref ? byId.get(ref.spanID) : null;
    if (parent && parent !== span) {
      parentOf.set(span, parent);
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(span);
    } else {
      roots.push(span);
    }
  }
  const byStart = (a, b) => a.startTime - b.startTime;
  roots.sort(byStart);
  for (const list of children.values()) list.sort(byStart);

  const rows = [];
  const visited = new Set();
  const walk = (root) => {
    const stack = [[root, 0]];
    while (stack.length) {
      const [span, depth] = stack.pop();
      if (visited.has(span)) continue;
      visited.add(span);
      const row = { span, depth, index: rows.length, size: 1, parent: null, childCount: 0 };
      rows.push(row);
      const kids = children.get(span) || [];
      for (let i = kids.length - 1; i >= 0; i--) if (!visited.has(kids[i])) stack.push([kids[i], depth + 1]);
    }
  };
  for (const root of roots) walk(root);
  // Spans whose parent chain loops never reach a root: show them as roots too.
  for (const span of [...spans].sort(byStart)) if (!visited.has(span)) walk(span);

  // Parents and subtree sizes from the depth-first order.
  const open = [];
  for (const row of rows) {
    while (open.length && open[open.length - 1].depth >= row.depth) open.pop();
    row.parent = open.length ? open[open.length - 1] : null;
    if (row.parent) row.parent.childCount++;
    open.push(row);
  }
  for (let i = rows.length - 1; i >= 0; i--) if (rows[i].parent) rows[i].parent.size += rows[i].size;

  let start = Infinity;
  let end = -Infinity;
  let errors = 0;
  let maxDepth = 0;
  const services = new Map();
  for (const row of rows) {
    const s = row.span;
    start = Math.min(start, s.startTime);
    end = Math.max(end, s.startTime + s.duration);
    row.error = isErrorSpan(s);
    if (row.error) errors++;
    row.service = serviceOf(trace, s);
    services.set(row.service, (services.get(row.service) || 0) + 1);
    maxDepth = Math.max(maxDepth, row.depth);
  }
  if (!rows.length) { start = 0; end = 0; }
  const root = rows[0] || null;
  return {
    id: trace.traceID, trace, rows, start, end, duration: Math.max(0, end - start), errors, services, maxDepth,
    rootService: root ? root.service : '?', rootOperation: root ? root.span.operationName : '?',
    orphans: roots.length > 1 || rows.some((r) => r.depth === 0 && (r.span.references || []).some((ref) => ref.refType === 'CHILD_OF')),
  };
}

// -- the page --------------------------------------------------------------------------------------------------------

let controller = null;

export default {
  id: 'traces',
  title: 'Traces',

  mount(root, route) {
    controller?.abort();
    controller = new AbortController();
    const signal = controller.signal;
    const params = new URLSearchParams();
    for (const key of SEARCH_KEYS) if (route.params.get(key)) params.set(key, route.params.get(key));
    const view = route.rest[0] === 'map' ? 'map' : route.rest[0] ? 'trace' : 'search';
    const page = h('div', { class: 'page-traces', dataset: { view } });
    root.append(page);
    page.append(header(view, params));
    if (view === 'map') mapView(page, params, signal);
    else if (view === 'trace') traceView(page, route.rest[0], params, signal);
    else searchView(page, params, signal);
  },

  unmount() {
    controller?.abort();
    controller = null;
  },
};

function fetchJSON(path, params, signal) {
  return call(path, { params, signal });
}

function isAbort(error) {
  return error && error.name === 'AbortError';
}

function errorText(error) {
  return error instanceof ApiError ? error.message : String(error.message || error);
}

/** Tabs (Search, Service map) and the "Find by trace ID" box. */
function header(view, params) {
  const searchParams = Object.fromEntries(params);
  const idInput = h('input', {
    type: 'search', id: 'trace-id-input', class: 'mono', placeholder: 'Trace ID', 'aria-label': 'Find by trace ID',
    spellcheck: 'false', autocomplete: 'off',
  });
  const idError = h('span', { class: 'tr-id-error small', role: 'alert' });
  const find = () => {
    const id = idInput.value.trim().toLowerCase();
    if (!/^[0-9a-f]{1,32}$/.test(id)) {
      idError.textContent = id ? `"${idInput.value.trim()}" is not a trace ID (1 to 32 hex digits)` : 'Enter a trace ID';
      idError.dataset.notice = 'error';
      return;
    }
    idError.textContent = '';
    location.hash = routeHash('traces', searchParams, [id]);
  };
  idInput.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.isComposing) { event.preventDefault(); find(); }
  });
  const tab = (id, label, hash) => h('a', {
    class: 'tr-tab', href: hash, id: `traces-tab-${id}`, 'aria-current': view === id ? 'page' : null,
  }, label);
  return h('div', { class: 'tr-header row' },
    h('h1', {}, 'Traces'),
    h('nav', { class: 'tr-tabs row', 'aria-label': 'Traces views' },
      tab('search', 'Search', routeHash('traces', searchParams)),
      tab('map', 'Service map', routeHash('traces', { from: params.get('from'), to: params.get('to') }, ['map']))),
    h('span', { class: 'spacer' }),
    h('div', { class: 'tr-find row' },
      h('label', { class: 'muted small', for: 'trace-id-input' }, 'Find by trace ID'), idInput,
      h('button', { type: 'button', class: 'ghost', id: 'trace-id-go', onclick: find }, 'Open'), idError));
}

// -- search ----------------------------------------------------------------------------------------------------------

function searchView(page, params, signal) {
  const serviceSelect = h('select', { id: 'trace-service', 'aria-label': 'Service' }, h('option', { value: '' }, 'Loading services…'));
  const operationSelect = h('select', { id: 'trace-operation', 'aria-label': 'Operation' }, h('option', { value: '' }, 'All operations'));
  const tagsInput = h('input', {
    type: 'text', id: 'trace-tags', class: 'mono', value: params.get('tags') || '', placeholder: 'http.status_code=500 error=true',
    'aria-label': 'Tags', spellcheck: 'false',
  });
  const minInput = h('input', { type: 'text', id: 'trace-min', class: 'mono tr-dur', value: params.get('minDuration') || '', placeholder: 'e.g. 100ms', 'aria-label': 'Min duration' });
  const maxInput = h('input', { type: 'text', id: 'trace-max', class: 'mono tr-dur', value: params.get('maxDuration') || '', placeholder: 'e.g. 1.5s', 'aria-label': 'Max duration' });
  const limitInput = h('input', { type: 'number', id: 'trace-limit', min: '1', max: '1500', value: params.get('limit') || String(DEFAULT_LIMIT), 'aria-label': 'Limit' });
  const picker = timeRangePicker({ from: params.get('from') || DEFAULT_FROM, to: params.get('to') || 'now', onChange: () => run() });
  const sortSelect = h('select', { id: 'trace-sort', 'aria-label': 'Sort' }, SORTS.map(([v, label]) => h('option', { value: v }, label)));
  sortSelect.value = SORTS.some(([v]) => v === params.get('sort')) ? params.get('sort') : 'recent';
  const button = h('button', { type: 'submit', id: 'trace-search' }, 'Find traces');

  const form = h('form', { class: 'panel tr-form', id: 'trace-form', onsubmit: (event) => { event.preventDefault(); run(); } },
    h('div', { class: 'row' },
      field('Service', serviceSelect), field('Operation', operationSelect),
      field('Tags', tagsInput, 'grow'),
    ),
    h('div', { class: 'row' },
      field('Min duration', minInput), field('Max duration', maxInput), field('Limit', limitInput),
      field('Time range', picker.element),
      h('span', { class: 'spacer' }), button),
    h('div', { class: 'small muted' }, 'Tags are key=value pairs separated by spaces; durations like 250us, 100ms, 1.5s, 2m. Enter searches.'));
  const status = h('div', { class: 'tr-status small muted', id: 'trace-status', role: 'status' });
  const results = h('div', { class: 'tr-results', id: 'trace-results' });
  const listPanel = h('div', { class: 'panel' },
    h('div', { class: 'row tr-list-head' }, status, h('span', { class: 'spacer' }), field('Sort', sortSelect)),
    results);
  page.append(form, listPanel);

  let found = null;
  let generation = 0;

  sortSelect.addEventListener('change', () => {
    params.set('sort', sortSelect.value);
    if (sortSelect.value === 'recent') params.delete('sort');
    saveRoute('traces', params, { replace: true });
    if (found) renderList();
  });

  const loadOperations = async (wanted) => {
    const service = serviceSelect.value;
    clear(operationSelect).append(h('option', { value: '' }, 'All operations'));
    if (!service) return;
    try {
      const body = await fetchJSON(`/api/services/${encodeURIComponent(service)}/operations`, null, signal);
      if (serviceSelect.value !== service) return;
      const names = body?.data || [];
      if (wanted && !names.includes(wanted)) names.unshift(wanted);
      operationSelect.append(...names.map((name) => h('option', { value: name }, name)));
      operationSelect.value = wanted || '';
    } catch (error) {
      if (isAbort(error)) return;
      if (wanted) { operationSelect.append(h('option', { value: wanted }, wanted)); operationSelect.value = wanted; }
      status.textContent = `Could not load the operations: ${errorText(error)}`;
    }
  };
  serviceSelect.addEventListener('change', () => loadOperations(''));

  async function run() {
    const mine = ++generation;
    const next = new URLSearchParams();
    let query;
    try {
      const service = serviceSelect.value;
      if (!service) throw new Error('Pick a service to search its traces.');
      next.set('service', service);
      if (operationSelect.value) next.set('operation', operationSelect.value);
      query = { service, operation: operationSelect.value || undefined };
      const tagsText = tagsInput.value.trim();
      if (tagsText) {
        const tags = parseTags(tagsText);
        next.set('tags', tagsText);
        query.tags = JSON.stringify(tags);
      }
      let minNs = null;
      let maxNs = null;
      if (minInput.value.trim()) { minNs = parseGoDuration(minInput.value, 'Min duration'); next.set('minDuration', minInput.value.trim()); query.minDuration = minInput.value.trim(); }
      if (maxInput.value.trim()) { maxNs = parseGoDuration(maxInput.value, 'Max duration'); next.set('maxDuration', maxInput.value.trim()); query.maxDuration = maxInput.value.trim(); }
      if (minNs !== null && maxNs !== null && maxNs < minNs) throw new Error(`Max duration (${maxInput.value.trim()}) is below min duration (${minInput.value.trim()})`);
      const limitText = limitInput.value.trim() || String(DEFAULT_LIMIT);
      if (!/^\d+$/.test(limitText) || +limitText < 1 || +limitText > 1500) throw new Error(`Limit: "${limitText}" is not a number from 1 to 1500`);
      next.set('limit', limitText);
      query.limit = limitText;
      const { startMs, endMs } = picker.range();
      query.start = String(Math.floor(startMs * 1000));
      query.end = String(Math.ceil(endMs * 1000));
      next.set('from', picker.from);
      next.set('to', picker.to);
      if (sortSelect.value !== 'recent') next.set('sort', sortSelect.value);
    } catch (error) {
      found = null;
      status.textContent = '';
      showNotice(results, 'error', error.message);
      return;
    }
    for (const key of SEARCH_KEYS) params.delete(key);
    for (const [key, value] of next) params.set(key, value);
    saveRoute('traces', params);
    for (const link of page.querySelectorAll('.tr-tabs a')) {
      link.href = link.id === 'traces-tab-map' ? routeHash('traces', { from: params.get('from'), to: params.get('to') }, ['map']) : routeHash('traces', params);
    }
    button.disabled = true;
    status.textContent = 'Searching…';
    results.setAttribute('aria-busy', 'true');
    try {
      const body = await fetchJSON('/api/traces', query, signal);
      if (mine !== generation) return;
      found = (body?.data || []).map(buildTrace);
      renderList();
    } catch (error) {
      if (isAbort(error) || mine !== generation) return;
      found = null;
      status.textContent = '';
      showNotice(results, 'error', errorText(error));
    } finally {
      if (mine === generation) { button.disabled = false; results.removeAttribute('aria-busy'); }
    }
  }

  function renderList() {
    clear(results);
    if (!found.length) {
      status.textContent = '0 traces';
      results.append(notice('empty', `No traces of ${params.get('service')}${params.get('operation') ? ` / ${params.get('operation')}` : ''} match these conditions in this time range.`));
      return;
    }
    const sorted = [...found];
    const by = sortSelect.value;
    if (by === 'longest') sorted.sort((a, b) => b.duration - a.duration);
    else if (by === 'shortest') sorted.sort((a, b) => a.duration - b.duration);
    else if (by === 'spans') sorted.sort((a, b) => b.rows.length - a.rows.length);
    else if (by === 'errors') sorted.sort((a, b) => b.errors - a.errors || b.start - a.start);
    else sorted.sort((a, b) => b.start - a.start);
    const shown = sorted.slice(0, MAX_LIST_ROWS);
    const longest = Math.max(1, ...shown.map((t) => t.duration));
    const errorTraces = found.filter((t) => t.errors > 0).length;
    status.textContent = `${found.length} trace${found.length === 1 ? '' : 's'}${errorTraces ? `, ${errorTraces} with errors` : ''}`
      + (shown.length < found.length ? ` (showing ${shown.length} of ${found.length})` : '');
    const fragment = document.createDocumentFragment();
    fragment.append(h('div', { class: 'tr-result tr-result-head small muted', 'aria-hidden': 'true' },
      h('span', {}, 'Trace'), h('span', { class: 'num' }, 'Spans'), h('span', {}, 'Errors'), h('span', {}, 'Started'), h('span', {}, 'Duration')));
    for (const t of shown) {
      const chips = [...t.services.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([name, count]) =>
        h('span', { class: 'tr-chip', style: { borderLeftColor: serviceColor(name) } }, `${name} (${count})`));
      fragment.append(h('a', {
        class: `tr-result${t.errors ? ' has-error' : ''}`, href: routeHash('traces', params, [t.id]),
        dataset: { traceId: t.id, spans: String(t.rows.length), errors: String(t.errors), duration: String(t.duration), start: String(t.start) },
      },
      h('span', { class: 'tr-result-name' },
        h('span', { class: 'tr-title' }, h('span', { class: 'tr-swatch', style: { background: serviceColor(t.rootService) } }),
          h('b', {}, t.rootService), ': ', t.rootOperation),
        h('span', { class: 'tr-chips' }, chips, h('span', { class: 'mono small muted tr-id' }, t.id.slice(0, 12)))),
      h('span', { class: 'num' }, String(t.rows.length)),
      h('span', {}, t.errors ? h('span', { class: 'badge error tr-error-count', title: 'spans with an error' }, `${t.errors} error${t.errors === 1 ? '' : 's'}`) : ''),
      h('span', { class: 'small', title: formatTime(t.start / 1000, { millis: true }) }, formatTime(t.start / 1000), h('br'), h('span', { class: 'muted' }, ago(t.start / 1000))),
      h('span', { class: 'tr-dur-cell' },
        h('span', { class: 'tr-dur-text' }, fmtUs(t.duration)),
        h('span', { class: 'tr-dur-track' }, h('span', { class: 'tr-dur-bar', style: { width: `${Math.max(0.5, (t.duration / longest) * 100)}%` } })))));
    }
    results.append(fragment);
  }

  // Services, then the operations of the chosen one, then the search the URL names.
  (async () => {
    const wanted = params.get('service') || '';
    try {
      servicesLoaded = null;
      const services = [...await loadServices(signal)];
      clear(serviceSelect).append(h('option', { value: '' }, services.length ? 'Choose a service' : 'No services yet'));
      if (wanted && !services.includes(wanted)) services.unshift(wanted);
      serviceSelect.append(...services.map((s) => h('option', { value: s }, s)));
      serviceSelect.value = wanted;
      if (!services.length) showNotice(results, 'empty', 'No traces have been received yet: no service to search.');
    } catch (error) {
      if (isAbort(error)) return;
      clear(serviceSelect).append(h('option', { value: wanted }, wanted || '(services unavailable)'));
      showNotice(results, 'error', `Could not load the services: ${errorText(error)}`);
      return;
    }
    if (wanted) {
      await loadOperations(params.get('operation') || '');
      if (!signal.aborted) run();
    } else if (serviceSelect.options.length > 1) {
      results.append(notice('info', 'Choose a service and press Enter or "Find traces".'));
      serviceSelect.focus();
    }
  })();
}

function field(label, control, extra = '') {
  return h('label', { class: `tr-field ${extra}` }, h('span', { class: 'small muted' }, label), control);
}

// -- one trace -------------------------------------------------------------------------------------------------------

function traceView(page, rawId, params, signal) {
  const id = rawId.trim().toLowerCase();
  const body = h('div', { class: 'tr-trace', id: 'trace-view' });
  page.append(h('div', { class: 'row tr-back' }, h('a', { href: routeHash('traces', params), id: 'trace-back' }, '← Back to search')), body);
  if (!/^[0-9a-f]{1,32}$/.test(id)) {
    showNotice(body, 'error', `"${rawId}" is not a trace ID: a trace ID has 1 to 32 hex digits.`);
    return;
  }
  body.append(h('div', { class: 'muted' }, `Loading trace ${id}…`));
  (async () => {
    let data;
    try {
      const colours = loadServices(signal).catch(() => null);
      data = await fetchJSON(`/api/traces/${id}`, null, signal);
      await colours;
    } catch (error) {
      if (isAbort(error)) return;
      if (error instanceof ApiError && error.status === 404) {
        showNotice(body, 'empty', `Trace ${id} was not found: no spans with this trace ID are stored (it may be older than the retention, or not sent yet).`);
      } else {
        showNotice(body, 'error', errorText(error));
      }
      return;
    }
    const trace = data?.data?.[0];
    if (!trace || !(trace.spans || []).length) {
      showNotice(body, 'empty', `Trace ${id} was not found.`);
      return;
    }
    clear(body);
    renderTrace(body, buildTrace(trace), params, signal);
  })();
}

function renderTrace(body, t, params, signal) {
  const total = Math.max(1, t.duration);
  const rows = t.rows;
  const collapsed = new Uint8Array(rows.length);
  const elements = new Array(rows.length);

  // Header.
  body.append(h('div', { class: 'panel tr-trace-head' },
    h('h2', {}, h('span', { class: 'tr-swatch', style: { background: serviceColor(t.rootService) } }), `${t.rootService}: ${t.rootOperation}`),
    h('div', { class: 'row small tr-meta' },
      meta('Trace ID', h('span', { class: 'mono', id: 'trace-id' }, t.id)),
      meta('Started', formatTime(t.start / 1000, { millis: true })),
      meta('Duration', fmtUs(t.duration)),
      meta('Services', String(t.services.size)),
      meta('Depth', String(t.maxDepth + 1)),
      meta('Spans', h('span', { id: 'trace-span-count' }, String(rows.length))),
      t.errors ? h('span', { class: 'badge error', id: 'trace-error-count' }, `${t.errors} error span${t.errors === 1 ? '' : 's'}`) : null,
      h('span', { class: 'spacer' }),
      h('button', { type: 'button', class: 'ghost small', id: 'trace-expand-all', onclick: () => setAll(false) }, 'Expand all'),
      h('button', { type: 'button', class: 'ghost small', id: 'trace-collapse-all', onclick: () => setAll(true) }, 'Collapse all'),
      h('button', { type: 'button', class: 'ghost small', onclick: () => download(`trace-${t.id}.json`, JSON.stringify({ data: [t.trace] }, null, 2), 'application/json') }, 'Download JSON')),
    h('div', { class: 'row tr-legend small' }, [...t.services.entries()].map(([name, count]) =>
      h('span', { class: 'tr-chip', style: { borderLeftColor: serviceColor(name) } }, `${name} (${count})`)))));

  // Span filter.
  const filterInput = h('input', { type: 'search', id: 'trace-span-filter', placeholder: 'Find in spans (service, operation, tag value)', 'aria-label': 'Find in spans', spellcheck: 'false' });
  const filterCount = h('span', { class: 'small muted', id: 'trace-span-filter-count' });

  // Ruler.
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const ruler = h('div', { class: 'tr-wf-row tr-ruler', 'aria-hidden': 'true' },
    h('div', { class: 'tr-wf-name small muted' }, 'Service: operation'),
    h('div', { class: 'tr-wf-timeline' }, ticks.map((f) =>
      h('span', { class: `tr-tick${f === 1 ? ' last' : ''}`, style: { left: `${f * 100}%` } }, fmtUs(f * t.duration)))));

  // Rows, in one pass.
  const list = h('div', { class: 'tr-wf-rows', id: 'trace-waterfall', role: 'tree', 'aria-label': 'Spans' });
  const fragment = document.createDocumentFragment();
  for (const row of rows) {
    const s = row.span;
    const left = ((s.startTime - t.start) / total) * 100;
    const width = (s.duration / total) * 100;
    const color = serviceColor(row.service);
    const toggle = row.childCount
      ? h('button', { type: 'button', class: 'tr-toggle', 'aria-label': 'Collapse', tabindex: '-1', dataset: { toggle: '1' } }, '▾')
      : h('span', { class: 'tr-toggle-space' });
    const marks = (s.logs || []).slice(0, 50).map((log) =>
      h('span', { class: 'tr-log-mark', style: { left: `${((log.timestamp - t.start) / total) * 100}%` } }));
    const el = h('div', {
      class: `tr-wf-row tr-span-row${row.error ? ' error' : ''}`, role: 'treeitem', tabindex: '0',
      'aria-expanded': row.childCount ? 'true' : null, 'aria-level': String(row.depth + 1),
      dataset: { spanId: s.spanID, index: String(row.index), depth: String(row.depth), service: row.service, error: String(row.error) },
    },
    h('div', { class: 'tr-wf-name', style: { paddingLeft: `${Math.min(row.depth, 40) * 14 + 4}px` }, title: `${row.service}: ${s.operationName}` },
      toggle,
      h('span', { class: 'tr-swatch', style: { background: color } }),
      row.error ? h('span', { class: 'tr-error-icon', title: 'error' }, '!') : null,
      h('span', { class: 'tr-svc' }, row.service),
      h('span', { class: 'tr-op' }, s.operationName),
      row.childCount ? h('span', { class: 'tr-kids small muted' }, `${row.size - 1}`) : null),
    h('div', { class: 'tr-wf-timeline' },
      h('span', { class: 'tr-bar', style: { left: `${left}%`, width: `max(2px, ${width}%)`, background: color } }),
      marks,
      h('span', { class: `tr-bar-label small${left + width > 75 ? ' before' : ''}`, style: left + width > 75 ? { right: `${100 - left}%` } : { left: `${left + width}%` } }, fmtUs(s.duration))));
    elements[row.index] = el;
    fragment.append(el);
  }
  list.append(fragment);

  // Collapse/expand: a row's descendants are the next `size - 1` rows.
  const setCollapsed = (index, value) => {
    const row = rows[index];
    if (!row.childCount) return;
    collapsed[index] = value ? 1 : 0;
    const el = elements[index];
    el.setAttribute('aria-expanded', String(!value));
    el.classList.toggle('collapsed', value);
    const button = el.querySelector('.tr-toggle');
    button.textContent = value ? '▸' : '▾';
    button.setAttribute('aria-label', value ? 'Expand' : 'Collapse');
    applyVisibility(index + 1, index + row.size);
  };
  const applyVisibility = (from, to) => {
    for (let i = from; i < to; i++) {
      const hidden = ancestorCollapsed(i);
      elements[i].hidden = hidden;
      const detail = elements[i].nextElementSibling;
      if (detail && detail.classList.contains('tr-span-detail')) detail.hidden = hidden;
    }
  };
  const ancestorCollapsed = (i) => {
    for (let p = rows[i].parent; p; p = p.parent) if (collapsed[p.index]) return true;
    return false;
  };
  function setAll(value) {
    for (const row of rows) if (row.childCount) {
      collapsed[row.index] = value && row.depth >= 0 ? 1 : 0;
      const el = elements[row.index];
      el.setAttribute('aria-expanded', String(!collapsed[row.index]));
      el.classList.toggle('collapsed', Boolean(collapsed[row.index]));
      const button = el.querySelector('.tr-toggle');
      button.textContent = collapsed[row.index] ? '▸' : '▾';
    }
    // "Collapse all" keeps the roots visible.
    applyVisibility(0, rows.length);
  }

  const toggleDetail = (index) => {
    const el = elements[index];
    const next = el.nextElementSibling;
    if (next && next.classList.contains('tr-span-detail')) {
      next.remove();
      el.classList.remove('selected');
      return;
    }
    el.classList.add('selected');
    el.after(spanDetail(t, rows[index], params));
  };

  list.addEventListener('click', (event) => {
    const rowEl = event.target.closest('.tr-span-row');
    if (!rowEl || event.target.closest('.tr-span-detail')) return;
    const index = +rowEl.dataset.index;
    if (event.target.closest('[data-toggle]')) setCollapsed(index, !collapsed[index]);
    else toggleDetail(index);
  });
  list.addEventListener('keydown', (event) => {
    const rowEl = event.target.closest('.tr-span-row');
    if (!rowEl || event.target !== rowEl) return;
    const index = +rowEl.dataset.index;
    if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); toggleDetail(index); }
    else if (event.key === 'ArrowLeft') { event.preventDefault(); setCollapsed(index, true); }
    else if (event.key === 'ArrowRight') { event.preventDefault(); setCollapsed(index, false); }
    else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      for (let i = index + step; i >= 0 && i < rows.length; i += step) if (!elements[i].hidden) { elements[i].focus(); break; }
    }
  });

  const runFilter = () => {
    const text = filterInput.value.trim().toLowerCase();
    let matches = 0;
    for (const row of rows) {
      let hit = false;
      if (text) {
        const s = row.span;
        hit = row.service.toLowerCase().includes(text) || s.operationName.toLowerCase().includes(text) || s.spanID.includes(text)
          || (s.tags || []).some((tag) => String(tag.value).toLowerCase().includes(text) || tag.key.toLowerCase().includes(text));
      }
      elements[row.index].classList.toggle('match', hit);
      if (hit) matches++;
    }
    filterCount.textContent = text ? `${matches} matching span${matches === 1 ? '' : 's'}` : '';
  };
  filterInput.addEventListener('input', debounce(runFilter, 150));

  body.append(h('div', { class: 'panel tr-waterfall' },
    h('div', { class: 'row tr-wf-tools' }, filterInput, filterCount),
    ruler, list));

  // Logs of this trace.
  const logsPanel = h('div', { class: 'panel tr-logs', id: 'trace-logs' });
  body.append(logsPanel);
  traceLogs(logsPanel, t, signal);
}

function meta(label, value) {
  return h('span', { class: 'tr-meta-item' }, h('span', { class: 'muted' }, `${label} `), value);
}

function spanDetail(t, row, params) {
  const s = row.span;
  const process = t.trace.processes?.[s.processID] || { serviceName: row.service, tags: [] };
  const parent = row.parent ? row.parent.span.spanID : ((s.references || []).find((r) => r.refType === 'CHILD_OF')?.spanID || '');
  const kv = (pairs) => h('table', { class: 'grid tr-kv' }, h('tbody', {}, pairs.map(([k, v]) =>
    h('tr', {}, h('th', { class: 'mono' }, k), h('td', { class: 'mono' }, valueText(v))))));
  const status = tagValue(s.tags, 'otel.status_code') || (row.error ? 'ERROR' : 'UNSET');
  const description = tagValue(s.tags, 'otel.status_description');
  const overview = [
    ['Service', row.service], ['Operation', s.operationName], ['Span ID', s.spanID], ['Parent span ID', parent || '(root)'],
    ['Trace ID', s.traceID], ['Start', `${formatTime(s.startTime / 1000, { millis: true })} (+${fmtUs(s.startTime - t.start)})`],
    ['Duration', fmtUs(s.duration)], ['Kind', tagValue(s.tags, 'span.kind') || 'unspecified'],
    ['Status', description ? `${status}: ${description}` : status],
  ];
  const logs = s.logs || [];
  const refs = (s.references || []).filter((r) => r.refType !== 'CHILD_OF' || r.spanID !== parent);
  return h('div', { class: `tr-span-detail${row.error ? ' error' : ''}`, dataset: { spanId: s.spanID } },
    h('div', { class: 'tr-detail-grid' },
      h('section', {}, h('h3', {}, 'Span'), kv(overview)),
      h('section', {}, h('h3', {}, `Tags (${(s.tags || []).length})`),
        (s.tags || []).length ? kv(s.tags.map((tag) => [tag.key, tag.value])) : h('div', { class: 'muted small' }, 'No tags')),
      h('section', {}, h('h3', {}, `Process: ${process.serviceName}`),
        (process.tags || []).length ? kv(process.tags.map((tag) => [tag.key, tag.value])) : h('div', { class: 'muted small' }, 'No resource attributes'))),
    logs.length ? h('section', {}, h('h3', {}, `Events (${logs.length})`),
      h('table', { class: 'grid tr-events' }, h('tbody', {}, logs.map((log) => h('tr', {},
        h('td', { class: 'mono small' }, `+${fmtUs(log.timestamp - t.start)}`),
        h('td', { class: 'mono small' }, (log.fields || []).map((f) => h('div', {}, h('span', { class: 'muted' }, `${f.key}=`), valueText(f.value))))))))) : null,
    refs.length ? h('section', {}, h('h3', {}, 'References'), h('ul', { class: 'mono small' }, refs.map((r) => h('li', {},
      `${r.refType} `, r.traceID === s.traceID ? `span ${r.spanID}` : h('a', { href: routeHash('traces', params, [r.traceID]) }, `trace ${r.traceID}`), r.traceID === s.traceID ? '' : ` span ${r.spanID}`)))) : null);
}

function valueText(v) {
  if (v === null || v === undefined) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** The LogQL queries that find the trace's lines: Loki-pushed streams (`service`) and OTLP ones (`service_name`). */
export function traceLogQueries(id) {
  const padded = id.padStart(32, '0');
  const matcher = padded.startsWith('0000000000000000') ? `trace_id=~"(0000000000000000)?${padded.slice(16)}"` : `trace_id="${padded}"`;
  return [`{service=~".+"} | ${matcher}`, `{service_name=~".+"} | ${matcher}`];
}

async function traceLogs(panel, t, signal) {
  const startMs = Math.floor(t.start / 1000) - LOG_MARGIN_MS;
  const endMs = Math.ceil(t.end / 1000) + LOG_MARGIN_MS;
  const queries = traceLogQueries(t.id);
  const link = (query) => routeHash('logs', { query, from: isoTime(startMs), to: isoTime(endMs) });
  const openLink = h('a', { href: link(queries[0]), id: 'trace-logs-link' }, 'Open in Logs');
  const queryText = h('code', { class: 'small tr-logs-query' }, queries[0]);
  const content = h('div', { class: 'tr-logs-body' }, h('div', { class: 'muted small' }, 'Loading…'));
  panel.append(h('div', { class: 'row' }, h('h2', {}, 'Logs of this trace'), h('span', { class: 'spacer' }), queryText, openLink),
    h('div', { class: 'small muted' }, `Lines whose trace_id is ${t.id}, from ${formatTime(startMs)} to ${formatTime(endMs)} (the trace ± 5 minutes).`),
    content);
  const params = (query) => ({ query, start: String(startMs * 1_000_000), end: String(endMs * 1_000_000), limit: String(LOG_LIMIT), direction: 'forward' });
  const answers = await Promise.allSettled(queries.map((q) => call('/loki/api/v1/query_range', { params: params(q), signal })));
  if (signal.aborted) return;
  const lines = [];
  const seen = new Set();
  let firstError = null;
  const counts = answers.map(() => 0);
  answers.forEach((answer, qi) => {
    if (answer.status === 'rejected') { firstError ??= answer.reason; return; }
    for (const stream of answer.value?.data?.result || []) {
      for (const [ts, line] of stream.values || []) {
        const key = `${ts}\u0000${line}\u0000${JSON.stringify(stream.stream)}`;
        if (seen.has(key)) continue;
        seen.add(key);
        lines.push({ ts: BigInt(ts), line, labels: stream.stream || {} });
        counts[qi]++;
      }
    }
  });
  if (!counts[0] && counts[1]) {
    // Only the OTLP form found lines: link that one.
    queryText.textContent = queries[1];
    openLink.href = link(queries[1]);
  }
  clear(content);
  if (!lines.length) {
    if (firstError && !isAbort(firstError)) content.append(notice('error', `Could not query the logs: ${errorText(firstError)}`));
    else content.append(notice('empty', 'No log lines carry this trace ID in this time range.'));
    return;
  }
  lines.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
  const fragment = document.createDocumentFragment();
  for (const l of lines) {
    const ms = Number(l.ts / 1_000_000n);
    const service = l.labels.service || l.labels.service_name || '';
    const level = l.labels.level || l.labels.severity_text || l.labels.detected_level || '';
    fragment.append(h('tr', { class: 'tr-log-line', dataset: { ts: String(l.ts) } },
      h('td', { class: 'mono small nowrap' }, formatTime(ms, { millis: true })),
      h('td', { class: 'small' }, service ? h('span', { class: 'tr-chip', style: { borderLeftColor: serviceColor(service) } }, service) : ''),
      h('td', { class: `small tr-level ${level.toLowerCase()}` }, level),
      h('td', { class: 'mono tr-log-text' }, l.line)));
  }
  content.append(
    h('div', { class: 'small muted' }, `${lines.length} line${lines.length === 1 ? '' : 's'}${lines.length >= LOG_LIMIT ? ` (the first ${LOG_LIMIT}; open in Logs for all)` : ''}`),
    h('table', { class: 'grid tr-log-table' }, h('tbody', {}, fragment)));
}

// -- service map -----------------------------------------------------------------------------------------------------

/**
 * A layered layout of the call graph: columns by call depth (longest path from a service nobody calls, back edges of
 * cycles ignored). An edge spanning several columns gets a waypoint in each column it crosses, so it runs between the
 * boxes; the rows of each column are ordered by the mean row of their neighbours (sweeps both ways) to keep crossings
 * few. Returns each column's items (`{name}` for services, `{edge}` for waypoints), columns by service, and the edges
 * that go backwards or stay in a column.
 */
export function layoutGraph(links) {
  const names = [...new Set(links.flatMap((l) => [l.parent, l.child]))].sort();
  const out = new Map(names.map((n) => [n, []]));
  const inDegree = new Map(names.map((n) => [n, 0]));
  for (const l of links) if (l.parent !== l.child) { out.get(l.parent).push(l.child); inDegree.set(l.child, inDegree.get(l.child) + 1); }
  const key = (from, to) => `${from}\u0000${to}`;
  // Back edges by depth-first search from the entry points.
  const state = new Map();
  const back = new Set();
  for (const start of [...names.filter((n) => inDegree.get(n) === 0), ...names]) {
    if (state.has(start)) continue;
    const stack = [[start, 0]];
    state.set(start, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const next = out.get(top[0])[top[1]++];
      if (next === undefined) { state.set(top[0], 2); stack.pop(); continue; }
      if (state.get(next) === 1) back.add(key(top[0], next));
      else if (!state.has(next)) { state.set(next, 1); stack.push([next, 0]); }
    }
  }
  // Longest-path columns over the acyclic rest (Kahn's order).
  const layer = new Map(names.map((n) => [n, 0]));
  const remaining = new Map(names.map((n) => [n, 0]));
  for (const [from, targets] of out) for (const to of targets) if (!back.has(key(from, to))) remaining.set(to, remaining.get(to) + 1);
  const queue = names.filter((n) => remaining.get(n) === 0);
  while (queue.length) {
    const n = queue.shift();
    for (const to of out.get(n)) {
      if (back.has(key(n, to))) continue;
      layer.set(to, Math.max(layer.get(to), layer.get(n) + 1));
      remaining.set(to, remaining.get(to) - 1);
      if (remaining.get(to) === 0) queue.push(to);
    }
  }
  const depth = Math.max(0, ...layer.values()) + 1;
  const layers = Array.from({ length: depth }, () => []);
  const items = new Map();
  const node = (id, column, props) => {
    const item = { id, column, preds: [], succs: [], ...props };
    items.set(id, item);
    layers[column].push(item);
    return item;
  };
  for (const n of names) node(n, layer.get(n), { name: n });
  // Waypoints for forward edges that skip columns.
  const waypoints = new Map();
  for (const l of links) {
    const from = layer.get(l.parent);
    const to = layer.get(l.child);
    if (l.parent === l.child || back.has(key(l.parent, l.child)) || to <= from) continue;
    let prev = items.get(l.parent);
    const chain = [];
    for (let c = from + 1; c < to; c++) {
      const w = node(`${key(l.parent, l.child)}\u0000${c}`, c, { edge: key(l.parent, l.child) });
      prev.succs.push(w); w.preds.push(prev);
      chain.push(w);
      prev = w;
    }
    const child = items.get(l.child);
    prev.succs.push(child); child.preds.push(prev);
    waypoints.set(key(l.parent, l.child), chain);
  }
  // Order within columns: barycentres of the previous column's neighbours, then of the next one's, twice.
  const renumber = (column) => column.forEach((item, i) => { item.row = i; });
  layers.forEach(renumber);
  const mean = (list, fallback) => (list.length ? list.reduce((s, x) => s + x.row, 0) / list.length : fallback);
  for (let sweep = 0; sweep < 3; sweep++) {
    for (let c = 1; c < depth; c++) {
      layers[c].sort((a, b) => mean(a.preds, a.row) - mean(b.preds, b.row) || a.id.localeCompare(b.id));
      renumber(layers[c]);
    }
    for (let c = depth - 2; c >= 0; c--) {
      layers[c].sort((a, b) => mean(a.succs, a.row) - mean(b.succs, b.row) || a.id.localeCompare(b.id));
      renumber(layers[c]);
    }
  }
  return { names, layers, layer, back, waypoints, key };
}

function mapView(page, params, signal) {
  const picker = timeRangePicker({ from: params.get('from') || DEFAULT_FROM, to: params.get('to') || 'now', onChange: () => load() });
  const button = h('button', { type: 'button', id: 'map-refresh', onclick: () => load() }, 'Show');
  const status = h('span', { class: 'small muted', id: 'map-status', role: 'status' });
  const content = h('div', { class: 'tr-map', id: 'service-map' });
  page.append(h('div', { class: 'panel' },
    h('div', { class: 'row' }, field('Time range', picker.element), button, h('span', { class: 'spacer' }), status),
    content));
  let generation = 0;

  async function load() {
    const mine = ++generation;
    let range;
    try {
      range = picker.range();
    } catch (error) {
      showNotice(content, 'error', error.message);
      return;
    }
    const next = new URLSearchParams(params);
    next.set('from', picker.from);
    next.set('to', picker.to);
    saveRoute('traces', next, { rest: ['map'] });
    status.textContent = 'Loading…';
    try {
      await loadServices(signal).catch(() => null);
      const body = await fetchJSON('/api/dependencies', { endTs: String(Math.round(range.endMs)), lookback: String(Math.max(1, Math.round(range.endMs - range.startMs))) }, signal);
      if (mine !== generation) return;
      const links = body?.data || [];
      status.textContent = `${new Set(links.flatMap((l) => [l.parent, l.child])).size} services, ${links.length} call edges`;
      if (!links.length) { showNotice(content, 'empty', 'No calls between services in this time range.'); return; }
      drawMap(content, links, next);
    } catch (error) {
      if (isAbort(error) || mine !== generation) return;
      status.textContent = '';
      showNotice(content, 'error', errorText(error));
    }
  }
  load();
}

const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function drawMap(container, links, params) {
  const { layers, layer, waypoints, key } = layoutGraph(links);
  const NODE_W = 168;
  const NODE_H = 40;
  const COL = 250;
  const ROW = 64;
  const LANE = 22;
  const PAD = 24;
  // Heights: a service takes a row, a waypoint a narrow lane; columns are centred on the tallest.
  const columnHeight = (column) => column.reduce((sum, item) => sum + (item.name ? ROW : LANE), 0);
  const tallest = Math.max(...layers.map(columnHeight));
  const place = new Map();
  layers.forEach((column, c) => {
    let y = PAD + (tallest - columnHeight(column)) / 2;
    for (const item of column) {
      const size = item.name ? ROW : LANE;
      place.set(item.id, { x: PAD + c * COL, y: item.name ? y + (ROW - NODE_H) / 2 : y + LANE / 2 });
      y += size;
    }
  });
  const width = PAD * 2 + (layers.length - 1) * COL + NODE_W;
  const height = PAD * 2 + tallest + 40;
  const at = (n) => place.get(n);
  const maxCalls = Math.max(1, ...links.map((l) => l.callCount));
  const calls = new Map();
  for (const l of links) {
    calls.set(l.parent, calls.get(l.parent) || { out: 0, in: 0 });
    calls.set(l.child, calls.get(l.child) || { out: 0, in: 0 });
    calls.get(l.parent).out += l.callCount;
    calls.get(l.child).in += l.callCount;
  }
  const svg = s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'Service map', class: 'tr-map-svg' },
    s('defs', {}, s('marker', { id: 'tr-arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '10', markerHeight: '10', markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' },
      s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'tr-arrow' }))));
  const edges = s('g', { class: 'tr-map-edges' });
  const labels = s('g', { class: 'tr-map-labels' });
  const curve = (x1, y1, x2, y2) => { const c = (x2 - x1) / 2; return ` C${x1 + c},${y1} ${x2 - c},${y2} ${x2},${y2}`; };
  for (const l of links) {
    const a = at(l.parent);
    const b = at(l.child);
    let d;
    let mx;
    let my;
    if (l.parent === l.child) {
      const x = a.x + NODE_W - 20;
      d = `M${x},${a.y} C${x + 10},${a.y - 36} ${x + 44},${a.y - 20} ${a.x + NODE_W},${a.y + 10}`;
      mx = x + 24; my = a.y - 24;
    } else if (layer.get(l.child) > layer.get(l.parent)) {
      // Through the waypoints: a straight run across each column crossed, curves between columns.
      let x = a.x + NODE_W;
      let y = a.y + NODE_H / 2;
      d = `M${x},${y}`;
      const first = (waypoints.get(key(l.parent, l.child)) || [])[0];
      const firstTarget = first ? at(first.id) : { x: b.x, y: b.y + NODE_H / 2 };
      // The count sits on the first straight run when there is one, clear of the fan-out at the caller.
      mx = first ? firstTarget.x + NODE_W / 2 : (x + firstTarget.x) / 2;
      my = first ? firstTarget.y : (y + firstTarget.y) / 2;
      for (const w of waypoints.get(key(l.parent, l.child)) || []) {
        const p = at(w.id);
        d += curve(x, y, p.x, p.y) + ` L${p.x + NODE_W},${p.y}`;
        x = p.x + NODE_W; y = p.y;
      }
      d += curve(x, y, b.x, b.y + NODE_H / 2);
    } else {
      // Back edge or same column: an arc under the boxes.
      const x1 = a.x + NODE_W / 2; const y1 = a.y + NODE_H; const x2 = b.x + NODE_W / 2; const y2 = b.y + NODE_H;
      const dip = Math.max(y1, y2) + 40;
      d = `M${x1},${y1} C${x1},${dip} ${x2},${dip} ${x2},${y2}`;
      mx = (x1 + x2) / 2; my = dip - 10;
    }
    const strokeWidth = 1.2 + 3 * Math.log1p(l.callCount) / Math.log1p(maxCalls);
    edges.append(s('path', {
      d, class: 'tr-map-edge', 'stroke-width': strokeWidth.toFixed(2), 'marker-end': 'url(#tr-arrow)',
      'data-parent': l.parent, 'data-child': l.child, 'data-calls': l.callCount,
    }, s('title', {}, `${l.parent} → ${l.child}: ${l.callCount} call${l.callCount === 1 ? '' : 's'}`)));
    const text = String(l.callCount);
    labels.append(s('g', { class: 'tr-map-count', 'data-parent': l.parent, 'data-child': l.child },
      s('title', {}, `${l.parent} → ${l.child}: ${l.callCount} call${l.callCount === 1 ? '' : 's'}`),
      s('rect', { x: mx - (text.length * 4 + 6), y: my - 9, width: text.length * 8 + 12, height: 18, rx: 9 }),
      s('text', { x: mx, y: my + 4, 'text-anchor': 'middle' }, text)));
  }
  svg.append(edges);
  const nodes = s('g', { class: 'tr-map-nodes' });
  for (const item of layers.flat()) {
    if (!item.name) continue;
    const name = item.name;
    const { x, y } = at(name);
    const c = calls.get(name);
    const href = routeHash('traces', { service: name, from: params.get('from'), to: params.get('to') });
    const short = name.length > 20 ? `${name.slice(0, 19)}…` : name;
    nodes.append(s('a', { href, class: 'tr-map-node', 'data-service': name, 'aria-label': `${name}: search its traces` },
      s('title', {}, `${name}\ncalls out: ${c.out}, calls in: ${c.in}\nclick to search its traces`),
      s('rect', { x, y, width: NODE_W, height: NODE_H, rx: 8, class: 'tr-map-box' }),
      s('rect', { x, y, width: 6, height: NODE_H, rx: 3, fill: serviceColor(name) }),
      s('text', { x: x + 16, y: y + 17, class: 'tr-map-name' }, short),
      s('text', { x: x + 16, y: y + 32, class: 'tr-map-sub' }, `in ${c.in} · out ${c.out}`)));
  }
  svg.append(nodes, labels);
  clear(container).append(h('div', { class: 'tr-map-scroll' }, svg),
    h('div', { class: 'small muted' }, 'Columns follow call depth: callers on the left, the services they call to the right. Numbers are call counts; click a service to search its traces.'));
}
