// The Metrics page: PromQL queries (one or more) over a time range, drawn on one line chart or listed as a table of
// the instant values at the range's end. State in the URL: query (repeated), from, to, step, tab.
//
// Test hooks: `.page-metrics[data-runs]` counts finished runs; `#metrics-results[data-state]` is loading/done;
// `#metrics-graph` carries data-series (all series returned), data-drawn (series on the chart), data-points (the most
// points of one series), data-start-ms/data-end-ms/data-step-ms (the request); the chart's own data-series/data-visible
// (chart.js); table rows are `tr.metrics-row[data-query]`; notices carry data-notice (dom.js).

import { h, clear, notice, onEnter, autocomplete } from '../dom.js';
import { call, ApiError } from '../api.js';
import { saveRoute } from '../state.js';
import { timeRangePicker, parseDuration, formatDuration, formatTime, isoTime } from '../time.js';
import { lineChart } from '../chart.js';

const MAX_CHART_SERIES = 200;
const MAX_TABLE_ROWS = 1000;
const AUTO_POINTS = 250;

// Function and aggregation names offered next to metric names.
const FUNCTIONS = [
  'abs', 'absent', 'absent_over_time', 'avg', 'avg_over_time', 'bottomk', 'ceil', 'changes', 'clamp', 'clamp_max',
  'clamp_min', 'count', 'count_over_time', 'count_values', 'day_of_month', 'day_of_week', 'delta', 'deriv', 'exp',
  'floor', 'group', 'histogram_quantile', 'holt_winters', 'hour', 'idelta', 'increase', 'irate', 'label_join',
  'label_replace', 'last_over_time', 'ln', 'log10', 'log2', 'max', 'max_over_time', 'min', 'min_over_time', 'minute',
  'month', 'predict_linear', 'present_over_time', 'quantile', 'quantile_over_time', 'rate', 'resets', 'round',
  'scalar', 'sort', 'sort_desc', 'sqrt', 'stddev', 'stddev_over_time', 'stdvar', 'sum', 'sum_over_time', 'time',
  'timestamp', 'topk', 'vector', 'year',
];
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/** `metric{a="1", b="2"}` as Prometheus prints a series; `{}` for an empty label set. */
export function seriesName(metric) {
  const name = metric.__name__ || '';
  const labels = Object.keys(metric).filter((k) => k !== '__name__').sort()
    .map((k) => `${k}=${JSON.stringify(metric[k])}`);
  if (labels.length === 0) return name || '{}';
  return `${name}{${labels.join(', ')}}`;
}

/** A sample value as the API writes it ("1.5", "NaN", "+Inf"). */
function sampleValue(text) {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return parseFloat(text);
}

