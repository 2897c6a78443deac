// The alerts page: rule groups (Prometheus rules API), alerts as the notifier groups them (Alertmanager v2) and
// silences (list, create, expire). Three tabs; the URL holds the tab and the filters:
//   #/alerts?tab=rules&state=firing,pending&q=host   #/alerts?tab=alerts&q=node-0   #/alerts?tab=silences&show=all
// Everything reloads on Refresh and every 15 s (unless auto refresh is off: refresh=off).

import { h, clear, notice, onEnter, debounce } from '../dom.js';
import { call, promData } from '../api.js';
import { saveRoute } from '../state.js';
import { formatTime, formatDuration, formatLatency, parseTime, parseDuration } from '../time.js';

const TABS = [['rules', 'Rules'], ['alerts', 'Alerts'], ['silences', 'Silences']];
const RULE_STATES = ['firing', 'pending', 'inactive'];
const REFRESH_MS = 15_000;
const MAX_ROWS = 500;

let ctx = null; // the mounted page's state; null once unmounted

// -- helpers ---------------------------------------------------------------------------------------------------------

function timeText(iso) {
  if (!iso) return '—';
  const ms = Date.parse(iso);
  return Number.isNaN(ms) || ms <= 0 ? '—' : formatTime(ms);
}

/** "in 1h59m" / "3m ago" for an RFC 3339 time. */
function relative(iso, now = Date.now()) {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return '';
  const delta = ms - now;
  const text = formatDuration(Math.abs(Math.round(delta / 1000)) * 1000);
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}

