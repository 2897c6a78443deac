// The audit page: the tenant's audit trail (/api/v1/audit/events), newest first, with filters, cursor paging, export
// (NDJSON / CSV) and a chain check (/api/v1/audit/verify). The URL holds the filters and the page's cursor:
//   #/audit?action=invoice.*&outcome=denied&start=now-24h&limit=50&cursor=120
// Every read of the trail is itself recorded by the server as an audit event (audit.search, audit.export, audit.verify).

import { h, clear, notice, onEnter, download } from '../dom.js';
import { call, ApiError } from '../api.js';
import { saveRoute } from '../state.js';
import { formatTime, parseTime, isoTime } from '../time.js';

const FIELDS = [
  ['actor', 'Actor', 'actor id, e.g. user-1'],
  ['actor_type', 'Actor type', 'user, api-token…'],
  ['action', 'Action', 'invoice.update or invoice.*'],
  ['resource_type', 'Resource type', 'invoice'],
  ['resource_id', 'Resource id', 'r-12'],
  ['q', 'Text', 'words anywhere in the event'],
];
const OUTCOMES = ['success', 'failure', 'denied'];
const LIMITS = [25, 50, 100, 200, 500, 1000];
const DEFAULT_LIMIT = 100;

let ctx = null;

function outcomeClass(outcome) {
  return { success: 'ok', failure: 'error', denied: 'warn' }[outcome] || '';
}

function eventTime(text) {
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? text : formatTime(ms, { millis: true });
}

/** A start/end field for the API: "now-1h" style resolved here; anything else goes as typed (the server checks it). */
function apiTime(text, now) {
  const source = text.trim();
  if (!source) return '';
  if (/^now/.test(source)) return isoTime(parseTime(source, now));
  return source;
}

/** The filter fields' current values (trimmed, empty ones left out), plus limit. */
function readFilters() {
  const f = {};
  for (const [key] of FIELDS) {
    const value = ctx.inputs[key].value.trim();
    if (value) f[key] = value;
  }
  if (ctx.outcome.value) f.outcome = ctx.outcome.value;
  if (ctx.start.value.trim()) f.start = ctx.start.value.trim();
  if (ctx.end.value.trim()) f.end = ctx.end.value.trim();
  if (ctx.limit.value && Number(ctx.limit.value) !== DEFAULT_LIMIT) f.limit = ctx.limit.value;
  return f;
}

/** The API's query parameters for filters `f` (times resolved); throws with a clear message on a bad time. */
function apiParams(f, now = Date.now()) {
  const p = { ...f };
  for (const key of ['start', 'end']) {
    if (!p[key]) continue;
    try {
      p[key] = apiTime(p[key], now);
    } catch (error) {
      throw new Error(`${key === 'start' ? 'From' : 'To'} "${p[key]}" is not a time: ${error.message}`);
    }
  }
  return p;
}

async function search({ cursor = '', push = true, newer = false } = {}) {
  const mine = ++ctx.generation;
  const filters = readFilters();
  ctx.filters = filters;
  if (!newer) {
    if (!cursor) ctx.stack = [];
  }
  ctx.cursor = cursor;
  saveRoute('audit', { ...filters, cursor }, { replace: !push });
  let params;
  try {
    params = apiParams(filters);
  } catch (error) {
    showResult(notice('error', error.message));
    return;
  }
  ctx.searchButton.disabled = true;
  ctx.summary.textContent = 'Searching…';
  try {
    const answer = await call('/api/v1/audit/events', { params: { ...params, cursor } });
    if (!ctx || mine !== ctx.generation) return;
    renderEvents(answer);
  } catch (error) {
    if (!ctx || mine !== ctx.generation) return;
    showResult(notice('error', error instanceof ApiError ? error.message : `The search failed: ${error.message}`));
  } finally {
    if (ctx && mine === ctx.generation) ctx.searchButton.disabled = false;
  }
}

function showResult(content) {
  ctx.summary.textContent = '';
  ctx.pager.hidden = true;
  clear(ctx.results).append(content);
  ctx.results.dataset.state = content.dataset?.notice || 'done';
}

