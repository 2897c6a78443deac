// The logs page: a LogQL query over a time range, a histogram of matching lines over time (drag to zoom), the lines
// newest first with the query's line filters highlighted, details on expand, trace links and a polling live tail.
// State in the URL: query, from, to, limit, live.

import { h, clear, notice, onEnter, highlight, escapeRegExp } from '../dom.js';
import { call, ApiError } from '../api.js';
import { saveRoute } from '../state.js';
import { timeRangePicker, formatTime, isoTime } from '../time.js';
import { histogram, lineChart, formatValue } from '../chart.js';

const DEFAULT_QUERY = '{service=~".+"}';
const DEFAULT_FROM = 'now-1h';
const DEFAULT_LIMIT = 1000;
const MAX_LIMIT = 10000;
const BUCKETS = 100;
const LIVE_EVERY_MS = 1500;
// Rows appended per task while rendering (about 10 ms of work each).
const RENDER_CHUNK = 500;
// The server bounds one log query's limit (Loki's max_entries_limit_per_query); bigger limits are read in pages.
let pageMax = 5000;

// -- LogQL helpers (exported for reuse and tests) ---------------------------------------------------------------------

/** Whether `query` is a log query (starts with a stream selector, after blanks and comments), not a metric query. */
export function isLogQuery(query) {
  let i = 0;
  while (i < query.length) {
    if (/\s/.test(query[i])) i++;
    else if (query[i] === '#') {
      const nl = query.indexOf('\n', i);
      i = nl < 0 ? query.length : nl + 1;
    } else break;
  }
  return query[i] === '{';
}

/** The positive line filters of a query: `|= "x"` and `|~ "re"` (with `or` chains), as `{regex, text}`. */
export function lineFilters(query) {
  const out = [];
  const n = query.length;
  let i = 0;
  const readString = () => {
    const quote = query[i];
    if (quote === '`') {
      const end = query.indexOf('`', i + 1);
      if (end < 0) return null;
      const value = query.slice(i + 1, end);
      i = end + 1;
      return value;
    }
    if (quote === '"') {
      let j = i + 1;
      while (j < n && query[j] !== '"') j += query[j] === '\\' ? 2 : 1;
      if (j >= n) return null;
      const raw = query.slice(i, j + 1);
      i = j + 1;
      try { return JSON.parse(raw); } catch { return raw.slice(1, -1); }
    }
    return null;
  };
  while (i < n) {
    const c = query[i];
    if (c === '"' || c === '`') {
      if (readString() === null) break;
      continue;
    }
    if (c === '#') {
      const nl = query.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
      continue;
    }
    if (c === '|' && (query[i + 1] === '=' || query[i + 1] === '~')) {
      const regex = query[i + 1] === '~';
      i += 2;
      for (;;) {
        while (i < n && /\s/.test(query[i])) i++;
        const value = readString();
        if (value === null) break;
        out.push({ regex, text: value });
        const more = /^\s*or\s+/.exec(query.slice(i, i + 16));
        if (!more) break;
        i += more[0].length;
      }
      continue;
    }
    i++;
  }
  return out;
}

/** One global RegExp matching what the line filters match (for <mark>), or null. */
export function filterPattern(filters) {
  const parts = [];
  let caseless = false;
  for (const f of filters) {
    if (!f.text) continue;
    if (!f.regex) { parts.push(escapeRegExp(f.text)); continue; }
    let source = f.text;
    if (source.startsWith('(?i)')) { source = source.slice(4); caseless = true; }
    try {
      new RegExp(source); // RE2 syntax JavaScript does not know is left unhighlighted
      parts.push(`(?:${source})`);
    } catch { /* skip */ }
  }
  if (parts.length === 0) return null;
  try { return new RegExp(parts.join('|'), caseless ? 'gi' : 'g'); } catch { return null; }
}

