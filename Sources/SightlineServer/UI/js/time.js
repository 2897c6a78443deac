// Time ranges as the pages keep them in the URL: `from`/`to` are "now", "now-15m" or an absolute time.

import { h, onEnter } from './dom.js';

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** "1h30m", "15s", "250ms" in milliseconds; throws naming the text when it is not a duration. */
export function parseDuration(text) {
  const source = String(text).trim();
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/y;
  let total = 0;
  let index = 0;
  while (index < source.length) {
    re.lastIndex = index;
    const m = re.exec(source);
    if (!m) throw new Error(`"${source}" is not a duration (use e.g. 30s, 5m, 1h30m, 7d)`);
    total += parseFloat(m[1]) * UNITS[m[2]];
    index = re.lastIndex;
  }
  if (source.length === 0) throw new Error('empty duration');
  return total;
}

/** A duration in the shortest Prometheus form: 90000 → "1m30s". */
export function formatDuration(ms) {
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  let text = '';
  for (const [unit, size] of [['d', UNITS.d], ['h', UNITS.h], ['m', UNITS.m], ['s', UNITS.s], ['ms', 1]]) {
    if (rest >= size) {
      text += Math.floor(rest / size) + unit;
      rest %= size;
    }
  }
  return text;
}

/** A span's or request's length for people: 850µs, 12.3ms, 4.56s. */
export function formatLatency(ms) {
  if (ms < 1) return `${Math.round(ms * 1000)}µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : Math.round(ms)}ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
}

/** "now", "now-1h", "now+5m", an RFC 3339 / ISO time, or Unix seconds / milliseconds → epoch milliseconds. */
export function parseTime(text, now = Date.now()) {
  const source = String(text).trim();
  if (source === 'now') return now;
  const relative = /^now\s*([+-])\s*(.+)$/.exec(source);
  if (relative) return now + (relative[1] === '-' ? -1 : 1) * parseDuration(relative[2]);
  if (/^\d+(\.\d+)?$/.test(source)) {
    const n = parseFloat(source);
    return n < 1e11 ? n * 1000 : n; // seconds or milliseconds
  }
  const parsed = Date.parse(source);
  if (Number.isNaN(parsed)) throw new Error(`"${source}" is not a time (use now, now-1h or 2026-11-26T10:00:00Z)`);
  return parsed;
}

/** Local wall-clock time with seconds; with `ms` the milliseconds too. */
export function formatTime(ms, { millis = false } = {}) {
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return millis ? `${text}.${pad(d.getMilliseconds(), 3)}` : text;
}

/** RFC 3339 in UTC, the form absolute times take in the URL. */
export function isoTime(ms) {
  return new Date(ms).toISOString();
}

export const PRESETS = [
  ['now-5m', 'Last 5 minutes'], ['now-15m', 'Last 15 minutes'], ['now-1h', 'Last hour'], ['now-6h', 'Last 6 hours'],
  ['now-24h', 'Last 24 hours'], ['now-7d', 'Last 7 days'], ['now-30d', 'Last 30 days'],
];

/**
 * A time range control: a preset menu plus editable from/to fields. `onChange({from, to})` runs when the user picks a
 * preset or presses Enter in a field. `range()` resolves the current fields to `{startMs, endMs}` (throws with a clear
 * message on bad input); `set(from, to)` changes the fields without calling onChange.
 */
export function timeRangePicker({ from = 'now-1h', to = 'now', onChange }) {
  const fromInput = h('input', { type: 'text', value: from, 'aria-label': 'From', title: 'now-1h, or a time like 2026-11-26T10:00:00Z' });
  const toInput = h('input', { type: 'text', value: to, 'aria-label': 'To' });
  const preset = h('select', { 'aria-label': 'Time range' },
    h('option', { value: '' }, 'Custom range'),
    PRESETS.map(([value, label]) => h('option', { value }, label)));
  const syncPreset = () => {
    preset.value = toInput.value.trim() === 'now' && PRESETS.some(([v]) => v === fromInput.value.trim()) ? fromInput.value.trim() : '';
  };
  const changed = () => { syncPreset(); onChange?.({ from: fromInput.value.trim(), to: toInput.value.trim() }); };
  preset.addEventListener('change', () => {
    if (!preset.value) return;
    fromInput.value = preset.value;
    toInput.value = 'now';
    changed();
  });
  onEnter(fromInput, changed);
  onEnter(toInput, changed);
  syncPreset();
  const element = h('div', { class: 'row timerange' }, preset, fromInput, h('span', { class: 'muted' }, 'to'), toInput);
  return {
    element,
    get from() { return fromInput.value.trim(); },
    get to() { return toInput.value.trim(); },
    range(now = Date.now()) {
      const startMs = parseTime(fromInput.value, now);
      const endMs = parseTime(toInput.value, now);
      if (!(startMs < endMs)) throw new Error(`the range's start (${fromInput.value}) is not before its end (${toInput.value})`);
      return { startMs, endMs };
    },
    set(newFrom, newTo) {
      fromInput.value = newFrom;
      toInput.value = newTo;
      syncPreset();
    },
  };
}