function renderEvents(answer) {
  const events = answer?.events || [];
  ctx.next = answer?.next_cursor || null;
  const page = ctx.stack.length + 1;
  if (events.length === 0) {
    showResult(notice('empty', ctx.cursor ? 'No older events on this page.' : 'No audit event matches these filters.'));
    ctx.pager.hidden = !ctx.cursor;
    ctx.newerButton.disabled = !ctx.cursor;
    ctx.nextButton.disabled = true;
    return;
  }
  const tbody = h('tbody');
  const fragment = document.createDocumentFragment();
  for (const event of events) fragment.append(eventRow(event));
  tbody.append(fragment);
  const table = h('table', { class: 'grid audit-table', id: 'audit-table' },
    h('thead', {}, h('tr', {},
      h('th', { class: 'expander' }), h('th', {}, 'Time'), h('th', {}, 'Actor'), h('th', {}, 'Action'), h('th', {}, 'Resource'),
      h('th', {}, 'Outcome'), h('th', { class: 'num' }, 'Seq'))),
    tbody);
  clear(ctx.results).append(table);
  ctx.results.dataset.state = 'done';
  const first = events[0].seq;
  const last = events[events.length - 1].seq;
  // On ClickHouse each server keeps its own chain (event.chain), so seqs of one page are not one range.
  const seqs = events.some((e) => e.chain) ? '' : `, seq ${first}–${last}`;
  ctx.summary.textContent = `Page ${page} · ${events.length} event${events.length === 1 ? '' : 's'}${seqs}${ctx.next ? ' · more below' : ' · the oldest match'}`;
  ctx.pager.hidden = false;
  ctx.newerButton.disabled = !ctx.cursor;
  ctx.nextButton.disabled = !ctx.next;
  ctx.results.dataset.page = String(page);
}

function eventRow(event) {
  const toggle = h('button', { type: 'button', class: 'ghost small expand', 'aria-expanded': 'false', 'aria-label': `Details of event ${event.seq}` }, '▸');
  const row = h('tr', {
    class: 'audit-event',
    dataset: { seq: String(event.seq), id: event.id, action: event.action, outcome: event.outcome, actor: event.actor?.id || '' },
  },
  h('td', { class: 'expander' }, toggle),
  h('td', { class: 'time mono small', title: `${event.time} (received ${event.received})` }, eventTime(event.time)),
  h('td', { class: 'actor' }, event.actor?.display || event.actor?.id || '', event.actor?.type ? h('span', { class: 'muted small' }, ` ${event.actor.type}`) : null),
  h('td', { class: 'action mono' }, event.action),
  h('td', { class: 'resource' }, h('span', { class: 'muted' }, `${event.resource?.type || ''}`), event.resource?.id ? ` ${event.resource.id}` : ''),
  h('td', {}, h('span', { class: `badge outcome ${outcomeClass(event.outcome)}`, dataset: { badge: event.outcome } }, event.outcome)),
  h('td', { class: 'num mono' }, String(event.seq)));
  let detail = null;
  const flip = () => {
    if (detail) {
      detail.remove();
      detail = null;
    } else {
      detail = h('tr', { class: 'audit-detail', dataset: { seq: String(event.seq) } }, h('td', { colspan: 7 }, eventDetail(event)));
      row.after(detail);
    }
    toggle.setAttribute('aria-expanded', String(Boolean(detail)));
    toggle.textContent = detail ? '▾' : '▸';
  };
  toggle.addEventListener('click', (e) => { e.stopPropagation(); flip(); });
  row.addEventListener('click', (e) => { if (!window.getSelection()?.toString()) flip(); });
  return row;
}

function json(value) {
  return JSON.stringify(value, null, 2);
}