function quoteValue(value) {
  return `"${String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function labelChips(labels, { skip = [] } = {}) {
  const names = Object.keys(labels || {}).filter((n) => !skip.includes(n)).sort();
  return h('span', { class: 'labels' }, names.map((name) =>
    h('span', { class: 'label-chip mono', dataset: { label: name } }, `${name}=${quoteValue(labels[name])}`)));
}

function matcherText(m) {
  const op = m.isEqual === false ? (m.isRegex ? '!~' : '!=') : (m.isRegex ? '=~' : '=');
  return `${m.name}${op}${quoteValue(m.value)}`;
}

/**
 * Matchers as people write them: `alertname="HostUp" instance=~"node-.*"`, separated by spaces or commas, optionally
 * in braces; values in double quotes (backslash escapes) or bare. Throws naming the part it cannot read.
 */
export function parseMatchers(text) {
  let source = text.trim();
  if (source.startsWith('{') && source.endsWith('}')) source = source.slice(1, -1);
  const re = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))\s*,?/y;
  const matchers = [];
  let index = 0;
  while (index < source.length) {
    if (/^[\s,]*$/.test(source.slice(index))) break;
    re.lastIndex = index;
    const m = re.exec(source);
    if (!m) throw new Error(`cannot read the matcher at "${source.slice(index).trim().slice(0, 40)}" (write e.g. alertname="HostUp" instance=~"node-.*")`);
    const value = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[4];
    const op = m[2];
    if (op.includes('~')) {
      try { new RegExp(`^(?:${value})$`); } catch (error) { throw new Error(`${m[1]}${op}: "${value}" is not a valid regular expression`); }
    }
    matchers.push({ name: m[1], value, isRegex: op.includes('~'), isEqual: !op.startsWith('!') });
    index = re.lastIndex;
  }
  if (matchers.length === 0) throw new Error('a silence needs at least one matcher, e.g. alertname="HostUp"');
  const matchesEmpty = (m) => {
    const hit = m.isRegex ? new RegExp(`^(?:${m.value})$`).test('') : m.value === '';
    return m.isEqual ? hit : !hit;
  };
  if (matchers.every(matchesEmpty)) {
    throw new Error('these matchers match every alert; add one that names the alerts to silence');
  }
  return matchers;
}

function matches(matchers, labels) {
  return matchers.every((m) => {
    const value = labels[m.name] ?? '';
    const hit = m.isRegex ? new RegExp(`^(?:${m.value})$`).test(value) : value === m.value;
    return m.isEqual ? hit : !hit;
  });
}

function stateBadge(state, extra = '') {
  return h('span', { class: `badge ${state} ${extra}`.trim(), dataset: { badge: state } }, state);
}

function parseStates(text) {
  return (text || '').split(',').map((s) => s.trim()).filter((s) => RULE_STATES.includes(s));
}

// -- page ------------------------------------------------------------------------------------------------------------

function params() {
  const p = { tab: ctx.tab === 'rules' ? '' : ctx.tab };
  if (ctx.states.length) p.state = ctx.states.join(',');
  if (ctx.q) p.q = ctx.q;
  if (ctx.showExpired) p.show = 'all';
  if (!ctx.auto) p.refresh = 'off';
  return p;
}

function save(replace = false) {
  saveRoute('alerts', params(), { replace });
}

async function load({ quiet = false } = {}) {
  if (!ctx) return;
  const mine = ++ctx.generation;
  ctx.refreshButton.disabled = true;
  if (!quiet) ctx.status.textContent = 'Loading…';
  const settle = (promise) => promise.then((value) => ({ value }), (error) => ({ error }));
  const [rules, groups, alerts, silences] = await Promise.all([
    settle(promData('/api/v1/rules')),
    settle(call('/api/v2/alerts/groups')),
    settle(promData('/api/v1/alerts')),
    settle(call('/api/v2/silences')),
  ]);
  if (!ctx || mine !== ctx.generation) return;
  ctx.data = { rules, groups, alerts, silences };
  ctx.loadedAt = Date.now();
  ctx.refreshButton.disabled = false;
  ctx.status.textContent = `Updated ${formatTime(ctx.loadedAt)}`;
  ctx.status.dataset.loadedAt = String(ctx.loadedAt);
  renderTabs();
  renderBody();
  ctx.root.querySelector('.page-alerts').dataset.loaded = String(mine);
}

function renderTabs() {
  const d = ctx.data;
  const count = {
    rules: d?.rules?.value ? d.rules.value.groups.reduce((n, g) => n + g.rules.length, 0) : null,
    alerts: d?.groups?.value ? d.groups.value.reduce((n, g) => n + g.alerts.length, 0)
      + (d.alerts?.value ? d.alerts.value.alerts.filter((a) => a.state === 'pending').length : 0) : null,
    silences: d?.silences?.value ? d.silences.value.filter((s) => s.status.state !== 'expired').length : null,
  };
  for (const button of ctx.tabBar.children) {
    const id = button.dataset.tab;
    const selected = id === ctx.tab;
    button.setAttribute('aria-selected', String(selected));
    button.tabIndex = selected ? 0 : -1;
    button.querySelector('.count').textContent = count[id] === null || count[id] === undefined ? '' : String(count[id]);
  }
}

function selectTab(id, { focus = false } = {}) {
  if (ctx.tab === id) return;
  ctx.tab = id;
  save();
  renderFilters();
  renderTabs();
  renderBody();
  if (focus) ctx.tabBar.querySelector(`[data-tab="${id}"]`).focus();
}

function renderFilters() {
  // State toggles only mean something for rules; the text filter applies to each tab's rows.
  ctx.stateBar.hidden = ctx.tab !== 'rules';
  ctx.expiredToggle.hidden = ctx.tab !== 'silences';
  ctx.newSilenceButton.hidden = ctx.tab !== 'silences';
  ctx.filterInput.placeholder = {
    rules: 'Filter rules by name', alerts: 'Filter alerts by label (e.g. node-0001 or severity="info")',
    silences: 'Filter silences by matcher, author or comment',
  }[ctx.tab];
  for (const button of ctx.stateBar.querySelectorAll('button[data-state]')) {
    button.setAttribute('aria-pressed', String(ctx.states.includes(button.dataset.state)));
  }
  ctx.expiredToggle.querySelector('input').checked = ctx.showExpired;
  ctx.formPanel.hidden = ctx.tab !== 'silences' || !ctx.formOpen;
}

function renderBody() {
  if (!ctx.data) return;
  const body = ctx.body;
  body.dataset.tab = ctx.tab;
  const fragment = document.createDocumentFragment();
  if (ctx.tab === 'rules') renderRules(fragment);
  else if (ctx.tab === 'alerts') renderAlerts(fragment);
  else renderSilences(fragment);
  clear(body).append(fragment);
}

// -- rules -----------------------------------------------------------------------------------------------------------

function textFilter() {
  return ctx.q.trim().toLowerCase();
}

function renderRules(out) {
  const { rules } = ctx.data;
  if (rules.error) { out.append(notice('error', rules.error.message)); return; }
  const groups = rules.value?.groups || [];
  // Counts per state for the toggles, over every alerting rule.
  const counts = { firing: 0, pending: 0, inactive: 0 };
  for (const g of groups) for (const r of g.rules) if (r.type === 'alerting' && r.state in counts) counts[r.state]++;
  for (const button of ctx.stateBar.querySelectorAll('button[data-state]')) {
    button.querySelector('.count').textContent = String(counts[button.dataset.state]);
  }
  if (groups.length === 0) { out.append(notice('empty', 'No rule groups are loaded for this tenant.')); return; }
  const text = textFilter();
  let shown = 0;
  for (const group of groups) {
    const visible = group.rules.filter((rule) => {
      if (ctx.states.length && !(rule.type === 'alerting' && ctx.states.includes(rule.state))) return false;
      return !text || rule.name.toLowerCase().includes(text);
    });
    if (visible.length === 0) continue;
    shown += visible.length;
    const tbody = h('tbody');
    for (const rule of visible) appendRuleRows(tbody, group, rule);
    out.append(h('section', { class: 'panel rule-group', dataset: { group: group.name } },
      h('div', { class: 'row group-head' },
        h('h2', {}, group.name),
        h('span', { class: 'muted small mono' }, group.file || ''),
        h('span', { class: 'spacer' }),
        h('span', { class: 'muted small' },
          `every ${formatDuration((group.interval || 0) * 1000)} · last evaluated ${timeText(group.lastEvaluation)}`
          + ` in ${formatLatency((group.evaluationTime || 0) * 1000)}`)),
      h('table', { class: 'grid rules-table' },
        h('thead', {}, h('tr', {},
          h('th', { class: 'expander' }), h('th', {}, 'Rule'), h('th', {}, 'Kind'), h('th', {}, 'State'), h('th', {}, 'Health'),
          h('th', {}, 'Query'), h('th', {}, 'Last evaluation'), h('th', { class: 'num' }, 'Took'), h('th', { class: 'num' }, 'Alerts'))),
        tbody)));
  }
  if (shown === 0) {
    out.append(notice('empty', `No rule matches${ctx.states.length ? ` the states ${ctx.states.join(', ')}` : ''}${text ? ` and the name "${ctx.q}"` : ''}.`));
  }
}

function appendRuleRows(tbody, group, rule) {
  const key = `${group.file}\u0000${group.name}\u0000${rule.name}\u0000${rule.query}`;
  const alerting = rule.type === 'alerting';
  const alerts = rule.alerts || [];
  const open = ctx.expanded.has(key);
  const toggle = h('button', {
    type: 'button', class: 'ghost small expand', 'aria-expanded': String(open),
    'aria-label': `Details of ${rule.name}`, title: 'Show the rule and its alerts',
  }, open ? '▾' : '▸');
  const row = h('tr', {
    class: 'rule', dataset: { rule: rule.name, kind: rule.type, state: alerting ? rule.state : '', health: rule.health || 'unknown', alerts: String(alerts.length) },
  },
  h('td', { class: 'expander' }, toggle),
  h('td', { class: 'rule-name' }, h('strong', {}, rule.name)),
  h('td', {}, h('span', { class: `kind ${rule.type}` }, rule.type)),
  h('td', {}, alerting ? stateBadge(rule.state) : h('span', { class: 'muted' }, '—')),
  h('td', {}, stateBadge(rule.health || 'unknown', rule.health === 'err' ? 'error' : ''),
    rule.lastError ? h('div', { class: 'last-error small' }, rule.lastError) : null),
  h('td', { class: 'query mono' }, rule.query),
  h('td', { class: 'small', title: rule.lastEvaluation || '' }, timeText(rule.lastEvaluation)),
  h('td', { class: 'num small' }, rule.evaluationTime !== undefined ? formatLatency(rule.evaluationTime * 1000) : '—'),
  h('td', { class: 'num' }, alerting ? String(alerts.length) : ''));
  tbody.append(row);
  let detail = null;
  const show = (expand) => {
    toggle.setAttribute('aria-expanded', String(expand));
    toggle.textContent = expand ? '▾' : '▸';
    if (expand) {
      ctx.expanded.add(key);
      detail = h('tr', { class: 'rule-detail', dataset: { rule: rule.name } }, h('td', { colspan: 9 }, ruleDetail(rule)));
      row.after(detail);
    } else {
      ctx.expanded.delete(key);
      detail?.remove();
      detail = null;
    }
  };
  toggle.addEventListener('click', () => show(!detail));
  if (open) show(true);
}

function ruleDetail(rule) {
  const parts = [];
  const facts = [];
  if (rule.type === 'alerting') {
    facts.push(['for', formatDuration((rule.duration || 0) * 1000)]);
    if (rule.keepFiringFor) facts.push(['keep firing for', formatDuration(rule.keepFiringFor * 1000)]);
  }
  if (rule.lastError) facts.push(['last error', rule.lastError]);
  parts.push(h('div', { class: 'row small' },
    facts.map(([k, v]) => h('span', {}, h('span', { class: 'muted' }, `${k}: `), v)),
    rule.labels && Object.keys(rule.labels).length ? h('span', {}, h('span', { class: 'muted' }, 'labels: '), labelChips(rule.labels)) : null));
  if (rule.annotations && Object.keys(rule.annotations).length) {
    parts.push(h('dl', { class: 'annotations small' }, Object.entries(rule.annotations).flatMap(([k, v]) => [h('dt', {}, k), h('dd', { class: 'mono' }, v)])));
  }
  if (rule.type === 'alerting') {
    const alerts = rule.alerts || [];
    if (alerts.length === 0) {
      parts.push(h('div', { class: 'muted small' }, 'No active alerts.'));
    } else {
      parts.push(h('table', { class: 'grid rule-alerts' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Labels'), h('th', {}, 'State'), h('th', {}, 'Active since'), h('th', { class: 'num' }, 'Value'))),
        h('tbody', {}, alerts.slice(0, MAX_ROWS).map((a) => h('tr', { class: 'rule-alert', dataset: { state: a.state } },
          h('td', {}, labelChips(a.labels, { skip: ['alertname'] })),
          h('td', {}, stateBadge(a.state)),
          h('td', { class: 'small', title: a.activeAt || '' }, `${timeText(a.activeAt)} (${relative(a.activeAt)})`),
          h('td', { class: 'num mono' }, a.value ?? ''))))));
      if (alerts.length > MAX_ROWS) parts.push(h('div', { class: 'muted small' }, `showing ${MAX_ROWS} of ${alerts.length} alerts`));
    }
  }
  return h('div', { class: 'stack' }, parts);
}

// -- alerts ----------------------------------------------------------------------------------------------------------

function labelFilter(labels) {
  const text = textFilter();
  if (!text) return true;
  return Object.entries(labels).some(([k, v]) => `${k}=${quoteValue(v)}`.toLowerCase().includes(text) || v.toLowerCase().includes(text));
}

function renderAlerts(out) {
  const { groups, alerts } = ctx.data;
  if (groups.error) out.append(notice('error', groups.error.message));
  let total = 0;
  if (groups.value) {
    for (const group of groups.value) {
      const visible = group.alerts.filter((a) => labelFilter(a.labels));
      if (visible.length === 0) continue;
      total += visible.length;
      const groupLabels = Object.entries(group.labels || {}).map(([k, v]) => `${k}=${quoteValue(v)}`).sort().join(',');
      out.append(h('section', { class: 'panel alert-group', dataset: { receiver: group.receiver?.name || '', groupLabels, alerts: String(visible.length) } },
        h('div', { class: 'row group-head' },
          h('h2', {}, Object.keys(group.labels || {}).length ? labelChips(group.labels) : h('span', { class: 'muted' }, '(all alerts)')),
          h('span', { class: 'spacer' }),
          h('span', { class: 'muted small' }, `receiver `, h('strong', { class: 'mono' }, group.receiver?.name || '?'), ` · ${visible.length} alert${visible.length === 1 ? '' : 's'}`)),
        h('table', { class: 'grid am-alerts' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Labels'), h('th', {}, 'Annotations'), h('th', {}, 'Started'), h('th', {}, 'State'), h('th', {}))),
          h('tbody', {}, visible.slice(0, MAX_ROWS).map((a) => notifierAlertRow(a, group.labels || {}))))));
      if (visible.length > MAX_ROWS) out.append(h('div', { class: 'muted small' }, `showing ${MAX_ROWS} of ${visible.length} alerts`));
    }
  }
  // Pending alerts have not reached the notifier yet (they wait for their rule's `for`): shown apart, from /api/v1/alerts.
  if (alerts.error) out.append(notice('error', alerts.error.message));
  const pending = (alerts.value?.alerts || []).filter((a) => a.state === 'pending' && labelFilter(a.labels));
  if (pending.length) {
    total += pending.length;
    out.append(h('section', { class: 'panel pending-alerts', dataset: { alerts: String(pending.length) } },
      h('div', { class: 'row group-head' }, h('h2', {}, 'Pending'),
        h('span', { class: 'muted small' }, 'waiting for their rule\'s "for" before they fire and reach the notifier')),
      h('table', { class: 'grid' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Labels'), h('th', {}, 'Annotations'), h('th', {}, 'Active since'), h('th', {}, 'State'), h('th', { class: 'num' }, 'Value'))),
        h('tbody', {}, pending.slice(0, MAX_ROWS).map((a) => h('tr', { class: 'pending-alert', dataset: { alertname: a.labels.alertname || '', state: 'pending' } },
          h('td', {}, labelChips(a.labels)),
          h('td', {}, annotationsCell(a.annotations)),
          h('td', { class: 'small', title: a.activeAt || '' }, `${timeText(a.activeAt)} (${relative(a.activeAt)})`),
          h('td', {}, stateBadge('pending')),
          h('td', { class: 'num mono' }, a.value ?? '')))))));
  }
  if (total === 0 && !groups.error && !alerts.error) {
    out.append(notice('empty', textFilter() ? `No alert has a label matching "${ctx.q}".` : 'No alert is firing or pending.'));
  }
}

function annotationsCell(annotations) {
  const entries = Object.entries(annotations || {});
  if (entries.length === 0) return h('span', { class: 'muted' }, '—');
  return h('div', { class: 'small' }, entries.map(([k, v]) => h('div', {}, h('span', { class: 'muted' }, `${k}: `), v)));
}

function notifierAlertRow(alert, groupLabels) {
  const status = alert.status || {};
  const silenced = (status.silencedBy || []).length > 0;
  const inhibited = (status.inhibitedBy || []).length > 0;
  const shown = silenced ? 'silenced' : inhibited ? 'inhibited' : (status.state || 'active');
  return h('tr', {
    class: 'am-alert',
    dataset: { fingerprint: alert.fingerprint || '', alertname: alert.labels.alertname || '', state: status.state || '', silenced: String(silenced), instance: alert.labels.instance || '' },
  },
  h('td', {}, labelChips(alert.labels, { skip: Object.keys(groupLabels) })),
  h('td', {}, annotationsCell(alert.annotations)),
  h('td', { class: 'small', title: alert.startsAt || '' }, `${timeText(alert.startsAt)} (${relative(alert.startsAt)})`),
  h('td', {}, stateBadge(shown, shown === 'active' ? 'firing' : 'silenced'),
    silenced ? h('div', { class: 'small muted mono' }, `by ${status.silencedBy.join(', ')}`) : null),
  h('td', {}, h('button', {
    type: 'button', class: 'ghost small silence-alert', title: 'Create a silence for this alert\'s labels',
    onclick: () => openSilenceForm(Object.entries(alert.labels).sort(([a], [b]) => (a === 'alertname' ? -1 : b === 'alertname' ? 1 : a.localeCompare(b)))
      .map(([k, v]) => `${k}=${quoteValue(v)}`).join(' ')),
  }, 'Silence')));
}

// -- silences --------------------------------------------------------------------------------------------------------

function renderSilences(out) {
  const { silences } = ctx.data;
  if (silences.error) { out.append(notice('error', silences.error.message)); return; }
  const text = textFilter();
  const all = silences.value || [];
  const visible = all.filter((s) => (ctx.showExpired || s.status.state !== 'expired')
    && (!text || [s.createdBy, s.comment, s.id, ...s.matchers.map(matcherText)].some((t) => String(t).toLowerCase().includes(text))));
  if (visible.length === 0) {
    const expired = all.filter((s) => s.status.state === 'expired').length;
    out.append(notice('empty', text ? `No silence matches "${ctx.q}".`
      : `No active or pending silence${!ctx.showExpired && expired ? ` (${expired} expired: tick "Show expired")` : ''}.`));
    return;
  }
  const now = Date.now();
  out.append(h('section', { class: 'panel' }, h('table', { class: 'grid silences-table' },
    h('thead', {}, h('tr', {}, h('th', {}, 'State'), h('th', {}, 'Matchers'), h('th', {}, 'Created by'), h('th', {}, 'Comment'),
      h('th', {}, 'Starts'), h('th', {}, 'Ends'), h('th', {}, 'Id'), h('th', {}))),
    h('tbody', {}, visible.slice(0, MAX_ROWS).map((s) => h('tr', { class: 'silence', dataset: { id: s.id, state: s.status.state } },
      h('td', {}, stateBadge(s.status.state, s.status.state === 'active' ? 'ok' : s.status.state === 'pending' ? 'warn' : '')),
      h('td', {}, h('span', { class: 'labels' }, s.matchers.map((m) => h('span', { class: 'label-chip mono matcher' }, matcherText(m))))),
      h('td', { class: 'created-by' }, s.createdBy),
      h('td', { class: 'comment' }, s.comment),
      h('td', { class: 'small', title: s.startsAt }, timeText(s.startsAt)),
      h('td', { class: 'small', title: s.endsAt }, `${timeText(s.endsAt)} (${relative(s.endsAt, now)})`),
      h('td', { class: 'mono small' }, s.id),
      h('td', {}, s.status.state === 'expired' ? null : h('button', {
        type: 'button', class: 'ghost small expire', title: 'End this silence now', onclick: (event) => expireSilence(s.id, event.currentTarget),
      }, 'Expire'))))))));
  if (visible.length > MAX_ROWS) out.append(h('div', { class: 'muted small' }, `showing ${MAX_ROWS} of ${visible.length} silences`));
}

async function expireSilence(id, button) {
  button.disabled = true;
  try {
    await call(`/api/v2/silence/${encodeURIComponent(id)}`, { method: 'DELETE' });
    flash('info', `Silence ${id} expired.`);
    await load({ quiet: true });
  } catch (error) {
    button.disabled = false;
    flash('error', `Could not expire silence ${id}: ${error.message}`);
  }
}

function flash(kind, text) {
  if (!ctx) return;
  clear(ctx.messages).append(notice(kind, text));
}

function buildSilenceForm() {
  const matchers = h('input', { type: 'text', id: 'silence-matchers', class: 'query', placeholder: 'alertname="HostUp" instance=~"node-.*"', 'aria-label': 'Matchers', autocomplete: 'off' });
  const start = h('input', { type: 'text', id: 'silence-start', value: 'now', 'aria-label': 'Start', title: 'now, now+1h or 2026-11-26T10:00:00Z' });
  const duration = h('input', { type: 'text', id: 'silence-duration', value: '2h', 'aria-label': 'Duration', title: 'e.g. 30m, 2h, 1d' });
  const end = h('input', { type: 'text', id: 'silence-end', value: '', 'aria-label': 'End', placeholder: 'or an end time', title: 'An end time instead of the duration' });
  const createdBy = h('input', { type: 'text', id: 'silence-created-by', value: localStorage.getItem('sightline.silence.author') || '', 'aria-label': 'Created by', placeholder: 'your name' });
  const comment = h('input', { type: 'text', id: 'silence-comment', class: 'grow', 'aria-label': 'Comment', placeholder: 'why (e.g. maintenance window)' });
  const preview = h('div', { class: 'small muted', id: 'silence-preview' });
  const error = h('div', { id: 'silence-error' });
  const submit = h('button', { type: 'submit', id: 'silence-submit' }, 'Create silence');
  const cancel = h('button', { type: 'button', class: 'ghost', onclick: () => closeSilenceForm() }, 'Cancel');

  const updatePreview = () => {
    clear(error);
    if (!matchers.value.trim()) { preview.textContent = ''; return; }
    try {
      const parsed = parseMatchers(matchers.value);
      const firing = (ctx.data?.groups?.value || []).flatMap((g) => g.alerts);
      const seen = new Set();
      let n = 0;
      for (const a of firing) {
        if (seen.has(a.fingerprint)) continue;
        seen.add(a.fingerprint);
        if (matches(parsed, a.labels)) n++;
      }
      preview.textContent = `Matches ${n} of the ${seen.size} alert${seen.size === 1 ? '' : 's'} the notifier holds now.`;
      preview.dataset.matches = String(n);
    } catch (e) {
      preview.textContent = e.message;
      delete preview.dataset.matches;
    }
  };
  matchers.addEventListener('input', debounce(updatePreview, 150));
  duration.addEventListener('input', () => { if (duration.value.trim()) end.value = ''; });
  end.addEventListener('input', () => { if (end.value.trim()) duration.value = ''; });

  const form = h('form', { class: 'stack', id: 'silence-form', novalidate: true },
    h('h2', {}, 'New silence'),
    h('label', { class: 'stack-label' }, h('span', {}, 'Matchers'), matchers),
    preview,
    h('div', { class: 'row' },
      h('label', {}, 'Start', start),
      h('label', {}, 'Duration', duration),
      h('label', {}, 'End', end)),
    h('div', { class: 'row' },
      h('label', {}, 'Created by', createdBy),
      h('label', { class: 'grow' }, 'Comment', comment)),
    error,
    h('div', { class: 'row end' }, cancel, submit));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clear(error);
    let body;
    try {
      const parsed = parseMatchers(matchers.value);
      const now = Date.now();
      const startMs = parseTime(start.value || 'now', now);
      let endMs;
      if (end.value.trim()) endMs = parseTime(end.value, now);
      else if (duration.value.trim()) endMs = startMs + parseDuration(duration.value);
      else throw new Error('give a duration (e.g. 2h) or an end time');
      if (!(endMs > startMs)) throw new Error('the silence must end after it starts');
      if (endMs <= now) throw new Error('the silence would already be over: pick a later end');
      if (!createdBy.value.trim()) throw new Error('say who creates the silence ("Created by")');
      if (!comment.value.trim()) throw new Error('add a comment saying why');
      body = { matchers: parsed, startsAt: new Date(startMs).toISOString(), endsAt: new Date(endMs).toISOString(),
        createdBy: createdBy.value.trim(), comment: comment.value.trim() };
    } catch (e) {
      error.append(notice('error', e.message));
      return;
    }
    submit.disabled = true;
    try {
      const answer = await call('/api/v2/silences', { method: 'POST', body });
      localStorage.setItem('sightline.silence.author', body.createdBy);
      closeSilenceForm();
      flash('info', `Silence ${answer?.silenceID || ''} created.`);
      if (ctx) ctx.messages.firstChild.dataset.silenceId = answer?.silenceID || '';
      await load({ quiet: true });
    } catch (e) {
      error.append(notice('error', `The server refused the silence: ${e.message}`));
    } finally {
      submit.disabled = false;
    }
  });
  for (const input of [start, duration, end, createdBy, comment, matchers]) {
    input.addEventListener('keydown', (event) => { if (event.key === 'Escape') closeSilenceForm(); });
  }
  return { form, matchers, comment, createdBy, updatePreview };
}

function openSilenceForm(matcherText = '') {
  ctx.formOpen = true;
  if (ctx.tab !== 'silences') selectTab('silences');
  renderFilters();
  if (matcherText) ctx.form.matchers.value = matcherText;
  ctx.form.updatePreview();
  clear(ctx.messages);
  (ctx.form.createdBy.value ? ctx.form.comment : ctx.form.createdBy).focus();
  ctx.formPanel.scrollIntoView({ block: 'nearest' });
}

function closeSilenceForm() {
  if (!ctx) return;
  ctx.formOpen = false;
  renderFilters();
}

// -- mount -----------------------------------------------------------------------------------------------------------

function mount(root, route) {
  const p = route.params;
  const tab = TABS.some(([id]) => id === p.get('tab')) ? p.get('tab') : 'rules';
  ctx = {
    root, tab, states: parseStates(p.get('state')), q: p.get('q') || '', showExpired: p.get('show') === 'all',
    auto: p.get('refresh') !== 'off', generation: 0, data: null, expanded: new Set(), formOpen: false, timer: null,
  };

  ctx.tabBar = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Alerting sections' }, TABS.map(([id, title]) => h('button', {
    type: 'button', role: 'tab', class: 'tab', id: `alerts-tab-${id}`, dataset: { tab: id }, onclick: () => selectTab(id),
  }, title, ' ', h('span', { class: 'count' }))));
  ctx.tabBar.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
    const i = TABS.findIndex(([id]) => id === ctx.tab);
    const next = TABS[(i + (event.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length][0];
    selectTab(next, { focus: true });
  });

  ctx.filterInput = h('input', { type: 'search', id: 'alerts-filter', value: ctx.q, 'aria-label': 'Filter', class: 'grow' });
  const applyFilter = (replace) => {
    if (ctx.filterInput.value === ctx.q) return;
    ctx.q = ctx.filterInput.value;
    save(replace);
    renderBody();
  };
  ctx.filterInput.addEventListener('input', debounce(() => ctx && applyFilter(true), 200));
  onEnter(ctx.filterInput, () => applyFilter(false));

  ctx.stateBar = h('div', { class: 'row state-filter', role: 'group', 'aria-label': 'Rule states' }, RULE_STATES.map((state) => h('button', {
    type: 'button', class: `ghost small toggle state-${state}`, dataset: { state }, 'aria-pressed': 'false',
    onclick: () => {
      ctx.states = ctx.states.includes(state) ? ctx.states.filter((s) => s !== state) : RULE_STATES.filter((s) => s === state || ctx.states.includes(s));
      save();
      renderFilters();
      renderBody();
    },
  }, state, ' ', h('span', { class: 'count' }))));

  ctx.expiredToggle = h('label', { class: 'small' }, h('input', {
    type: 'checkbox', id: 'silences-show-expired',
    onchange: (event) => { ctx.showExpired = event.target.checked; save(); renderBody(); },
  }), 'Show expired');
  ctx.newSilenceButton = h('button', { type: 'button', id: 'new-silence', onclick: () => openSilenceForm() }, 'New silence');

  ctx.refreshButton = h('button', { type: 'button', class: 'ghost', id: 'alerts-refresh', onclick: () => load() }, 'Refresh');
  const autoBox = h('input', { type: 'checkbox', id: 'alerts-auto-refresh', checked: ctx.auto });
  autoBox.addEventListener('change', () => { ctx.auto = autoBox.checked; save(true); schedule(); });
  ctx.status = h('span', { class: 'muted small', id: 'alerts-status', 'aria-live': 'polite' });

  ctx.form = buildSilenceForm();
  ctx.formPanel = h('section', { class: 'panel silence-form-panel', hidden: true }, ctx.form.form);
  ctx.messages = h('div', { class: 'messages', id: 'alerts-messages' });
  ctx.body = h('div', { class: 'alerts-body', id: 'alerts-body' });

  root.append(h('div', { class: 'page-alerts' },
    h('div', { class: 'row page-head' },
      h('h1', {}, 'Alerts'),
      ctx.tabBar,
      h('span', { class: 'spacer' }),
      ctx.status,
      h('label', { class: 'small', title: 'Reload every 15 seconds' }, autoBox, 'Auto refresh'),
      ctx.refreshButton),
    h('div', { class: 'row toolbar' }, ctx.filterInput, ctx.stateBar, ctx.expiredToggle, ctx.newSilenceButton),
    ctx.formPanel,
    ctx.messages,
    ctx.body));
  ctx.body.append(h('div', { class: 'muted' }, 'Loading…'));
  renderFilters();
  renderTabs();
  schedule();
  return load();
}

function schedule() {
  clearInterval(ctx.timer);
  ctx.timer = ctx.auto ? setInterval(() => {
    if (document.hidden) return;
    load({ quiet: true });
  }, REFRESH_MS) : null;
}

export default {
  id: 'alerts',
  title: 'Alerts',
  mount,
  unmount() {
    if (ctx) clearInterval(ctx.timer);
    ctx = null;
  },
};
