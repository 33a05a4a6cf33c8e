// The dashboard's drawing: number and time formatting, DOM helpers that put the service's data
// into the page as text only, and the charts' history and SVG lines.

export const HISTORY_MS = 5 * 60 * 1000; // how much the charts show

// ---------------------------------------------------------------------------------------------
// Formatting

export function fmtInt(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  return Math.round(n).toLocaleString('en-US');
}

export function fmtRate(r) {
  if (r === null || r === undefined || !Number.isFinite(r)) return '–';
  if (r === 0) return '0';
  if (r < 0.1) return r.toFixed(2);
  if (r < 100) return r.toFixed(1);
  return Math.round(r).toLocaleString('en-US');
}

/** An axis label: as few digits as the nice values need (1, 2.5, 50, 0.25). */
function fmtAxis(v) {
  return Number(v.toPrecision(3)).toLocaleString('en-US', { maximumFractionDigits: 3 });
}

export function fmtSeconds(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  if (s === 0) return '0';
  if (s < 1e-3) return (s * 1e6).toFixed(s < 1e-5 ? 1 : 0) + ' µs';
  if (s < 1) return (s * 1e3).toFixed(s < 1e-2 ? 2 : 1) + ' ms';
  if (s < 120) return s.toFixed(2) + ' s';
  return (s / 60).toFixed(1) + ' min';
}

export function fmtBytes(b) {
  if (b === null || b === undefined || !Number.isFinite(b)) return '–';
  if (b < 1024) return b + ' B';
  if (b < 1024 * 1024) return (b / 1024).toFixed(1) + ' KiB';
  if (b < 1024 * 1024 * 1024) return (b / 1024 / 1024).toFixed(1) + ' MiB';
  return (b / 1024 / 1024 / 1024).toFixed(2) + ' GiB';
}

export function fmtPercent(fraction) {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '–';
  return (fraction * 100).toFixed(fraction < 0.1 ? 1 : 0) + ' %';
}

export function fmtAgo(ms) {
  if (!Number.isFinite(ms)) return '–';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.floor(s / 60) + ' min ago';
  if (s < 86400) return Math.floor(s / 3600) + ' h ago';
  return Math.floor(s / 86400) + ' d ago';
}

export function fmtDurationMs(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return Math.round(ms) + ' ms';
  return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
}

// ---------------------------------------------------------------------------------------------
// DOM helpers

const SVG_NS = 'http://www.w3.org/2000/svg';

/** el('td', {class: 'num', 'data-value': 3}, 'text', childNode, ...) */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      node.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
}

export function numCell(cls, value, text, title) {
  return el('td', { class: 'num ' + cls, 'data-value': value === null ? '' : value, title },
    text);
}

/**
 * Replaces a table body's rows. The body holds data rows only (tests count them); when there
 * are none, the note after the table says why.
 */
export function setRows(tbody, rows, emptyText) {
  tbody.replaceChildren(...rows);
  const note = tbody.closest('table').nextElementSibling;
  if (note && note.classList.contains('empty-note')) {
    note.hidden = rows.length > 0;
    note.textContent = emptyText;
  }
}

export function badge(text, kind) {
  return el('span', { class: 'badge badge-' + kind }, text);
}

// ---------------------------------------------------------------------------------------------
// History and charts

/** Time series by key, trimmed to HISTORY_MS. Values may be null (a gap). */
export class History {
  constructor() { this.series = new Map(); this.firstTime = null; }
  add(key, time, value) {
    if (this.firstTime === null) this.firstTime = time;
    if (!this.series.has(key)) this.series.set(key, []);
    const points = this.series.get(key);
    points.push({ t: time, v: value });
    while (points.length && points[0].t < time - HISTORY_MS) points.shift();
  }
  get(key) { return this.series.get(key) || []; }
  /** The x range to draw: the last few minutes, or since the page started if less. */
  range(now) { return [Math.max(now - HISTORY_MS, this.firstTime === null ? now : this.firstTime), now]; }
}

/** A nice upper bound for an axis: 1, 2, 2.5 or 5 times a power of ten. */
function niceMax(max) {
  if (!(max > 0)) return 1;
  const power = Math.pow(10, Math.floor(Math.log10(max)));
  for (const step of [1, 2, 2.5, 5, 10]) if (max <= step * power) return step * power;
  return 10 * power;
}