function escapeLabelValue(value) {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Prefix matches first, then other substring matches (case-insensitive), each alphabetically. */
function rank(items, prefix) {
  const p = prefix.toLowerCase();
  const starts = [];
  const contains = [];
  for (const item of items) {
    const l = item.toLowerCase();
    if (l.startsWith(p)) starts.push(item);
    else if (p && l.includes(p)) contains.push(item);
  }
  starts.sort();
  contains.sort();
  return [...starts, ...contains];
}

/**
 * Where the caret is in a PromQL text, for completion: `{kind: 'metric'|'label'|'value'|'grouping', prefix, from, to,
 * metric?, label?, used?}` or null. Strings, `{…}` selectors, `[…]` ranges and `(…)` groupings are tracked.
 */
export function completionContext(text, caret) {
  const before = text.slice(0, caret);
  let quote = null;
  let quoteAt = -1;
  let braceAt = -1;
  let brackets = 0;
  const parens = [];
  for (let i = 0; i < before.length; i++) {
    const c = before[i];
    if (quote) {
      if (c === '\\' && quote !== '`') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') { quote = c; quoteAt = i; }
    else if (c === '{') braceAt = i;
    else if (c === '}') braceAt = -1;
    else if (c === '[') brackets++;
    else if (c === ']') brackets = Math.max(0, brackets - 1);
    else if (c === '(') parens.push(i);
    else if (c === ')') parens.pop();
    else if (c === '#') return null; // a comment
  }
  const metricBefore = (index) => {
    const m = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*$/.exec(text.slice(0, index));
    return m && !GROUPING.has(m[1]) ? m[1] : null;
  };
  if (quote) {
    if (braceAt < 0 || quoteAt < braceAt) return null;
    const m = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*$/.exec(text.slice(braceAt + 1, quoteAt));
    if (!m) return null;
    let to = caret;
    while (to < text.length && text[to] !== quote && text[to] !== '\\') to++;
    return { kind: 'value', label: m[1], metric: metricBefore(braceAt), prefix: before.slice(quoteAt + 1), from: quoteAt + 1, to };
  }
  if (brackets > 0) return null;
  const wordMatch = /[a-zA-Z_:][a-zA-Z0-9_:]*$/.exec(before);
  const word = wordMatch ? wordMatch[0] : '';
  const from = caret - word.length;
  let to = caret;
  while (to < text.length && /[a-zA-Z0-9_:]/.test(text[to])) to++;
  if (braceAt >= 0) {
    const segment = before.slice(braceAt + 1);
    if (!/(^|,)\s*[a-zA-Z_]*[a-zA-Z0-9_]*$/.test(segment)) return null;
    const used = [...segment.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)].map((x) => x[1]);
    return { kind: 'label', prefix: word, from, to, metric: metricBefore(braceAt), used };
  }
  if (parens.length > 0) {
    const open = parens[parens.length - 1];
    const g = /([a-zA-Z_]+)\s*$/.exec(text.slice(0, open));
    if (g && GROUPING.has(g[1])) {
      if (!/(^|,)\s*[a-zA-Z0-9_]*$/.test(before.slice(open + 1))) return null;
      return { kind: 'grouping', prefix: word, from, to };
    }
  }
  if (!word) return null;
  // a number's exponent or a duration's unit is not a name
  if (from > 0 && /[0-9.]/.test(text[from - 1])) return null;
  return { kind: 'metric', prefix: word, from, to };
}

function emptyState() {
  return h('div', { class: 'muted small metrics-hint' },
    'Type a PromQL expression, e.g. ', h('code', {}, 'rate(node_cpu_seconds_total{mode="user"}[5m])'),
    ', and press Enter. Names complete as you type (Tab or Enter accepts).');
}

let controller = null;
let current = null; // the mounted view: {alive}

function mount(container, route) {
  const view = { alive: true };
  current = view;
  const params = route.params;
  const initialQueries = params.getAll('query');
  let tab = params.get('tab') === 'table' ? 'table' : 'graph';
  let runs = 0;
  let generation = 0;
  let lastSignature = { graph: null, table: null };
  let suppressCompletion = false;

  // --- completion data (fetched once per visit) ---------------------------------------------------------------------
  const cache = new Map();
  const cached = (key, load) => {
    if (!cache.has(key)) {
      const promise = load().catch((error) => { cache.delete(key); throw error; });
      cache.set(key, promise);
    }
    return cache.get(key);
  };
  const listCall = async (path, params) => {
    const body = await call(path, { params });
    return Array.isArray(body?.data) ? body.data : [];
  };
  const metricNames = () => cached('names', () => listCall('/api/v1/label/__name__/values'));
  const labelNames = (metric) => cached(`labels|${metric || ''}`,
    () => listCall('/api/v1/labels', metric ? { 'match[]': metric } : undefined));
  const labelValues = (label, metric) => cached(`values|${label}|${metric || ''}`,
    () => listCall(`/api/v1/label/${encodeURIComponent(label)}/values`, metric ? { 'match[]': metric } : undefined));

  async function complete(text, caret) {
    if (suppressCompletion) return null;
    const ctx = completionContext(text, caret);
    if (!ctx) return null;
    let items;
    if (ctx.kind === 'metric') {
      items = rank([...new Set([...(await metricNames()), ...FUNCTIONS])], ctx.prefix);
    } else if (ctx.kind === 'label') {
      const names = (await labelNames(ctx.metric)).filter((n) => n !== '__name__' && !ctx.used.includes(n));
      items = rank(names, ctx.prefix);
    } else if (ctx.kind === 'grouping') {
      items = rank((await labelNames(null)).filter((n) => n !== '__name__'), ctx.prefix);
    } else {
      const values = (await labelValues(ctx.label, ctx.metric)).map(escapeLabelValue);
      items = rank(values, ctx.prefix);
    }
    // Nothing to offer when the word is already complete, so Enter runs the query.
    if (items.length === 0 || items.includes(ctx.prefix)) return null;
    return { items, from: ctx.from, to: ctx.to };
  }

  // --- controls ----------------------------------------------------------------------------------------------------
  const picker = timeRangePicker({
    from: params.get('from') || 'now-1h',
    to: params.get('to') || 'now',
    onChange: () => run(),
  });
  const stepInput = h('input', {
    type: 'text', id: 'metrics-step', class: 'mono', value: params.get('step') || '', placeholder: 'auto',
    'aria-label': 'Step', title: 'Resolution: a duration like 15s or 1m; empty for auto (the range over ~250 points)',
  });
  onEnter(stepInput, () => run());
  const runButton = h('button', { type: 'button', id: 'metrics-run', onclick: () => run() }, 'Run');
  const tabButton = (id, label) => h('button', {
    type: 'button', id: `metrics-tab-${id}`, class: 'ghost toggle', 'aria-pressed': String(tab === id),
    onclick: () => showTab(id),
  }, label);
  const graphTab = tabButton('graph', 'Graph');
  const tableTab = tabButton('table', 'Table');
  const addButton = h('button', { type: 'button', id: 'metrics-add', class: 'ghost', onclick: () => addQuery('', true) }, '+ Add query');

  const queryList = h('div', { class: 'stack metrics-queries', id: 'metrics-queries' });
  const rows = [];

  function renumber() {
    rows.forEach((row, i) => {
      row.label.textContent = `#${i + 1}`;
      row.input.dataset.queryIndex = String(i);
      row.input.setAttribute('aria-label', `Query #${i + 1}`);
      row.remove.hidden = rows.length === 1;
      row.remove.setAttribute('aria-label', `Remove query #${i + 1}`);
    });
  }

  function addQuery(text, focus = false) {
    const input = h('textarea', {
      class: 'query metrics-query', rows: 1, spellcheck: 'false', autocomplete: 'off',
      placeholder: 'PromQL expression, e.g. node_load1 or sum by (instance) (rate(node_cpu_seconds_total[5m])) — Enter runs, Shift+Enter adds a line',
    });
    input.value = text;
    // One line high, growing with the text (long queries wrap instead of scrolling sideways).
    const fit = () => {
      input.style.height = 'auto';
      input.style.height = `${input.scrollHeight + 2}px`;
    };
    input.addEventListener('input', () => { suppressCompletion = false; fit(); });
    requestAnimationFrame(fit);
    const wrapper = autocomplete(input, complete);
    wrapper.classList.add('grow');
    onEnter(input, () => run());
    const row = { input };
    row.label = h('span', { class: 'muted mono metrics-query-label' });
    row.remove = h('button', {
      type: 'button', class: 'ghost small metrics-remove', title: 'Remove this query',
      onclick: () => {
        const index = rows.indexOf(row);
        rows.splice(index, 1);
        row.element.remove();
        renumber();
        rows[Math.min(index, rows.length - 1)].input.focus();
        run();
      },
    }, '✕');
    row.element = h('div', { class: 'row metrics-query-row' }, row.label, wrapper, row.remove);
    rows.push(row);
    queryList.append(row.element);
    renumber();
    if (focus) input.focus();
    return row;
  }

  // --- results -------------------------------------------------------------------------------------------------------
  const chart = lineChart({
    height: 340,
    onBrush: (startMs, endMs) => {
      picker.set(isoTime(startMs), isoTime(endMs));
      run();
    },
  });
  const summary = h('div', { class: 'muted small metrics-summary', id: 'metrics-summary', 'aria-live': 'polite' });
  const notices = h('div', { id: 'metrics-notices' });
  const graphView = h('div', { id: 'metrics-graph', hidden: true }, chart.element);
  const tableView = h('div', { id: 'metrics-table', hidden: true });
  const results = h('div', { class: 'panel metrics-results', id: 'metrics-results', dataset: { state: 'idle' } },
    summary, notices, graphView, tableView);

  const root = h('div', { class: 'page-metrics', dataset: { runs: '0' } },
    h('div', { class: 'panel stack' },
      queryList,
      h('div', { class: 'row metrics-controls' },
        addButton,
        h('span', { class: 'spacer' }),
        picker.element,
        h('label', { class: 'metrics-step-label' }, h('span', { class: 'muted' }, 'Step'), stepInput),
        runButton,
        h('span', { class: 'row metrics-tabs', role: 'group', 'aria-label': 'View' }, graphTab, tableTab))),
    results);
  container.append(root);

  for (const text of initialQueries.length ? initialQueries : ['']) addQuery(text);

  function showTab(id) {
    tab = id;
    graphTab.setAttribute('aria-pressed', String(id === 'graph'));
    tableTab.setAttribute('aria-pressed', String(id === 'table'));
    run({ replace: true, onlyIfStale: true });
  }

  function currentQueries() {
    return rows.map((row) => row.input.value.trim());
  }

  function saveState(queries, replace) {
    saveRoute('metrics', {
      query: queries.length ? queries : undefined, from: picker.from, to: picker.to, step: stepInput.value.trim(),
      tab: tab === 'table' ? 'table' : undefined,
    }, { replace });
  }

  function finish(state) {
    results.dataset.state = state;
    runs += 1;
    root.dataset.runs = String(runs);
  }

  async function run({ replace = false, onlyIfStale = false } = {}) {
    if (!view.alive) return;
    suppressCompletion = true;
    const all = currentQueries();
    const queries = all.map((q, i) => ({ text: q, index: i })).filter((q) => q.text);
    saveState(all.filter(Boolean), replace);
    graphView.hidden = tab !== 'graph';
    tableView.hidden = tab !== 'table';

    let range;
    let stepMs;
    const now = Date.now();
    try {
      range = picker.range(now);
      const stepText = stepInput.value.trim();
      const span = range.endMs - range.startMs;
      stepMs = stepText ? parseDuration(stepText) : Math.max(1000, Math.round(span / AUTO_POINTS / 1000) * 1000);
      if (!(stepMs > 0)) throw new Error(`the step must be positive (${stepText})`);
      stepInput.placeholder = `auto (${formatDuration(Math.max(1000, Math.round(span / AUTO_POINTS / 1000) * 1000))})`;
    } catch (error) {
      generation++;
      controller?.abort();
      clear(notices).append(notice('error', error.message));
      summary.textContent = '';
      finish('done');
      return;
    }

    const signature = JSON.stringify([queries.map((q) => q.text), picker.from, picker.to, stepInput.value.trim()]);
    const relative = /now/.test(picker.from) || /now/.test(picker.to);
    if (onlyIfStale && lastSignature[tab] === signature && !relative) return;
    lastSignature = { graph: null, table: null };
    lastSignature[tab] = signature;

    const mine = ++generation;
    controller?.abort();
    controller = new AbortController();
    const { signal } = controller;
    clear(notices);

    if (queries.length === 0) {
      summary.textContent = '';
      notices.append(emptyState());
      graphView.hidden = true;
      tableView.hidden = true;
      finish('done');
      return;
    }

    results.dataset.state = 'loading';
    summary.textContent = 'Loading…';
    const started = performance.now();
    const many = queries.length > 1;
    const path = tab === 'graph' ? '/api/v1/query_range' : '/api/v1/query';
    const requestParams = tab === 'graph'
      ? { start: (range.startMs / 1000).toFixed(3), end: (range.endMs / 1000).toFixed(3), step: String(stepMs / 1000) }
      : { time: (range.endMs / 1000).toFixed(3) };
    const answers = await Promise.all(queries.map(async (q) => {
      try {
        const body = await call(path, { params: { query: q.text, ...requestParams }, signal });
        if (body?.status && body.status !== 'success') throw new ApiError(200, body.error || 'query failed');
        return { query: q, data: body?.data, warnings: body?.warnings || [], infos: body?.infos || [] };
      } catch (error) {
        return { query: q, error };
      }
    }));
    if (mine !== generation || !view.alive) return;
    const took = Math.round(performance.now() - started);

    const tag = (a) => (many ? `#${a.query.index + 1}: ` : '');
    for (const a of answers) {
      if (a.error) {
        if (a.error.name === 'AbortError') return;
        notices.append(notice('error', `${tag(a)}${a.error.message}`));
      }
      for (const w of a.warnings || []) notices.append(h('div', { class: 'notice warning', role: 'status', dataset: { notice: 'warning' } }, `${tag(a)}Warning: ${w}`));
      for (const info of a.infos || []) notices.append(notice('info', `${tag(a)}${info}`));
    }

    if (tab === 'graph') {
      const series = [];
      for (const a of answers) {
        if (a.error || !a.data) continue;
        const list = a.data.resultType === 'matrix' ? a.data.result : [];
        a.count = list.length;
        for (const s of list) {
          series.push({
            name: `${many ? `#${a.query.index + 1} ` : ''}${seriesName(s.metric || {})}`,
            points: (s.values || []).map(([t, v]) => [Math.round(t * 1000), sampleValue(v)]),
          });
        }
      }
      emptyNotices(answers, many);
      const shown = series.slice(0, MAX_CHART_SERIES);
      if (series.length > MAX_CHART_SERIES) {
        notices.append(notice('info', `The chart shows the first ${MAX_CHART_SERIES} of ${series.length} series; narrow the query (e.g. sum by (…)) to see the rest, or use the table.`));
      }
      setGraph(shown, range, stepMs, series.length);
      graphView.hidden = series.length === 0;
      const counted = answers.filter((a) => !a.error).map((a) => `${tag(a)}${a.count ?? 0}`);
      if (counted.length === 0) summary.textContent = '';
      else summary.textContent = `${series.length.toLocaleString()} series${series.length > MAX_CHART_SERIES ? ` (showing ${MAX_CHART_SERIES})` : ''}`
        + `${many ? ` (${counted.join(', ')})` : ''} · step ${formatDuration(stepMs)} · ${formatTime(range.startMs)} to ${formatTime(range.endMs)} · ${took} ms`;
    } else {
      renderTable(answers, many, range.endMs);
      emptyNotices(answers, many);
      const total = answers.reduce((sum, a) => sum + (a.count || 0), 0);
      if (answers.every((a) => a.error)) summary.textContent = '';
      else summary.textContent = `${total.toLocaleString()} ${total === 1 ? 'row' : 'rows'} at ${formatTime(range.endMs)} (the range's end) · ${took} ms`;
    }
    finish('done');
  }

  function emptyNotices(answers, many) {
    const empty = answers.filter((a) => !a.error && a.count === 0);
    if (empty.length === 0) return;
    const what = many ? `Query ${empty.map((a) => `#${a.query.index + 1}`).join(', ')} returned` : 'The query returned';
    notices.append(notice('empty', `${what} no data in this time range.`));
  }

  function setGraph(series, range, stepMs, total) {
    chart.setData(series, { startMs: range.startMs, endMs: range.endMs, stepMs });
    const points = series.reduce((max, s) => Math.max(max, s.points.length), 0);
    Object.assign(graphView.dataset, {
      series: String(total), drawn: String(series.length), points: String(points),
      startMs: String(range.startMs), endMs: String(range.endMs), stepMs: String(stepMs),
    });
  }

  function renderTable(answers, many, timeMs) {
    const body = h('tbody');
    const fragment = document.createDocumentFragment();
    const capped = [];
    for (const a of answers) {
      a.count = 0;
      if (a.error || !a.data) continue;
      const { resultType, result } = a.data;
      let entries;
      if (resultType === 'vector') entries = result.map((s) => [seriesName(s.metric || {}), s.value?.[1]]);
      else if (resultType === 'matrix') entries = result.map((s) => [seriesName(s.metric || {}), (s.values || []).map((v) => `${v[1]} @${v[0]}`).join('\n')]);
      else if (resultType === 'scalar') entries = [['scalar', result[1]]];
      else if (resultType === 'string') entries = [['string', result[1]]];
      else entries = [];
      a.count = entries.length;
      if (entries.length > MAX_TABLE_ROWS) capped.push(`${many ? `#${a.query.index + 1}: ` : ''}showing ${MAX_TABLE_ROWS} of ${entries.length} rows`);
      for (const [name, value] of entries.slice(0, MAX_TABLE_ROWS)) {
        fragment.append(h('tr', { class: 'metrics-row', dataset: { query: String(a.query.index) } },
          many ? h('td', { class: 'muted mono' }, `#${a.query.index + 1}`) : null,
          h('td', { class: 'mono metrics-series' }, name),
          h('td', { class: 'num mono metrics-value' }, value ?? '')));
      }
    }
    body.append(fragment);
    clear(tableView);
    tableView.dataset.timeMs = String(timeMs);
    tableView.dataset.rows = String(body.children.length);
    for (const text of capped) tableView.append(notice('info', text));
    if (body.children.length === 0) return;
    tableView.append(h('table', { class: 'grid metrics-table' },
      h('thead', {}, h('tr', {}, many ? h('th', {}, 'Query') : null, h('th', {}, 'Series'),
        h('th', { class: 'num', title: `at ${isoTime(timeMs)}` }, 'Value'))),
      body));
  }

  if (initialQueries.some((q) => q.trim())) run({ replace: true });
  else {
    notices.append(emptyState());
    rows[0].input.focus();
  }
}

export default {
  id: 'metrics',
  title: 'Metrics',
  mount,
  unmount() {
    if (current) current.alive = false;
    current = null;
    controller?.abort();
    controller = null;
  },
};