const TRACE_IN_LINE = /\btrace_?id\b["']?\s*[=:]\s*["']?([0-9a-f]{32})\b/i;
const TRACE_LABELS = ['trace_id', 'traceID', 'traceId', 'traceid'];

/** The trace id a line names: a trace_id label/structured metadata, or `trace_id=<32 hex>` / `traceID` in the text. */
export function traceIdOf(labels, line) {
  for (const name of TRACE_LABELS) {
    const value = labels[name];
    if (value && /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/i.test(value)) return value.toLowerCase();
  }
  const m = TRACE_IN_LINE.exec(line);
  return m ? m[1].toLowerCase() : null;
}

// ns timestamps are decimal strings (beyond a double's precision); compare them as numbers would.
const nsCompare = (a, b) => (a.length - b.length) || (a < b ? -1 : a > b ? 1 : 0);
const msToNs = (ms) => `${Math.round(ms)}000000`;
const nsToMs = (ns) => Number(ns.length > 6 ? ns.slice(0, -6) : '0') + Number(ns.slice(-6)) / 1e6;
const nsPlus = (ns, delta) => (BigInt(ns) + BigInt(delta)).toString();

function labelsText(labels) {
  const names = Object.keys(labels).sort();
  return `{${names.map((n) => `${n}=${JSON.stringify(labels[n])}`).join(', ')}}`;
}

/** Log queries ask for Loki's categorised streams: each line with its structured metadata (and its detected level). */
const CATEGORIZED = { 'X-Loki-Response-Encoding-Flags': 'categorize-labels' };

/** The entries of a streams answer, each `{ns, ms, line, labels, key}`; a categorised line's labels are its stream's,
 *  its structured metadata and its parsed labels. */
function entriesOf(result) {
  const out = [];
  for (const stream of result || []) {
    const streamLabels = stream.stream || {};
    for (const [ns, line, categories] of stream.values || []) {
      const labels = categories ? { ...streamLabels, ...categories.structuredMetadata, ...categories.parsed } : streamLabels;
      out.push({ ns, ms: nsToMs(ns), line, labels, key: `${ns}\u0000${labelsText(labels)}\u0000${line}` });
    }
  }
  return out;
}

// -- The page -----------------------------------------------------------------------------------------------------------

let page = null;

export default {
  id: 'logs',
  title: 'Logs',
  mount(root, route) {
    page = new LogsPage(root, route);
    page.run({ save: false });
  },
  unmount() {
    page?.stop();
    page = null;
  },
};

class LogsPage {
  constructor(root, route) {
    const p = route.params;
    this.generation = 0;
    this.controller = null;
    this.liveTimer = null;
    this.live = p.get('live') === '1' || p.get('live') === 'true';
    this.stopped = false;
    this.rowEntries = new WeakMap();
    this.streamLabelNames = null;

    this.queryInput = h('textarea', {
      id: 'logs-query', class: 'query', rows: 1, spellcheck: false, 'aria-label': 'LogQL query',
      placeholder: '{service="payments"} |= "error"   (Enter runs, Shift+Enter adds a line)',
    });
    this.queryInput.value = p.get('query') ?? DEFAULT_QUERY;
    this.fitQuery();
    this.queryInput.addEventListener('input', () => this.fitQuery());
    onEnter(this.queryInput, () => this.run());

    this.picker = timeRangePicker({
      from: p.get('from') || DEFAULT_FROM, to: p.get('to') || 'now', onChange: () => this.run(),
    });
    this.limitInput = h('input', {
      id: 'logs-limit', type: 'number', min: '1', max: String(MAX_LIMIT), step: '1', value: p.get('limit') || String(DEFAULT_LIMIT),
      'aria-label': 'Line limit', title: `The most lines to show (1 to ${MAX_LIMIT.toLocaleString()})`,
    });
    onEnter(this.limitInput, () => this.run());
    this.limitInput.addEventListener('change', () => {
      if (Number(this.limitInput.value) !== this.limit) this.run();
    });
    this.liveButton = h('button', {
      id: 'logs-live', type: 'button', class: 'ghost toggle', 'aria-pressed': String(this.live),
      title: 'Live tail: show new lines as they arrive (polls every 1.5 s)', onclick: () => this.setLive(!this.live),
    }, 'Live');
    this.status = h('span', { id: 'logs-status', class: 'muted small', role: 'status' });

    this.histogram = histogram({ height: 120, onBrush: (a, b) => this.zoom(a, b) });
    this.histogramPanel = h('section', { id: 'logs-histogram', class: 'panel', 'aria-label': 'Matching lines over time' },
      h('div', { class: 'row small muted' }, h('span', {}, 'Lines over time'), h('span', { class: 'spacer' }),
        h('span', {}, 'drag across the bars to zoom in')),
      this.histogram.element,
      h('div', { class: 'histogram-message' }));
    this.metricPanel = h('section', { id: 'logs-metric', class: 'panel', hidden: true });
    this.messages = h('div', { id: 'logs-messages' });
    this.list = h('div', { id: 'logs-list', class: 'logs-list', role: 'list', 'aria-label': 'Log lines, newest first' });
    this.list.addEventListener('click', (event) => {
      if (event.target.closest('a, button, .log-details')) return;
      const row = event.target.closest('.log-row');
      if (row && !window.getSelection()?.toString()) this.toggle(row);
    });
    this.list.addEventListener('keydown', (event) => {
      if ((event.key !== 'Enter' && event.key !== ' ') || !event.target.classList?.contains('log-row')) return;
      event.preventDefault();
      this.toggle(event.target);
    });

    this.root = h('div', { class: 'page-logs' },
      h('section', { class: 'panel logs-form' },
        h('div', { class: 'row' },
          h('div', { class: 'grow' }, this.queryInput),
          h('button', { id: 'logs-run', type: 'button', onclick: () => this.run() }, 'Run query')),
        h('div', { class: 'row' },
          this.picker.element,
          h('label', { class: 'small muted' }, 'Limit', this.limitInput),
          this.liveButton,
          h('span', { class: 'spacer' }),
          this.status)),
      this.histogramPanel,
      this.metricPanel,
      this.messages,
      this.list);
    root.append(this.root);
  }

  fitQuery() {
    const lines = this.queryInput.value.split('\n').length;
    this.queryInput.rows = Math.min(8, Math.max(1, lines));
  }

  params() {
    return {
      query: this.queryInput.value.trim(), from: this.picker.from, to: this.picker.to,
      limit: this.limitInput.value.trim(), live: this.live ? '1' : null,
    };
  }

  save(replace) {
    saveRoute('logs', this.params(), { replace });
  }

  stop() {
    this.stopped = true;
    this.generation++;
    this.controller?.abort();
    clearTimeout(this.liveTimer);
    this.liveTimer = null;
  }

  showError(message) {
    this.messages.replaceChildren(notice('error', message));
  }

  setStatus(text, data = {}) {
    this.status.textContent = text;
    for (const key of ['shown', 'total', 'limitHit', 'live']) delete this.status.dataset[key];
    Object.assign(this.status.dataset, data);
  }

  zoom(startMs, endMs) {
    this.picker.set(isoTime(startMs), isoTime(endMs));
    this.run();
  }

  /** Reads the controls, runs the query (and its histogram) and shows the result. The page's `data-state` is
   *  running/done and `data-runs` counts finished runs (hooks for tests). */
  async run(options) {
    const generation = this.generation + 1;
    this.root.dataset.state = 'running';
    try {
      await this.execute(options);
    } catch (error) {
      if (generation === this.generation && !this.stopped) this.showError(`The page failed: ${messageOf(error)}`);
    } finally {
      if (generation === this.generation && !this.stopped) {
        this.root.dataset.state = 'done';
        this.root.dataset.runs = String(Number(this.root.dataset.runs || 0) + 1);
      }
    }
  }

  async execute({ save = true } = {}) {
    this.generation++;
    const generation = this.generation;
    this.controller?.abort();
    clearTimeout(this.liveTimer);
    this.liveTimer = null;
    const controller = new AbortController();
    this.controller = controller;
    const current = () => generation === this.generation && !this.stopped;

    const query = this.queryInput.value.trim();
    clear(this.messages);
    if (!query) {
      this.showError('Enter a LogQL query, e.g. {service="payments"} |= "error".');
      return;
    }
    const limit = Number(this.limitInput.value);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      this.showError(`The limit must be a whole number from 1 to ${MAX_LIMIT.toLocaleString()}, not "${this.limitInput.value}".`);
      return;
    }
    let range;
    try {
      range = this.picker.range();
    } catch (error) {
      this.showError(`Bad time range: ${error.message}`);
      return;
    }
    if (save) this.save(false);

    if (!isLogQuery(query)) {
      await this.runMetric(query, range, controller.signal, current);
      return;
    }
    this.metricPanel.hidden = true;
    this.histogramPanel.hidden = false;
    this.liveButton.disabled = false;

    // ~100 bars of a whole number of ms each, ending at the range's end; lines and bars cover the same (start, end].
    const stepMs = Math.max(1, Math.ceil((range.endMs - range.startMs) / BUCKETS));
    const startMs = range.endMs - BUCKETS * stepMs;
    const endMs = range.endMs;
    this.range = { startMs, endMs, stepMs };
    this.query = query;
    this.limit = limit;
    this.pattern = filterPattern(lineFilters(query));
    this.setStatus('running…');
    this.list.classList.add('stale');
    const started = performance.now();

    const lines = this.fetchLines(query, msToNs(startMs), msToNs(endMs), limit, controller.signal);
    const bars = this.fetchHistogram(query, startMs, endMs, stepMs, controller.signal);
    const names = call('/loki/api/v1/labels', {
      params: { query, start: msToNs(startMs), end: msToNs(endMs) }, signal: controller.signal,
    }).then((body) => new Set(body?.data || []), () => null);
    const [linesResult, barsResult, streamNames] = await Promise.allSettled([lines, bars, names]);
    if (!current()) return;
    this.list.classList.remove('stale');

    if (linesResult.status === 'rejected') {
      if (linesResult.reason?.name === 'AbortError') return;
      clear(this.list);
      this.histogramPanel.hidden = true;
      this.setStatus('');
      this.showError(messageOf(linesResult.reason));
      return;
    }
    this.streamLabelNames = streamNames.value;
    let total = null;
    const histogramMessage = this.histogramPanel.querySelector('.histogram-message');
    clear(histogramMessage);
    if (barsResult.status === 'fulfilled') {
      total = barsResult.value.total;
      this.histogram.setData(barsResult.value.buckets, { startMs, endMs, stepMs });
      this.histogram.element.dataset.startMs = String(startMs);
      this.histogram.element.dataset.endMs = String(endMs);
      this.histogram.element.dataset.stepMs = String(stepMs);
    } else if (barsResult.reason?.name !== 'AbortError') {
      histogramMessage.append(notice('error', `The histogram failed: ${messageOf(barsResult.reason)}`));
    }

    const entries = linesResult.value;
    await this.render(entries, generation);
    if (!current()) return;
    const shown = entries.length;
    const limitHit = shown >= limit;
    let text;
    if (shown === 0) text = 'no lines';
    else if (limitHit && total !== null && total > shown) text = `showing ${shown.toLocaleString()} of ${total.toLocaleString()} lines (the limit was reached)`;
    else if (limitHit) text = `showing ${shown.toLocaleString()} lines (the limit was reached; there may be more)`;
    else text = `showing ${shown.toLocaleString()} ${shown === 1 ? 'line' : 'lines'}`;
    this.setStatus(text, {
      shown: String(shown), total: total === null ? '' : String(total), limitHit: String(limitHit),
    });
    this.list.dataset.renderMs = String(Math.round(performance.now() - started));
    if (shown === 0) {
      this.messages.append(notice('empty', 'No lines match this query in the selected range. Widen the range or loosen the query.'));
    } else if (limitHit) {
      this.messages.append(h('div', { class: 'limit-note small muted', dataset: { limitHit: 'true' } },
        `The limit of ${limit.toLocaleString()} lines was reached: these are the newest. Narrow the range (drag across the histogram) or raise the limit (up to ${MAX_LIMIT.toLocaleString()}).`));
    }
    this.newest = entries.length > 0 ? entries[0].ns : msToNs(Math.min(Date.now(), endMs));
    this.seenAtNewest = new Set(entries.filter((e) => e.ns === this.newest).map((e) => e.key));
    if (this.live) this.scheduleLive(0);
  }

  /** Up to `limit` lines of [startNs, endNs] newest first, read in pages of at most the server's limit. */
  async fetchLines(query, startNs, endNs, limit, signal) {
    const all = [];
    const seen = new Set();
    // (start, end] like the histogram's count_over_time windows: Loki reads log queries as [start, end).
    const start = nsPlus(startNs, 1);
    let end = nsPlus(endNs, 1);
    while (all.length < limit) {
      const want = Math.min(limit - all.length + seen.size, pageMax);
      let body;
      try {
        body = await call('/loki/api/v1/query_range', {
          params: { query, start, end, limit: want, direction: 'backward' }, headers: CATEGORIZED, signal,
        });
      } catch (error) {
        const m = error instanceof ApiError && /max_entries_limit_per_query \((\d+) > (\d+)\)/.exec(error.message);
        if (m && Number(m[2]) > 0 && Number(m[2]) < pageMax) { pageMax = Number(m[2]); continue; }
        throw error;
      }
      if (body?.data?.resultType !== 'streams') throw new ApiError(200, 'the server did not answer this log query with streams');
      const page = entriesOf(body.data.result);
      page.sort((a, b) => nsCompare(b.ns, a.ns));
      let added = 0;
      for (const e of page) {
        if (seen.has(e.key) || all.length >= limit) continue;
        all.push(e);
        added++;
      }
      if (page.length < want || added === 0 || all.length >= limit) break;
      // The next page ends at the oldest line read, which it includes again (lines of the same ns may have been cut).
      const oldest = page[page.length - 1].ns;
      seen.clear();
      for (const e of all) if (e.ns === oldest) seen.add(e.key);
      end = nsPlus(oldest, 1);
    }
    return all;
  }

  async fetchHistogram(query, startMs, endMs, stepMs, signal) {
    const metric = `sum(count_over_time(${query}\n[${stepMs}ms]))`;
    const body = await call('/loki/api/v1/query_range', {
      params: { query: metric, start: msToNs(startMs + stepMs), end: msToNs(endMs), step: `${stepMs}ms` }, signal,
    });
    const buckets = [];
    let total = 0;
    for (const series of body?.data?.result || []) {
      for (const [t, v] of series.values || []) {
        const count = Number(v);
        buckets.push([Math.round(Number(t) * 1000) - stepMs, count]);
        total += count;
      }
    }
    buckets.sort((a, b) => a[0] - b[0]);
    return { buckets, total };
  }

  /** Builds the rows a chunk at a time: the first chunk at once (what the screen shows), then one per task, so the
   *  page keeps answering input while 10,000 rows go in. Resolves when every row is in, or when a newer run took
   *  over. Details are built when a row is expanded. */
  async render(entries, generation) {
    const started = performance.now();
    this.list.replaceChildren();
    for (let i = 0; i < entries.length; i += RENDER_CHUNK) {
      if (i > 0) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        if (generation !== this.generation || this.stopped) return;
      }
      const fragment = document.createDocumentFragment();
      for (const entry of entries.slice(i, i + RENDER_CHUNK)) fragment.append(this.row(entry));
      this.list.append(fragment);
    }
    this.list.dataset.count = String(entries.length);
    this.list.dataset.domMs = String(Math.round(performance.now() - started));
  }

  row(entry) {
    const row = document.createElement('div');
    row.className = 'log-row';
    row.tabIndex = 0;
    row.setAttribute('role', 'listitem');
    row.setAttribute('aria-expanded', 'false');
    row.dataset.ns = entry.ns;
    const level = entry.labels.level || entry.labels.detected_level || entry.labels.severity_text;
    if (level) row.dataset.level = level.toLowerCase();
    this.rowEntries.set(row, entry);

    const time = document.createElement('span');
    time.className = 'log-time';
    time.textContent = formatTime(entry.ms, { millis: true });
    const labels = document.createElement('span');
    labels.className = 'log-labels';
    labels.textContent = this.streamSummary(entry.labels);
    labels.title = labels.textContent;
    const line = document.createElement('span');
    line.className = 'log-line';
    line.append(this.pattern ? highlight(entry.line, this.pattern) : entry.line);
    row.append(time, labels, line);
    const trace = traceIdOf(entry.labels, entry.line);
    if (trace) {
      const link = document.createElement('a');
      link.className = 'trace-link';
      link.href = `#/traces/${trace}`;
      link.dataset.traceId = trace;
      link.title = `Open trace ${trace}`;
      link.textContent = `trace ${trace.slice(0, 8)}`;
      row.append(link);
    }
    return row;
  }

  /** The stream labels of an entry (not its structured metadata) as `name=value …`. */
  streamSummary(labels) {
    const names = this.streamLabelNames;
    const parts = [];
    for (const name of Object.keys(labels).sort()) {
      if (names && !names.has(name)) continue;
      if (name === 'level') continue; // shown by the row's colour, and in the details
      if (name === 'service') parts.unshift(`${name}=${labels[name]}`);
      else parts.push(`${name}=${labels[name]}`);
    }
    return parts.join(' ');
  }

  toggle(row) {
    let details = row.querySelector(':scope > .log-details');
    const open = row.getAttribute('aria-expanded') !== 'true';
    row.setAttribute('aria-expanded', String(open));
    if (!open) {
      if (details) details.hidden = true;
      return;
    }
    if (!details) {
      details = this.details(this.rowEntries.get(row));
      row.append(details);
    }
    details.hidden = false;
  }

  details(entry) {
    const names = this.streamLabelNames;
    const trace = traceIdOf(entry.labels, entry.line);
    const rows = Object.keys(entry.labels).sort().map((name) => {
      const kind = !names || names.has(name) ? 'stream label' : 'structured metadata';
      const value = entry.labels[name];
      const isTrace = TRACE_LABELS.includes(name) && trace === value.toLowerCase();
      return h('tr', { dataset: { label: name, kind: kind === 'stream label' ? 'stream' : 'metadata' } },
        h('td', { class: 'mono' }, name),
        h('td', { class: 'mono' }, isTrace ? h('a', { href: `#/traces/${trace}`, class: 'trace-link' }, value) : value),
        h('td', { class: 'muted small' }, kind));
    });
    return h('div', { class: 'log-details' },
      h('table', { class: 'grid' },
        h('tbody', {},
          h('tr', {}, h('td', { class: 'mono' }, 'time'),
            h('td', { class: 'mono' }, `${isoTime(entry.ms)} (${entry.ns} ns)`), h('td', { class: 'muted small' }, '')),
          rows,
          trace && !TRACE_LABELS.some((n) => entry.labels[n]) ? h('tr', {}, h('td', { class: 'mono' }, 'trace'),
            h('td', { class: 'mono' }, h('a', { href: `#/traces/${trace}`, class: 'trace-link' }, trace)),
            h('td', { class: 'muted small' }, 'from the line')) : null)),
      h('div', { class: 'row' },
        h('button', {
          type: 'button', class: 'ghost small', onclick: () => navigator.clipboard?.writeText(entry.line).catch(() => {}),
        }, 'Copy line')));
  }

  // -- live tail ------------------------------------------------------------------------------------------------------

  setLive(on) {
    this.live = on;
    this.liveButton.setAttribute('aria-pressed', String(on));
    this.liveButton.textContent = on ? 'Live ●' : 'Live';
    this.save(true);
    clearTimeout(this.liveTimer);
    this.liveTimer = null;
    if (on && this.query) this.scheduleLive(0);
    if (!on) this.status.dataset.live = 'false';
  }

  scheduleLive(delay) {
    if (this.stopped || !this.live) return;
    this.liveButton.textContent = 'Live ●';
    this.status.dataset.live = 'true';
    const generation = this.generation;
    this.liveTimer = setTimeout(() => this.poll(generation), delay);
  }

  async poll(generation) {
    if (generation !== this.generation || this.stopped || !this.live) return;
    try {
      const body = await call('/loki/api/v1/query_range', {
        params: {
          query: this.query, start: this.newest, end: msToNs(Date.now() + 1000),
          limit: Math.min(this.limit, pageMax), direction: 'forward',
        },
        headers: CATEGORIZED,
        signal: this.controller?.signal,
      });
      if (generation !== this.generation || this.stopped || !this.live) return;
      const fresh = entriesOf(body?.data?.result).filter((e) => !(e.ns === this.newest && this.seenAtNewest.has(e.key)));
      if (fresh.length > 0) this.prepend(fresh);
      this.liveError = null;
    } catch (error) {
      if (error?.name === 'AbortError' || generation !== this.generation) return;
      this.liveError = messageOf(error);
      this.status.textContent = `live tail failed, retrying: ${this.liveError}`;
    }
    this.scheduleLive(LIVE_EVERY_MS);
  }

  prepend(fresh) {
    fresh.sort((a, b) => nsCompare(b.ns, a.ns));
    if (nsCompare(fresh[0].ns, this.newest) > 0) {
      this.newest = fresh[0].ns;
      this.seenAtNewest = new Set();
    }
    for (const e of fresh) if (e.ns === this.newest) this.seenAtNewest.add(e.key);
    const fragment = document.createDocumentFragment();
    for (const entry of fresh.slice(0, this.limit)) {
      const row = this.row(entry);
      row.classList.add('fresh');
      fragment.append(row);
    }
    this.list.prepend(fragment);
    while (this.list.childElementCount > this.limit) this.list.lastElementChild.remove();
    const shown = this.list.childElementCount;
    this.list.dataset.count = String(shown);
    this.messages.querySelector('[data-notice="empty"]')?.remove();
    this.setStatus(`showing ${shown.toLocaleString()} ${shown === 1 ? 'line' : 'lines'} · live`, {
      shown: String(shown), limitHit: String(shown >= this.limit), live: 'true',
    });
  }

  // -- metric queries -------------------------------------------------------------------------------------------------

  async runMetric(query, range, signal, current) {
    this.query = null;
    this.histogramPanel.hidden = true;
    clear(this.list);
    this.list.dataset.count = '0';
    if (this.live) this.setLive(false);
    this.liveButton.disabled = true;
    this.setStatus('running…');
    const stepMs = Math.max(1000, Math.ceil((range.endMs - range.startMs) / 250 / 1000) * 1000);
    let body;
    try {
      body = await call('/loki/api/v1/query_range', {
        params: { query, start: msToNs(range.startMs), end: msToNs(range.endMs), step: `${stepMs}ms` }, signal,
      });
    } catch (error) {
      if (error?.name === 'AbortError' || !current()) return;
      this.metricPanel.hidden = true;
      this.setStatus('');
      this.showError(messageOf(error));
      return;
    }
    if (!current()) return;
    const data = body?.data || {};
    const panel = this.metricPanel;
    clear(panel);
    panel.hidden = false;
    panel.dataset.resultType = data.resultType || '';
    panel.append(h('div', { class: 'small muted' },
      'This is a metric query: its result is shown as a chart and a table instead of log lines.'));
    let series = [];
    if (data.resultType === 'matrix') {
      series = data.result.map((s) => ({ name: labelsText(s.metric || {}), points: s.values.map(([t, v]) => [t * 1000, Number(v)]) }));
    } else if (data.resultType === 'vector') {
      series = data.result.map((s) => ({ name: labelsText(s.metric || {}), points: [[s.value[0] * 1000, Number(s.value[1])]] }));
    } else if (data.resultType === 'scalar') {
      series = [{ name: 'scalar', points: [[data.result[0] * 1000, Number(data.result[1])]] }];
    } else if (data.resultType === 'streams') {
      this.showError('The server answered this query with log lines; start a log query with a stream selector { … }.');
      return;
    }
    panel.dataset.series = String(series.length);
    if (series.length === 0) {
      this.setStatus('no series');
      this.messages.append(notice('empty', 'This metric query has no data in the selected range.'));
      return;
    }
    if (!this.metricChart) this.metricChart = lineChart({ height: 280, onBrush: (a, b) => this.zoom(a, b) });
    panel.append(this.metricChart.element);
    this.metricChart.setData(series, { startMs: range.startMs, endMs: range.endMs, stepMs });
    panel.append(h('table', { class: 'grid metric-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Series'), h('th', { class: 'num' }, 'Last value'), h('th', { class: 'num' }, 'Points'))),
      h('tbody', {}, series.map((s) => h('tr', {},
        h('td', { class: 'mono' }, s.name),
        h('td', { class: 'num' }, s.points.length ? formatValue(s.points[s.points.length - 1][1]) : ''),
        h('td', { class: 'num' }, String(s.points.length)))))));
    this.setStatus(`${series.length} ${series.length === 1 ? 'series' : 'series'}`, { shown: '0' });
  }
}

function messageOf(error) {
  if (error instanceof ApiError) return error.message;
  return error?.message || String(error);
}