/** Path data ("M x y L x y ...") of points in a w x h box; nulls break the line. */
function pathData(points, [t0, t1], yMax, w, h) {
  const span = Math.max(1, t1 - t0);
  let d = '';
  let drawing = false;
  for (const p of points) {
    if (p.t < t0) continue;
    if (p.v === null || !Number.isFinite(p.v)) { drawing = false; continue; }
    const x = ((p.t - t0) / span) * w;
    const y = h - (Math.min(p.v, yMax) / yMax) * h;
    d += (drawing ? ' L ' : ' M ') + x.toFixed(1) + ' ' + y.toFixed(1);
    drawing = true;
  }
  return d.trim();
}

/** A small inline chart of one series (no axes): a line and a light area under it. */
export function sparkline(points, range, color) {
  const w = 120;
  const h = 28;
  const values = points.map((p) => p.v).filter((v) => v !== null && Number.isFinite(v));
  const yMax = niceMax(Math.max(0, ...values));
  const root = svg('svg', { class: 'spark', viewBox: `0 0 ${w} ${h}`,
    preserveAspectRatio: 'none', 'aria-hidden': 'true' });
  root.append(svg('line', { x1: 0, y1: h - 0.5, x2: w, y2: h - 0.5, class: 'spark-base' }));
  const d = pathData(points, range, yMax, w, h - 1);
  if (d) {
    // The area: each drawn run closed down to the baseline.
    const area = d.split(' M ').map((run) => {
      const body = run.replace(/^M /, '');
      const first = body.split(' L ')[0].split(' ')[0];
      const last = body.split(' L ').slice(-1)[0].split(' ')[0];
      return `M ${first} ${h} L ${body} L ${last} ${h} Z`;
    }).join(' ');
    root.append(svg('path', { d: area, fill: color, 'fill-opacity': 0.15, stroke: 'none' }));
    root.append(svg('path', { d, fill: 'none', stroke: color, 'stroke-width': 1.5,
      'vector-effect': 'non-scaling-stroke', 'stroke-linejoin': 'round' }));
  }
  return root;
}

/** A line chart with a y axis and a legend: series [{label, color, points, current}]. */
export function renderLineChart(figure, series, range, unitLabel) {
  const w = 600;
  const h = 150;
  const values = [];
  for (const s of series) for (const p of s.points) if (p.v !== null && Number.isFinite(p.v)) values.push(p.v);
  const yMax = niceMax(Math.max(0, ...values));

  const caption = figure.querySelector('figcaption');
  const legend = el('div', { class: 'legend' });
  for (const s of series) {
    legend.append(el('span', { class: 'legend-item' },
      el('span', { class: 'legend-swatch', style: `background:${s.color}` }),
      s.label + ' ', el('strong', null, fmtRate(s.current))));
  }
  if (series.length === 0) legend.append(el('span', { class: 'legend-item muted' }, 'no data yet'));

  const plot = el('div', { class: 'plot' });
  const root = svg('svg', { viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: 'none',
    'aria-hidden': 'true' });
  for (const f of [0, 0.5, 1]) {
    const y = f === 0 ? h - 0.5 : h - f * h + 0.5;
    root.append(svg('line', { x1: 0, x2: w, y1: y, y2: y, class: f === 0 ? 'axis' : 'gridline',
      'vector-effect': 'non-scaling-stroke' }));
  }
  for (const s of series) {
    const d = pathData(s.points, range, yMax, w, h - 1);
    if (d) {
      root.append(svg('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 2,
        'vector-effect': 'non-scaling-stroke', 'stroke-linejoin': 'round' }));
    }
  }
  plot.append(root);
  plot.append(el('span', { class: 'y-label', style: 'top:0' }, fmtAxis(yMax)));
  plot.append(el('span', { class: 'y-label', style: 'top:50%' }, fmtAxis(yMax / 2)));
  const seconds = Math.round((range[1] - range[0]) / 1000);
  const axis = el('div', { class: 'x-axis' },
    el('span', null, seconds >= 60 ? `${Math.round(seconds / 60)} min ago` : `${seconds} s ago`),
    el('span', null, unitLabel), el('span', null, 'now'));
  figure.replaceChildren(caption, legend, plot, axis);
}
