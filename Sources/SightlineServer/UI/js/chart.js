// Time charts on canvas: a line chart (metrics, many series) and a bar histogram (log volume). Both share one plot:
// axes, a hover readout, and drag-to-select a time range (`onBrush(startMs, endMs)`), drawn on a second canvas so
// moving the mouse never redraws the data.

import { h, clear } from './dom.js';
import { formatTime } from './time.js';

export const PALETTE = [
  '#3b82f6', '#f97316', '#10b981', '#ef4444', '#8b5cf6', '#eab308', '#06b6d4', '#ec4899', '#84cc16', '#a16207',
  '#6366f1', '#14b8a6', '#f43f5e', '#0ea5e9', '#d946ef', '#22c55e', '#f59e0b', '#64748b',
];

const MARGIN = { left: 64, right: 12, top: 10, bottom: 24 };

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** About `count` round steps covering [min, max]. */
export function niceTicks(min, max, count = 5) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * magnitude).find((s) => s >= raw) ?? raw;
  const ticks = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return ticks;
}

const TIME_STEPS = [1e3, 5e3, 10e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3,
  21600e3, 43200e3, 86400e3, 172800e3, 604800e3, 2592000e3];

function timeTicks(startMs, endMs, count) {
  const raw = (endMs - startMs) / Math.max(1, count);
  const step = TIME_STEPS.find((s) => s >= raw) ?? raw;
  const offset = new Date(startMs).getTimezoneOffset() * 60_000;
  const ticks = [];
  for (let t = Math.ceil((startMs - offset) / step) * step + offset; t <= endMs; t += step) ticks.push(t);
  return { ticks, step };
}

function timeLabel(ms, step) {
  const text = formatTime(ms);
  if (step >= 86_400_000) return text.slice(5, 10);
  if (step >= 60_000) return text.slice(11, 16);
  return text.slice(11, 19);
}