function eventDetail(event) {
  const facts = [
    ['id', event.id], ['time', event.time], ['received', event.received],
    ['actor', [event.actor?.id, event.actor?.type && `(${event.actor.type})`, event.actor?.display && `“${event.actor.display}”`].filter(Boolean).join(' ')],
    ['action', event.action], ['resource', `${event.resource?.type || ''}${event.resource?.id ? ` ${event.resource.id}` : ''}`],
    ['outcome', event.outcome], ['reason', event.reason], ['request id', event.request_id], ['client', event.client_address],
    ['user agent', event.user_agent], ['seq', String(event.seq)], ['chain', event.chain], ['hash', event.hash],
  ].filter(([, v]) => v !== undefined && v !== null && v !== '');
  const parts = [h('dl', { class: 'facts' }, facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', { class: 'mono' }, v)]))];
  if (event.attributes && Object.keys(event.attributes).length) {
    parts.push(h('div', {}, h('h3', {}, 'Attributes'),
      h('dl', { class: 'facts' }, Object.entries(event.attributes).flatMap(([k, v]) => [h('dt', {}, k), h('dd', { class: 'mono' }, v)]))));
  }
  if (event.before !== undefined || event.after !== undefined) {
    parts.push(h('div', { class: 'before-after' },
      h('div', {}, h('h3', {}, 'Before'), h('pre', { class: 'json before' }, event.before === undefined ? '—' : json(event.before))),
      h('div', {}, h('h3', {}, 'After'), h('pre', { class: 'json after' }, event.after === undefined ? '—' : json(event.after)))));
  }
  parts.push(h('details', { class: 'raw' }, h('summary', { class: 'small muted' }, 'Raw event'), h('pre', { class: 'json raw-json' }, json(event))));
  return h('div', { class: 'event-detail stack' }, parts);
}

async function exportEvents(format, button) {
  let params;
  try {
    params = apiParams(readFilters());
  } catch (error) {
    ctx.exportStatus.replaceChildren(notice('error', error.message));
    return;
  }
  delete params.limit;
  button.disabled = true;
  ctx.exportStatus.replaceChildren(h('span', { class: 'muted small' }, `Exporting ${format.toUpperCase()}…`));
  try {
    const response = await call('/api/v1/audit/export', { params: { ...params, format }, raw: true });
    const text = await response.text();
    const disposition = response.headers.get('Content-Disposition') || '';
    const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] || `audit.${format}`;
    download(name, text, format === 'csv' ? 'text/csv' : 'application/x-ndjson');
    const lines = text.split('\n').filter((l) => l.trim()).length - (format === 'csv' ? 1 : 0);
    const status = h('span', { class: 'small', id: 'audit-export-done', dataset: { format, events: String(lines), file: name } },
      `Downloaded ${name}: ${lines} event${lines === 1 ? '' : 's'}.`);
    ctx?.exportStatus.replaceChildren(status);
  } catch (error) {
    ctx?.exportStatus.replaceChildren(notice('error', `The export failed: ${error.message}`));
  } finally {
    button.disabled = false;
  }
}

async function verify() {
  const from = ctx.verifyFrom.value.trim();
  ctx.verifyButton.disabled = true;
  ctx.verifyResult.replaceChildren(h('span', { class: 'muted small' }, 'Checking the chain…'));
  delete ctx.verifyResult.dataset.ok;
  try {
    let param = from;
    if (/^now/.test(from)) param = isoTime(parseTime(from));
    const r = await call('/api/v1/audit/verify', { params: { from: param } });
    if (!ctx) return;
    ctx.verifyResult.dataset.ok = String(Boolean(r.ok));
    const counts = `${r.events_checked} event${r.events_checked === 1 ? '' : 's'} and ${r.digests_checked} signed digest${r.digests_checked === 1 ? '' : 's'} checked, last seq ${r.last_seq}${from ? `, from ${from}` : ''}`;
    if (r.ok) {
      ctx.verifyResult.replaceChildren(h('div', { class: 'notice verify-ok' },
        h('span', { class: 'badge ok' }, 'intact'), ` The ${r.tenant} audit chain is intact: ${counts}.`));
    } else {
      const b = r.first_broken || {};
      ctx.verifyResult.dataset.brokenSeq = String(b.seq ?? '');
      ctx.verifyResult.replaceChildren(h('div', { class: 'notice error verify-broken', role: 'alert' },
        h('span', { class: 'badge error' }, 'broken'), ` The chain breaks at seq ${b.seq}${b.id ? ` (event ${b.id})` : ''}: ${b.reason}. ${counts}.`));
    }
  } catch (error) {
    if (ctx) ctx.verifyResult.replaceChildren(notice('error', `The check failed: ${error.message}`));
  } finally {
    if (ctx) ctx.verifyButton.disabled = false;
  }
}

function mount(root, route) {
  const p = route.params;
  ctx = { generation: 0, stack: [], cursor: '', next: null, inputs: {} };
  const field = (key, label, placeholder) => {
    const input = h('input', { type: 'text', id: `audit-${key.replace('_', '-')}`, value: p.get(key) || '', placeholder, 'aria-label': label, autocomplete: 'off' });
    ctx.inputs[key] = input;
    onEnter(input, () => search());
    return h('label', { class: 'field' }, h('span', { class: 'small muted' }, label), input);
  };
  const outcomeParam = p.get('outcome') || '';
  ctx.outcome = h('select', { id: 'audit-outcome', 'aria-label': 'Outcome', onchange: () => search() },
    h('option', { value: '' }, 'any'),
    [...OUTCOMES, ...(outcomeParam && !OUTCOMES.includes(outcomeParam) ? [outcomeParam] : [])].map((o) => h('option', { value: o }, o)));
  ctx.outcome.value = outcomeParam;
  ctx.start = h('input', { type: 'text', id: 'audit-start', value: p.get('start') || '', placeholder: 'now-24h or 2026-11-26T10:00:00Z', 'aria-label': 'From' });
  ctx.end = h('input', { type: 'text', id: 'audit-end', value: p.get('end') || '', placeholder: 'now', 'aria-label': 'To' });
  onEnter(ctx.start, () => search());
  onEnter(ctx.end, () => search());
  const limitParam = p.get('limit') || String(DEFAULT_LIMIT);
  ctx.limit = h('select', { id: 'audit-limit', 'aria-label': 'Events per page', onchange: () => search() },
    [...new Set([...LIMITS.map(String), limitParam])].map((n) => h('option', { value: n }, n)));
  ctx.limit.value = limitParam;

  ctx.searchButton = h('button', { type: 'button', id: 'audit-search', onclick: () => search() }, 'Search');
  const reset = h('button', {
    type: 'button', class: 'ghost', id: 'audit-reset',
    onclick: () => {
      for (const input of Object.values(ctx.inputs)) input.value = '';
      ctx.outcome.value = '';
      ctx.start.value = '';
      ctx.end.value = '';
      ctx.limit.value = String(DEFAULT_LIMIT);
      search();
    },
  }, 'Clear filters');

  const exportNd = h('button', { type: 'button', class: 'ghost', id: 'audit-export-ndjson', title: 'Every matching event, newest first, one JSON object a line' }, 'Export NDJSON');
  const exportCsv = h('button', { type: 'button', class: 'ghost', id: 'audit-export-csv', title: 'Every matching event as CSV' }, 'Export CSV');
  exportNd.addEventListener('click', () => exportEvents('ndjson', exportNd));
  exportCsv.addEventListener('click', () => exportEvents('csv', exportCsv));
  ctx.exportStatus = h('span', { class: 'export-status', id: 'audit-export-status', 'aria-live': 'polite' });

  ctx.verifyFrom = h('input', { type: 'text', id: 'audit-verify-from', placeholder: 'from seq or time (optional)', 'aria-label': 'Verify from' });
  ctx.verifyButton = h('button', { type: 'button', class: 'ghost', id: 'audit-verify', onclick: () => verify(), title: 'Check the hash chain and the signed digests' }, 'Verify chain');
  onEnter(ctx.verifyFrom, () => verify());
  ctx.verifyResult = h('div', { id: 'audit-verify-result', 'aria-live': 'polite' });

  ctx.summary = h('span', { class: 'muted small', id: 'audit-summary', 'aria-live': 'polite' });
  ctx.newerButton = h('button', {
    type: 'button', class: 'ghost', id: 'audit-newer', title: 'The previous (newer) page',
    onclick: () => {
      const previous = ctx.stack.pop();
      search({ cursor: previous ?? '', newer: true });
    },
  }, '← Newer');
  ctx.nextButton = h('button', {
    type: 'button', class: 'ghost', id: 'audit-next', title: 'The next (older) page',
    onclick: () => {
      if (!ctx.next) return;
      ctx.stack.push(ctx.cursor);
      search({ cursor: ctx.next, newer: true });
    },
  }, 'Older →');
  ctx.pager = h('div', { class: 'row pager', hidden: true }, ctx.newerButton, ctx.nextButton);
  ctx.results = h('div', { id: 'audit-results', class: 'results' });

  root.append(h('div', { class: 'page-audit' },
    h('div', { class: 'row page-head' }, h('h1', {}, 'Audit'),
      h('span', { class: 'muted small' }, 'Who did what, when — your tenant\'s tamper-evident trail. Reading it is recorded too.')),
    h('section', { class: 'panel filters' },
      h('div', { class: 'filter-grid' },
        FIELDS.map(([key, label, placeholder]) => field(key, label, placeholder)),
        h('label', { class: 'field' }, h('span', { class: 'small muted' }, 'Outcome'), ctx.outcome),
        h('label', { class: 'field' }, h('span', { class: 'small muted' }, 'From'), ctx.start),
        h('label', { class: 'field' }, h('span', { class: 'small muted' }, 'To'), ctx.end),
        h('label', { class: 'field' }, h('span', { class: 'small muted' }, 'Per page'), ctx.limit)),
      h('div', { class: 'row' }, ctx.searchButton, reset, h('span', { class: 'spacer' }), ctx.exportStatus, exportNd, exportCsv)),
    h('section', { class: 'panel verify' },
      h('div', { class: 'row' }, h('h2', {}, 'Integrity'),
        h('span', { class: 'muted small' }, 'Checks the hash chain of every stored event and the signed digests.'),
        h('span', { class: 'spacer' }), ctx.verifyFrom, ctx.verifyButton),
      ctx.verifyResult),
    h('div', { class: 'row results-head' }, ctx.summary, h('span', { class: 'spacer' }), ctx.pager),
    ctx.results));
  return search({ cursor: p.get('cursor') || '', push: false, newer: Boolean(p.get('cursor')) });
}

export default {
  id: 'audit',
  title: 'Audit',
  mount,
  unmount() {
    ctx = null;
  },
};