/** 1234567 → "1.23M"; small and fractional values keep their digits. */
export function formatValue(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const a = Math.abs(v);
  for (const [size, suffix] of [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']]) {
    if (a >= size) return `${+(v / size).toPrecision(3)}${suffix}`;
  }
  if (a === 0) return '0';
  return a < 1e-3 ? v.toExponential(2) : String(+v.toPrecision(4));
}

/** The shared plot: data canvas + overlay canvas, time axis, brush, hover. `draw(ctx, plot)` paints the data. */
function timePlot({ height, onBrush, draw, readout }) {
  const canvas = h('canvas');
  const overlay = h('canvas', { style: { position: 'absolute', left: '0', top: '0' } });
  const tooltip = h('div', { class: 'tooltip', hidden: true });
  const element = h('div', { class: 'chart', style: { height: `${height}px` } }, canvas, overlay, tooltip);
  const plot = { startMs: 0, endMs: 1, yMin: 0, yMax: 1, width: 0, height, ready: false };
  let brushFrom = null;

  plot.x = (t) => MARGIN.left + ((t - plot.startMs) / (plot.endMs - plot.startMs)) * (plot.width - MARGIN.left - MARGIN.right);
  plot.y = (v) => plot.height - MARGIN.bottom - ((v - plot.yMin) / (plot.yMax - plot.yMin || 1)) * (plot.height - MARGIN.top - MARGIN.bottom);
  plot.timeAt = (px) => plot.startMs + ((px - MARGIN.left) / (plot.width - MARGIN.left - MARGIN.right)) * (plot.endMs - plot.startMs);

  function size(c) {
    const ratio = window.devicePixelRatio || 1;
    c.width = Math.round(plot.width * ratio);
    c.height = Math.round(plot.height * ratio);
    c.style.width = `${plot.width}px`;
    c.style.height = `${plot.height}px`;
    const ctx = c.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    return ctx;
  }

  function redraw() {
    plot.width = element.clientWidth;
    if (!plot.ready || plot.width === 0) return;
    const ctx = size(canvas);
    size(overlay);
    const text = cssVar('--muted');
    const grid = cssVar('--border');
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = text;
    ctx.strokeStyle = grid;
    ctx.lineWidth = 1;
    // y grid and labels
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const v of niceTicks(plot.yMin, plot.yMax, Math.max(2, Math.floor(plot.height / 50)))) {
      const y = Math.round(plot.y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(MARGIN.left, y);
      ctx.lineTo(plot.width - MARGIN.right, y);
      ctx.stroke();
      ctx.fillText(formatValue(v), MARGIN.left - 6, y);
    }
    // time labels
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const { ticks, step } = timeTicks(plot.startMs, plot.endMs, Math.max(2, Math.floor(plot.width / 110)));
    for (const t of ticks) {
      const x = Math.round(plot.x(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, plot.height - MARGIN.bottom);
      ctx.lineTo(x, plot.height - MARGIN.bottom + 4);
      ctx.stroke();
      ctx.fillText(timeLabel(t, step), x, plot.height - MARGIN.bottom + 6);
    }
    ctx.save();
    ctx.beginPath();
    ctx.rect(MARGIN.left, 0, plot.width - MARGIN.left - MARGIN.right, plot.height - MARGIN.bottom);
    ctx.clip();
    draw(ctx, plot);
    ctx.restore();
  }

  function drawOverlay(px, selection) {
    const ctx = overlay.getContext('2d');
    ctx.clearRect(0, 0, plot.width, plot.height);
    if (selection) {
      ctx.fillStyle = 'rgba(99, 130, 246, 0.2)';
      ctx.fillRect(Math.min(selection[0], selection[1]), MARGIN.top, Math.abs(selection[1] - selection[0]), plot.height - MARGIN.top - MARGIN.bottom);
    } else if (px !== null) {
      ctx.strokeStyle = cssVar('--muted');
      ctx.beginPath();
      ctx.moveTo(px + 0.5, MARGIN.top);
      ctx.lineTo(px + 0.5, plot.height - MARGIN.bottom);
      ctx.stroke();
    }
  }

  const inside = (px) => Math.min(Math.max(px, MARGIN.left), plot.width - MARGIN.right);
  overlay.addEventListener('mousedown', (event) => {
    if (!onBrush || event.button !== 0) return;
    brushFrom = inside(event.offsetX);
    event.preventDefault();
  });
  overlay.addEventListener('mousemove', (event) => {
    if (!plot.ready) return;
    const px = event.offsetX;
    if (brushFrom !== null) {
      tooltip.hidden = true;
      drawOverlay(null, [brushFrom, inside(px)]);
      return;
    }
    if (px < MARGIN.left || px > plot.width - MARGIN.right) {
      drawOverlay(null);
      tooltip.hidden = true;
      return;
    }
    const content = readout(plot.timeAt(px), plot);
    drawOverlay(px);
    if (!content) { tooltip.hidden = true; return; }
    tooltip.replaceChildren(content);
    tooltip.hidden = false;
    const left = px + 14 + tooltip.offsetWidth > plot.width ? px - 14 - tooltip.offsetWidth : px + 14;
    tooltip.style.left = `${Math.max(0, left)}px`;
    tooltip.style.top = `${MARGIN.top}px`;
  });
  const endBrush = (event) => {
    if (brushFrom === null) return;
    const to = inside(event.offsetX);
    const [a, b] = [Math.min(brushFrom, to), Math.max(brushFrom, to)];
    brushFrom = null;
    drawOverlay(null);
    if (b - a >= 4) onBrush(Math.round(plot.timeAt(a)), Math.round(plot.timeAt(b)));
  };
  overlay.addEventListener('mouseup', endBrush);
  overlay.addEventListener('mouseleave', (event) => {
    tooltip.hidden = true;
    if (brushFrom !== null) endBrush(event);
    else drawOverlay(null);
  });

  // A chart lives as long as its page: once it has left the document (removal is a resize to nothing), its
  // observers go too.
  const onChange = () => {
    if (element.isConnected) {
      redraw();
    } else if (plot.ready) {
      resize.disconnect();
      document.removeEventListener('themechange', onChange);
    }
  };
  const resize = new ResizeObserver(onChange);
  resize.observe(element);
  document.addEventListener('themechange', onChange);
  return { element, plot, redraw };
}

/**
 * A line chart of time series. `setData(series, {startMs, endMs, stepMs})` with series
 * `[{name, points: [[ms, value], …]}]`; a gap longer than 1.5 steps breaks the line. The legend under the chart
 * toggles a series on click and shows it alone on Ctrl/Cmd-click. `element.dataset.series` is the series count and
 * `element.dataset.visible` the number shown, for tests.
 */
export function lineChart({ height = 300, onBrush } = {}) {
  let series = [];
  let hidden = new Set();
  let stepMs = 0;
  const legend = h('div', { class: 'legend', role: 'list' });

  const visible = () => series.filter((_, i) => !hidden.has(i));
  const color = (i) => PALETTE[i % PALETTE.length];

  const { element: chart, plot, redraw } = timePlot({
    height,
    onBrush,
    draw(ctx) {
      ctx.lineWidth = 1.5;
      const gap = stepMs > 0 ? stepMs * 1.5 : Infinity;
      series.forEach((s, i) => {
        if (hidden.has(i)) return;
        ctx.strokeStyle = color(i);
        ctx.fillStyle = color(i);
        ctx.beginPath();
        let previous = null;
        let single = true;
        let lastY = 0;
        for (const [t, v] of s.points) {
          if (!Number.isFinite(v)) { previous = null; continue; }
          const x = plot.x(t);
          const y = plot.y(v);
          if (previous === null || t - previous > gap) {
            if (previous !== null && single) ctx.fillRect(plot.x(previous) - 1.5, lastY - 1.5, 3, 3);
            ctx.moveTo(x, y);
            single = true;
          } else {
            ctx.lineTo(x, y);
            single = false;
          }
          previous = t;
          lastY = y;
        }
        ctx.stroke();
        if (previous !== null && single) ctx.fillRect(plot.x(previous) - 1.5, lastY - 1.5, 3, 3);
      });
    },
    readout(t) {
      const rows = [];
      series.forEach((s, i) => {
        if (hidden.has(i) || s.points.length === 0) return;
        const point = nearest(s.points, t);
        if (!point || (stepMs > 0 && Math.abs(point[0] - t) > stepMs)) return;
        rows.push({ i, name: s.name, value: point[1], time: point[0] });
      });
      if (rows.length === 0) return null;
      rows.sort((a, b) => b.value - a.value);
      return h('div', {},
        h('div', { class: 'muted' }, formatTime(rows[0].time)),
        rows.slice(0, 12).map((r) => h('div', { class: 'mono' },
          h('span', { class: 'swatch', style: { background: color(r.i) } }), `${formatValue(r.value)}  ${r.name}`)),
        rows.length > 12 ? h('div', { class: 'muted' }, `and ${rows.length - 12} more`) : null);
    },
  });
  const element = h('div', { class: 'linechart' }, chart, legend);

  function rescale() {
    let min = Infinity;
    let max = -Infinity;
    for (const s of visible()) {
      for (const [, v] of s.points) {
        if (!Number.isFinite(v)) continue;
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
    if (min === Infinity) { min = 0; max = 1; }
    if (min === max) { min -= Math.abs(min) * 0.1 || 1; max += Math.abs(max) * 0.1 || 1; }
    const pad = (max - min) * 0.05;
    plot.yMin = min >= 0 && min - pad < 0 ? 0 : min - pad;
    plot.yMax = max + pad;
    element.dataset.visible = String(visible().length);
  }

  function renderLegend() {
    clear(legend);
    series.forEach((s, i) => {
      legend.append(h('button', {
        type: 'button', role: 'listitem', 'aria-pressed': String(!hidden.has(i)), title: 'Click: show/hide · Ctrl-click: show only this',
        onclick: (event) => {
          if (event.ctrlKey || event.metaKey) {
            const only = hidden.size === series.length - 1 && !hidden.has(i);
            hidden = new Set(only ? [] : series.map((_, j) => j).filter((j) => j !== i));
          } else if (hidden.has(i)) hidden.delete(i);
          else hidden.add(i);
          renderLegend();
          rescale();
          redraw();
        },
      }, h('span', { class: 'swatch', style: { background: color(i) } }), s.name));
    });
  }

  return {
    element,
    setData(newSeries, { startMs, endMs, stepMs: step = 0 }) {
      series = newSeries;
      hidden = new Set();
      stepMs = step;
      plot.startMs = startMs;
      plot.endMs = endMs;
      plot.ready = true;
      element.dataset.series = String(series.length);
      renderLegend();
      rescale();
      redraw();
    },
  };
}

function nearest(points, t) {
  let lo = 0;
  let hi = points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid][0] < t) lo = mid + 1;
    else hi = mid;
  }
  const after = points[lo];
  const before = points[lo - 1];
  if (!before) return after;
  return Math.abs(before[0] - t) <= Math.abs(after[0] - t) ? before : after;
}

/**
 * A bar histogram over time: `setData(buckets, {startMs, endMs, stepMs})` with buckets `[[ms, count], …]` (each bar
 * covers [ms, ms + stepMs)). Dragging across it calls `onBrush(startMs, endMs)`. `element.dataset.buckets` and
 * `element.dataset.total` describe what is drawn, for tests.
 */
export function histogram({ height = 110, onBrush } = {}) {
  let buckets = [];
  let stepMs = 1;
  const { element, plot, redraw } = timePlot({
    height,
    onBrush,
    draw(ctx) {
      ctx.fillStyle = cssVar('--accent');
      const width = Math.max(1, plot.x(plot.startMs + stepMs) - plot.x(plot.startMs) - 1);
      for (const [t, count] of buckets) {
        const x = plot.x(t);
        const y = plot.y(count);
        ctx.fillRect(x, y, width, plot.y(0) - y);
      }
    },
    readout(t) {
      const bucket = buckets.find(([start]) => t >= start && t < start + stepMs);
      if (!bucket) return null;
      return h('div', {}, h('div', { class: 'muted' }, formatTime(bucket[0])), h('div', {}, `${bucket[1].toLocaleString()} lines`));
    },
  });
  return {
    element,
    setData(newBuckets, { startMs, endMs, stepMs: step }) {
      buckets = newBuckets;
      stepMs = step;
      plot.startMs = startMs;
      plot.endMs = endMs;
      plot.yMin = 0;
      plot.yMax = Math.max(1, ...buckets.map(([, c]) => c)) * 1.1;
      plot.ready = true;
      element.dataset.buckets = String(buckets.length);
      element.dataset.total = String(buckets.reduce((sum, [, c]) => sum + c, 0));
      redraw();
    },
  };
}
