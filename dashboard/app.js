// The imgproc dashboard: polls GET /cluster, GET /metrics (Prometheus text) and GET /tasks, and
// renders nodes, actors, service figures and recent tasks. Plain JavaScript, no dependencies.
//
// Rates (per second) and means (processing time, mailbox time) are computed from counter and
// histogram deltas between this poll and one about 10 s earlier (see rateBase); the charts keep
// the last few minutes of those figures in memory. Data from the service (file names, error texts) only ever reaches the
// page as text nodes, never as HTML.
//
// For tests: body[data-updated] counts polls that completed without an error (/metrics answering
// 404 is not an error: the panels that need it say so); body[data-metrics] is "ok", "missing"
// (404) or "error"; rows carry data-node / data-actor / data-task-id; number cells carry their
// raw value in data-value.
(function () {
  'use strict';

  const HISTORY_MS = 5 * 60 * 1000; // how much the charts show
  const FETCH_TIMEOUT_MS = 5000;
  const RATE_WINDOW_MS = 10 * 1000; // rates and means span at least this much (see rateBase)
  const ACTOR_ORDER = ['pipeline', 'dispatcher', 'node', 'job_runner', 'image_worker',
    'detector_client', 'local_detector', 'dry_run_detector', 'persistence', 'pipeline_catalog',
    'pipeline_admin'];
  const STATE_ORDER = { up: 0, draining: 1, down: 2, left: 3 };
  const STATUS_CLASS_COLORS = { '2xx': '#16a34a', '3xx': '#0891b2', '4xx': '#d97706', '5xx': '#dc2626' };
  const OUTCOME_COLORS = { detected: '#16a34a', undetected: '#64748b', processed: '#2563eb',
    failed: '#dc2626' };
  const FALLBACK_COLORS = ['#7c3aed', '#0d9488', '#db2777', '#ca8a04'];

  // ---------------------------------------------------------------------------------------------
  // Prometheus text format: `name{label="value",...} value [timestamp]`, '#' lines are comments.

  function parseSampleValue(text) {
    if (text === '+Inf' || text === 'Inf') return Infinity;
    if (text === '-Inf') return -Infinity;
    return Number(text); // NaN for "NaN" and for garbage
  }

  /** Parses exposition text into [{name, labels, value}]; malformed lines are skipped. */
  function parsePrometheus(text) {
    const samples = [];
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '' || line[0] === '#') continue;
      const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
      if (!nameMatch) continue;
      let i = nameMatch[0].length;
      const labels = {};
      let ok = true;
      if (line[i] === '{') {
        i++;
        for (;;) {
          while (line[i] === ' ' || line[i] === ',') i++;
          if (i >= line.length) { ok = false; break; }
          if (line[i] === '}') { i++; break; }
          const labelMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
          if (!labelMatch) { ok = false; break; }
          i += labelMatch[0].length;
          while (line[i] === ' ') i++;
          if (line[i] !== '=') { ok = false; break; }
          i++;
          while (line[i] === ' ') i++;
          if (line[i] !== '"') { ok = false; break; }
          i++;
          let value = '';
          while (i < line.length && line[i] !== '"') {
            if (line[i] === '\\' && i + 1 < line.length) {
              const next = line[i + 1];
              value += next === 'n' ? '\n' : next;
              i += 2;
            } else {
              value += line[i++];
            }
          }
          if (line[i] !== '"') { ok = false; break; }
          i++;
          labels[labelMatch[0]] = value;
        }
      }
      if (!ok) continue;
      const fields = line.slice(i).trim().split(/\s+/);
      if (fields[0] === undefined || fields[0] === '') continue;
      samples.push({ name: nameMatch[0], labels, value: parseSampleValue(fields[0]) });
    }
    return samples;
  }

  function seriesKey(name, labels) {
    const parts = Object.keys(labels).sort().map((k) => k + '=' + JSON.stringify(labels[k]));
    return name + '{' + parts.join(',') + '}';
  }

  /** One scrape: samples by name, values by series key, and the time it was taken. */
  class Scrape {
    constructor(samples, time) {
      this.time = time;
      this.byName = new Map();
      this.values = new Map();
      this.nodes = new Set();
      for (const s of samples) {
        if (s.labels.node !== undefined) this.nodes.add(s.labels.node);
        if (!this.byName.has(s.name)) this.byName.set(s.name, []);
        this.byName.get(s.name).push(s);
        this.values.set(seriesKey(s.name, s.labels), s.value);
      }
    }
    all(name) { return this.byName.get(name) || []; }
    value(name, labels) {
      const v = this.values.get(seriesKey(name, labels));
      return v === undefined ? null : v;
    }
    /**
     * A counter's value in this (earlier) scrape, to take a rate against: 0 when the series did
     * not exist yet but its node did (counters appear on their first increment, e.g. a route's
     * first 404), null when the node itself is new (a worker that just joined: its counters
     * began long before).
     */
    baseValue(name, labels) {
      const v = this.value(name, labels);
      if (v !== null) return v;
      return labels.node === undefined || this.nodes.has(labels.node) ? 0 : null;
    }
    /** Sum of every series of `name` whose labels include `match`. */
    sum(name, match) {
      let total = null;
      for (const s of this.all(name)) {
        if (match && Object.keys(match).some((k) => s.labels[k] !== match[k])) continue;
        if (Number.isFinite(s.value)) total = (total || 0) + s.value;
      }
      return total;
    }
  }

  /** Per-second increase of a counter between two values; null without a usable pair. */
  function counterRate(now, before, seconds) {
    if (now === null || before === null || !(seconds > 0)) return null;
    if (now < before) return null; // the process restarted: the counter began again
    return (now - before) / seconds;
  }

  // ---------------------------------------------------------------------------------------------
  // Formatting

  function fmtInt(n) {
    if (n === null || n === undefined || !Number.isFinite(n)) return '–';
    return Math.round(n).toLocaleString('en-US');
  }

  function fmtRate(r) {
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

  function fmtSeconds(s) {
    if (s === null || s === undefined || !Number.isFinite(s)) return '–';
    if (s === 0) return '0';
    if (s < 1e-3) return (s * 1e6).toFixed(s < 1e-5 ? 1 : 0) + ' µs';
    if (s < 1) return (s * 1e3).toFixed(s < 1e-2 ? 2 : 1) + ' ms';
    if (s < 120) return s.toFixed(2) + ' s';
    return (s / 60).toFixed(1) + ' min';
  }

  function fmtBytes(b) {
    if (b === null || b === undefined || !Number.isFinite(b)) return '–';
    if (b < 1024) return b + ' B';
    if (b < 1024 * 1024) return (b / 1024).toFixed(1) + ' KiB';
    if (b < 1024 * 1024 * 1024) return (b / 1024 / 1024).toFixed(1) + ' MiB';
    return (b / 1024 / 1024 / 1024).toFixed(2) + ' GiB';
  }

  function fmtPercent(fraction) {
    if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '–';
    return (fraction * 100).toFixed(fraction < 0.1 ? 1 : 0) + ' %';
  }

  function fmtAgo(ms) {
    if (!Number.isFinite(ms)) return '–';
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return Math.floor(s / 86400) + ' d ago';
  }

  function fmtDurationMs(ms) {
    if (!Number.isFinite(ms) || ms < 0) return '–';
    if (ms < 1000) return Math.round(ms) + ' ms';
    return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
  }

  // ---------------------------------------------------------------------------------------------
  // DOM helpers

  const SVG_NS = 'http://www.w3.org/2000/svg';

  /** el('td', {class: 'num', 'data-value': 3}, 'text', childNode, ...) */
  function el(tag, attrs, ...children) {
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

  function numCell(cls, value, text, title) {
    return el('td', { class: 'num ' + cls, 'data-value': value === null ? '' : value, title },
      text);
  }

  /**
   * Replaces a table body's rows. The body holds data rows only (tests count them); when there
   * are none, the note after the table says why.
   */
  function setRows(tbody, rows, emptyText) {
    tbody.replaceChildren(...rows);
    const note = tbody.closest('table').nextElementSibling;
    if (note && note.classList.contains('empty-note')) {
      note.hidden = rows.length > 0;
      note.textContent = emptyText;
    }
  }

  function badge(text, kind) {
    return el('span', { class: 'badge badge-' + kind }, text);
  }

  // ---------------------------------------------------------------------------------------------
  // History and charts

  /** Time series by key, trimmed to HISTORY_MS. Values may be null (a gap). */
  class History {
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
  function sparkline(points, range, color) {
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
  function renderLineChart(figure, series, range, unitLabel) {
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

  // ---------------------------------------------------------------------------------------------
  // State

  const state = {
    updated: 0,
    polling: false,
    timer: null,
    interval: 2000,
    cluster: null,
    clusterTime: null,
    prevCluster: null,
    prevClusterTime: null,
    scrape: null,
    prevScrape: null,
    clusters: [], // recent {time, cluster}, for rateBase
    scrapes: [], // recent Scrapes, for rateBase
    metricsStatus: 'pending', // ok | missing | error
    history: new History(),
  };

  function initialInterval() {
    const fromQuery = new URLSearchParams(location.search).get('interval');
    if (fromQuery !== null && /^\d+$/.test(fromQuery)) return Number(fromQuery);
    try {
      const stored = localStorage.getItem('imgproc.dashboard.interval');
      if (stored !== null && /^\d+$/.test(stored)) return Number(stored);
    } catch (e) { /* storage may be unavailable */ }
    return 2000;
  }

  /**
   * Adds `current` (anything with a `time`) to `recent` and returns the earlier sample that rates
   * and means are taken against: the newest one at least RATE_WINDOW_MS old, or the oldest there
   * is while the page is younger than that; null for the first sample. A window of several polls
   * keeps the figures steady: a worker's metrics reach the gateway only every few seconds, so
   * between two 1-second polls its counters would seem to stop and then jump.
   */
  function rateBase(recent, current) {
    recent.push(current);
    while (recent.length > 2 && recent[1].time <= current.time - RATE_WINDOW_MS) recent.shift();
    if (recent.length < 2) return null;
    return recent[0];
  }

  // ---------------------------------------------------------------------------------------------
  // Fetching

  class FetchError extends Error {
    constructor(path, message, status) {
      super(message);
      this.path = path;
      this.status = status || 0;
    }
  }

  async function fetchText(path) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
    let response;
    let text;
    try {
      response = await fetch(path, { cache: 'no-store', signal: controller.signal });
      text = await response.text();
    } catch (e) {
      throw new FetchError(path, controller.signal.aborted ? `no answer within ${FETCH_TIMEOUT_MS / 1000} s`
        : 'cannot reach the service');
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok) {
      let detail = '';
      try { detail = JSON.parse(text).detail || ''; } catch (e) { /* not JSON */ }
      throw new FetchError(path, `HTTP ${response.status}${detail ? ': ' + detail : ''}`,
        response.status);
    }
    return text;
  }

  async function fetchJson(path) {
    const text = await fetchText(path);
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new FetchError(path, 'the answer is not JSON');
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Rendering: overview tiles

  function setTile(name, value, sub, level) {
    const tile = document.querySelector(`#overview [data-tile="${name}"]`);
    if (!tile) return;
    tile.querySelector('.tile-value').textContent = value;
    tile.querySelector('.tile-sub').textContent = sub || '';
    tile.dataset.level = level || '';
  }

  function clusterRate(field) {
    if (!state.cluster || !state.prevCluster) return null;
    const seconds = (state.clusterTime - state.prevClusterTime) / 1000;
    return counterRate(state.cluster.totals[field], state.prevCluster.totals[field], seconds);
  }

  function metricRate(name, match) {
    const now = state.scrape;
    const before = state.prevScrape;
    if (!now || !before) return null;
    return counterRate(now.sum(name, match), before.sum(name, match), (now.time - before.time) / 1000);
  }

  function gatewayNode() {
    return state.cluster ? state.cluster.gateway : null;
  }

  function renderOverview() {
    const c = state.cluster;
    if (c) {
      const nodes = c.nodes || [];
      const up = nodes.filter((n) => n.state === 'up').length;
      const draining = nodes.filter((n) => n.state === 'draining').length;
      const down = nodes.filter((n) => n.state === 'down').length;
      setTile('nodes', `${up}`, [draining ? `${draining} draining` : null, down ? `${down} down` : null,
        `${nodes.length} listed`].filter(Boolean).join(' · '), up === 0 ? 'bad' : down ? 'warn' : 'good');
      const t = c.totals || {};
      const use = t.capacity > 0 ? t.in_flight / t.capacity : null;
      setTile('load', `${fmtInt(t.in_flight)} / ${fmtInt(t.capacity)}`,
        use === null ? 'no capacity' : `${fmtPercent(use)} of capacity`,
        use === null ? 'bad' : use >= 0.9 ? 'warn' : '');
      setTile('completed', fmtRate(clusterRate('completed')), `${fmtInt(t.completed)} in all`);
      const failedRate = clusterRate('failed');
      setTile('failed', fmtInt(t.failed), `${fmtRate(failedRate)} / s · ${fmtInt(t.redispatched)} re-dispatched`,
        failedRate > 0 ? 'bad' : '');
      const q = c.queue || {};
      setTile('queue', `${fmtInt(q.length)} / ${fmtInt(q.limit)}`, `${fmtInt(q.rejected)} rejected`,
        q.limit > 0 && q.length / q.limit >= 0.8 ? 'bad' : q.length > 0 ? 'warn' : '');
    }
    if (state.metricsStatus === 'ok' && state.scrape) {
      const gw = gatewayNode();
      const s = state.scrape;
      const reqRate = metricRate('imgproc_http_requests_total');
      const inFlight = s.sum('imgproc_http_requests_in_flight');
      setTile('requests', fmtRate(reqRate), `${fmtInt(inFlight)} in flight`);
      const match = gw ? { node: gw } : undefined;
      setTile('memory', fmtBytes(s.sum('process_resident_memory_bytes', match)), 'resident');
      const cpu = metricRate('process_cpu_seconds_total', match);
      setTile('cpu', fmtPercent(cpu), 'of one core');
    } else {
      const why = state.metricsStatus === 'missing' ? 'no /metrics' : state.metricsStatus === 'error'
        ? '/metrics failed' : '';
      for (const name of ['requests', 'memory', 'cpu']) setTile(name, '–', why, '');
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Rendering: nodes

  const STATE_BADGE = { up: 'good', draining: 'warn', down: 'bad', left: 'muted' };

  function renderNodes() {
    const c = state.cluster;
    const tbody = document.querySelector('#nodes tbody');
    if (!c) return;
    const seconds = state.prevClusterTime ? (state.clusterTime - state.prevClusterTime) / 1000 : 0;
    const before = new Map(((state.prevCluster && state.prevCluster.nodes) || []).map((n) => [n.id, n]));
    const range = state.history.range(state.clusterTime);
    const nodes = [...(c.nodes || [])].sort((a, b) =>
      ((STATE_ORDER[a.state] ?? 9) - (STATE_ORDER[b.state] ?? 9)) || String(a.name).localeCompare(String(b.name)));
    const rows = [];
    for (const n of nodes) {
      const prev = before.get(n.id);
      const rate = prev ? counterRate(n.completed, prev.completed, seconds) : null;
      const key = 'node-completed:' + n.id;
      state.history.add(key, state.clusterTime, rate);
      const use = n.capacity > 0 ? Math.min(1, n.in_flight / n.capacity) : 0;
      let rss = null;
      let cpu = null;
      if (state.metricsStatus === 'ok' && state.scrape) {
        rss = state.scrape.sum('process_resident_memory_bytes', { node: n.name });
        cpu = metricRate('process_cpu_seconds_total', { node: n.name });
      }
      const live = n.state === 'up' || n.state === 'draining';
      rows.push(el('tr', { 'data-node': n.name, 'data-node-id': n.id, 'data-state': n.state,
        class: live ? null : 'gone' },
        el('td', { class: 'node-name' }, el('strong', null, n.name),
          n.local ? el('span', { class: 'tag' }, 'local') : null,
          n.name === c.gateway ? el('span', { class: 'tag' }, 'gateway') : null,
          el('div', { class: 'sub' }, n.address || '')),
        el('td', { class: 'state' }, badge(n.state, STATE_BADGE[n.state] || 'muted')),
        el('td', { class: 'load', 'data-value': n.in_flight },
          el('span', { class: 'bar' }, el('span', { class: 'bar-fill' + (use >= 0.9 ? ' hot' : ''),
            style: `width:${(use * 100).toFixed(1)}%` })),
          el('span', { class: 'bar-text' }, `${fmtInt(n.in_flight)} / ${fmtInt(n.capacity)}`)),
        numCell('completed', n.completed, fmtInt(n.completed)),
        el('td', { class: 'chart-col rate', 'data-value': rate === null ? '' : rate },
          el('div', { class: 'spark-wrap' }, sparkline(state.history.get(key), range, '#2563eb'),
            el('span', { class: 'spark-value' }, fmtRate(rate)))),
        numCell('failed' + (n.failed > 0 ? ' has-failures' : ''), n.failed, fmtInt(n.failed)),
        numCell('redispatched', n.redispatched, fmtInt(n.redispatched)),
        numCell('memory', rss, fmtBytes(rss)),
        numCell('cpu', cpu, fmtPercent(cpu))));
    }
    setRows(tbody, rows, 'No node has joined.');

    const q = c.queue || {};
    const queue = document.getElementById('queue');
    const fill = q.limit > 0 ? Math.min(1, q.length / q.limit) : 0;
    queue.querySelector('.bar-fill').style.width = (fill * 100).toFixed(1) + '%';
    queue.querySelector('.bar-fill').classList.toggle('hot', fill >= 0.8);
    queue.querySelector('.queue-text').textContent =
      `${fmtInt(q.length)} waiting of ${fmtInt(q.limit)} · ${fmtInt(q.rejected)} rejected`;
    document.getElementById('gateway-name').textContent = c.gateway || '?';
  }

  // ---------------------------------------------------------------------------------------------
  // Rendering: actors

  /**
   * Shows in a metrics panel why it has no figures. Returns true when the panel should render
   * the current scrape: metrics answered, and there is a scrape.
   *   ok                      the panel's content, no note
   *   error, with old figures the old content faded ("stale"), a note
   *   missing (404), pending  or error without figures: the content hidden ("no-data"), a note
   */
  function showMetricsState(section, notes) {
    const note = section.querySelector('.panel-missing');
    const status = state.metricsStatus;
    section.dataset.metrics = status;
    const ok = status === 'ok' && state.scrape !== null;
    const stale = status === 'error' && state.scrape !== null;
    section.classList.toggle('no-data', !ok && !stale);
    section.classList.toggle('stale-data', stale);
    note.hidden = ok;
    if (!ok) {
      note.textContent = status === 'missing' ? notes.missing : stale ? notes.error
        : status === 'error' ? notes.errorNoData : 'Waiting for the first scrape of GET /metrics…';
    }
    return ok;
  }

  function actorRank(name) {
    const i = ACTOR_ORDER.indexOf(name);
    return i === -1 ? ACTOR_ORDER.length : i;
  }

  function histogramMean(base, labels) {
    const now = state.scrape;
    const before = state.prevScrape;
    const sumNow = now.value(base + '_sum', labels);
    const countNow = now.value(base + '_count', labels);
    if (before) {
      const sumBefore = before.baseValue(base + '_sum', labels);
      const countBefore = before.baseValue(base + '_count', labels);
      if (sumNow !== null && countNow !== null && sumBefore !== null && countBefore !== null &&
          countNow >= countBefore) {
        const count = countNow - countBefore;
        return { mean: count > 0 ? (sumNow - sumBefore) / count : null,
          overall: countNow > 0 ? sumNow / countNow : null };
      }
    }
    return { mean: null, overall: countNow > 0 && sumNow !== null ? sumNow / countNow : null };
  }

  /** A mean over the rate window; "idle" when the actor handled nothing in it. */
  function meanCell(cls, m, idle) {
    const title = m.overall === null ? null : `mean since start: ${fmtSeconds(m.overall)}`;
    if (m.mean !== null) return numCell(cls, m.mean, fmtSeconds(m.mean), title);
    return el('td', { class: 'num muted ' + cls, 'data-value': '', title }, idle ? 'idle' : '–');
  }

  function renderActors() {
    const section = document.getElementById('actors');
    const tbody = section.querySelector('tbody');
    if (!showMetricsState(section, {
      missing: 'Actor metrics are not available: this service has no GET /metrics (it answered 404).',
      error: 'GET /metrics failed: the figures below are from the last good scrape.',
      errorNoData: 'Actor metrics could not be read: GET /metrics failed.',
    })) return;

    const s = state.scrape;
    const seconds = state.prevScrape ? (s.time - state.prevScrape.time) / 1000 : 0;
    const range = state.history.range(s.time);
    const actors = s.all('caf_actor_processed_messages_total')
      .filter((x) => x.labels.node !== undefined && x.labels.name !== undefined);
    // Nodes: the gateway first, then by name.
    const gw = gatewayNode();
    const nodes = [...new Set(actors.map((a) => a.labels.node))].sort((a, b) =>
      (a === gw ? -1 : b === gw ? 1 : a.localeCompare(b)));
    const rows = [];
    for (const node of nodes) {
      const mine = actors.filter((a) => a.labels.node === node)
        .sort((a, b) => actorRank(a.labels.name) - actorRank(b.labels.name) ||
          a.labels.name.localeCompare(b.labels.name));
      let nodeRate = 0;
      const nodeRows = [];
      for (const a of mine) {
        const labels = a.labels;
        const before = state.prevScrape ? state.prevScrape.baseValue(a.name, labels) : null;
        const rate = counterRate(a.value, before, seconds);
        if (rate) nodeRate += rate;
        const key = `actor:${labels.node}:${labels.name}`;
        state.history.add(key, s.time, rate);
        const running = s.value('caf_system_running_actors', labels);
        const mailbox = s.value('caf_actor_mailbox_size', labels);
        const failed = s.value('caf_actor_failed_messages_total', labels);
        const rejected = s.value('caf_system_rejected_messages_total', labels);
        const failedBefore = state.prevScrape
          ? state.prevScrape.baseValue('caf_actor_failed_messages_total', labels) : null;
        const failing = failed !== null && failedBefore !== null && failed > failedBefore;
        nodeRows.push(el('tr', { 'data-node': labels.node, 'data-actor': labels.name },
          el('td', { class: 'actor-name' }, labels.name),
          numCell('running', running, fmtInt(running)),
          numCell('mailbox' + (mailbox > 0 ? ' busy' : ''), mailbox, fmtInt(mailbox)),
          numCell('throughput', rate, rate === null ? '–' : fmtRate(rate) + ' /s'),
          el('td', { class: 'chart-col' }, sparkline(state.history.get(key), range, '#7c3aed')),
          meanCell('processing', histogramMean('caf_actor_processing_time_seconds', labels), rate === 0),
          meanCell('mailbox-time', histogramMean('caf_actor_mailbox_time_seconds', labels), rate === 0),
          numCell('processed', a.value, fmtInt(a.value)),
          numCell('failed' + (failing ? ' has-failures' : ''), failed, fmtInt(failed),
            rejected === null ? null : `refused for capacity: ${fmtInt(rejected)}`)));
      }
      rows.push(el('tr', { class: 'group', 'data-group': node },
        el('th', { colspan: 9 }, 'node ', el('strong', null, node),
          node === gw ? el('span', { class: 'tag' }, 'gateway') : null,
          el('span', { class: 'group-note' }, `${mine.length} actor kinds · ${fmtRate(nodeRate)} msg/s`))));
      rows.push(...nodeRows);
    }
    setRows(tbody, rows, 'No actor metrics yet.');
  }

  // ---------------------------------------------------------------------------------------------
  // Rendering: service

  function statusClass(status) {
    const n = Number(status);
    return Number.isFinite(n) && n >= 100 ? `${Math.floor(n / 100)}xx` : String(status);
  }

  function colorFor(map, key, index) {
    return map[key] || FALLBACK_COLORS[index % FALLBACK_COLORS.length];
  }

  function setStat(name, text, level) {
    const stat = document.querySelector(`#service [data-stat="${name}"]`);
    stat.querySelector('.stat-value').textContent = text;
    stat.dataset.level = level || '';
  }

  function renderService() {
    const section = document.getElementById('service');
    if (!showMetricsState(section, {
      missing: 'No GET /metrics on this service (404): request, task and process figures are not available.',
      error: 'GET /metrics failed: the figures below are from the last good scrape.',
      errorNoData: 'GET /metrics failed: request, task and process figures are not available.',
    })) return;

    const s = state.scrape;
    const before = state.prevScrape;
    const seconds = before ? (s.time - before.time) / 1000 : 0;
    const range = state.history.range(s.time);
    const rateOf = (sample) => counterRate(sample.value, before ? before.baseValue(sample.name, sample.labels) : null, seconds);

    // HTTP requests: by status class for the chart, by route and status for the table.
    const requests = s.all('imgproc_http_requests_total');
    const byClass = new Map();
    const byRoute = new Map();
    for (const r of requests) {
      const cls = statusClass(r.labels.status);
      const rate = rateOf(r);
      if (!byClass.has(cls)) byClass.set(cls, 0);
      if (rate !== null) byClass.set(cls, byClass.get(cls) + rate);
      const key = `${r.labels.route}\u0000${r.labels.status}`;
      const row = byRoute.get(key) || { route: r.labels.route || '?', status: r.labels.status || '?', rate: null, total: 0 };
      row.total += Number.isFinite(r.value) ? r.value : 0;
      if (rate !== null) row.rate = (row.rate || 0) + rate;
      byRoute.set(key, row);
    }
    const haveRates = before !== null;
    const classes = ['2xx', '4xx', '5xx', ...[...byClass.keys()].filter((k) => !['2xx', '4xx', '5xx'].includes(k)).sort()];
    const requestSeries = [];
    classes.forEach((cls, i) => {
      if (!byClass.has(cls) && !state.history.series.has('http:' + cls)) return;
      const rate = haveRates ? (byClass.get(cls) || 0) : null;
      state.history.add('http:' + cls, s.time, rate);
      requestSeries.push({ label: cls, color: colorFor(STATUS_CLASS_COLORS, cls, i),
        points: state.history.get('http:' + cls), current: rate });
    });
    renderLineChart(document.getElementById('chart-requests'), requestSeries, range, 'req/s');

    const routeRows = [...byRoute.values()].sort((a, b) =>
      (b.rate || 0) - (a.rate || 0) || b.total - a.total || a.route.localeCompare(b.route));
    setRows(section.querySelector('#routes tbody'), routeRows.map((r) =>
      el('tr', { 'data-route': r.route, 'data-status': r.status },
        el('td', { class: 'mono' }, r.route),
        el('td', null, badge(r.status, { '2xx': 'good', '4xx': 'warn', '5xx': 'bad' }[statusClass(r.status)] || 'muted')),
        numCell('rate', r.rate, fmtRate(r.rate)),
        numCell('total', r.total, fmtInt(r.total)))), 'No request yet.');

    // Tasks: by outcome for the chart, by pipeline and outcome for the table.
    const tasks = s.all('imgproc_tasks_total');
    const byOutcome = new Map();
    const byPipeline = new Map(); // pipeline and outcome, summed over nodes
    let taskRate = null;
    for (const t of tasks) {
      const rate = rateOf(t);
      const outcome = t.labels.outcome || '?';
      if (!byOutcome.has(outcome)) byOutcome.set(outcome, 0);
      if (rate !== null) {
        byOutcome.set(outcome, byOutcome.get(outcome) + rate);
        taskRate = (taskRate || 0) + rate;
      }
      const key = `${t.labels.pipeline}\u0000${outcome}`;
      const row = byPipeline.get(key) || { pipeline: t.labels.pipeline || '?', outcome, rate: null, total: 0 };
      row.total += Number.isFinite(t.value) ? t.value : 0;
      if (rate !== null) row.rate = (row.rate || 0) + rate;
      byPipeline.set(key, row);
    }
    const outcomes = ['detected', 'undetected', 'processed', 'failed',
      ...[...byOutcome.keys()].filter((k) => !(k in OUTCOME_COLORS)).sort()];
    const taskSeries = [];
    outcomes.forEach((outcome, i) => {
      if (!byOutcome.has(outcome) && !state.history.series.has('tasks:' + outcome)) return;
      const rate = haveRates ? (byOutcome.get(outcome) || 0) : null;
      state.history.add('tasks:' + outcome, s.time, rate);
      taskSeries.push({ label: outcome, color: colorFor(OUTCOME_COLORS, outcome, i),
        points: state.history.get('tasks:' + outcome), current: rate });
    });
    renderLineChart(document.getElementById('chart-tasks'), taskSeries, range, 'tasks/s');

    const pipelineRows = [...byPipeline.values()].sort((a, b) => a.pipeline.localeCompare(b.pipeline, 'en', { numeric: true }) ||
      outcomes.indexOf(a.outcome) - outcomes.indexOf(b.outcome));
    const outcomeBadge = { detected: 'good', undetected: 'muted', processed: 'info', failed: 'bad' };
    setRows(section.querySelector('#pipelines tbody'), pipelineRows.map((p) =>
      el('tr', { 'data-pipeline': p.pipeline, 'data-outcome': p.outcome },
        el('td', null, '#' + p.pipeline),
        el('td', null, badge(p.outcome, outcomeBadge[p.outcome] || 'muted')),
        numCell('rate', p.rate, fmtRate(p.rate)),
        numCell('total', p.total, fmtInt(p.total)))), 'No task yet.');

    const inFlight = s.sum('imgproc_http_requests_in_flight');
    setStat('in-flight', fmtInt(inFlight));
    const queueLength = s.sum('imgproc_dispatch_queue_length');
    setStat('queue-length', fmtInt(queueLength), queueLength > 0 ? 'warn' : '');
    setStat('tasks-rate', fmtRate(taskRate));
    const errorRate = haveRates ? (byClass.get('5xx') || 0) + (byClass.get('4xx') || 0) : null;
    setStat('error-rate', fmtRate(errorRate), (byClass.get('5xx') || 0) > 0 ? 'bad' : errorRate > 0 ? 'warn' : '');
  }

  // ---------------------------------------------------------------------------------------------
  // Rendering: tasks

  const TASK_BADGE = { detected: 'good', undetected: 'muted', processed: 'info', failed: 'bad',
    processing: 'warn' };

  function taskResult(t) {
    const d = t.data;
    if (t.status === 'failed') return t.error || 'failed';
    if (t.status === 'processing') return 'running…';
    if (t.status === 'undetected') return 'no detection';
    if (d && typeof d === 'object' && !Array.isArray(d)) {
      if (t.status === 'detected' && 'confidence' in d) {
        return `box ${d.width}×${d.height} at (${d.top_left_x}, ${d.top_left_y}) · ` +
          `confidence ${Number(d.confidence).toFixed(2)}`;
      }
      if ('width' in d && 'height' in d) {
        return [`${d.width}×${d.height}`, d.format, d.kind && d.kind !== 'encoded_bytes' ? d.kind : null,
          Number.isFinite(d.bytes) ? fmtBytes(d.bytes) : null].filter(Boolean).join(' · ');
      }
    }
    if (d === null || d === undefined) return '';
    const text = JSON.stringify(d);
    return text.length > 80 ? text.slice(0, 77) + '…' : text;
  }

  function renderTasks(tasks, now) {
    const tbody = document.querySelector('#tasks tbody');
    const items = (tasks && tasks.items) || [];
    const rows = items.map((t) => {
      const created = Date.parse(t.created_at);
      const finished = t.finished_at ? Date.parse(t.finished_at) : NaN;
      const result = taskResult(t);
      return el('tr', { 'data-task-id': t.id, 'data-status': t.status, class: 'status-' + t.status },
        el('td', { class: 'num mono' }, String(t.id)),
        el('td', null, `#${t.pipeline_id}`,
          t.pipeline_version !== undefined && t.pipeline_version !== null
            ? el('span', { class: 'sub-inline' }, ` v${t.pipeline_version}`) : null),
        el('td', null, badge(t.status, TASK_BADGE[t.status] || 'muted')),
        el('td', { class: 'filename', title: t.filename || '' }, t.filename || ''),
        el('td', { class: 'result' + (t.status === 'failed' ? ' error-text' : ''), title: result }, result),
        el('td', { class: 'created', title: t.created_at || '' }, fmtAgo(now - created)),
        el('td', { class: 'num took' }, fmtDurationMs(finished - created)));
    });
    setRows(tbody, rows, 'No task yet.');
  }

  // ---------------------------------------------------------------------------------------------
  // The poll loop

  function showErrors(errors) {
    const banner = document.getElementById('banner');
    if (errors.length === 0) {
      banner.hidden = true;
      banner.replaceChildren();
      return;
    }
    banner.hidden = false;
    const list = el('ul');
    for (const e of errors) list.append(el('li', null, el('code', null, 'GET ' + e.path), ' — ', e.message));
    banner.replaceChildren(el('strong', null, errors.length === 1 ? 'An endpoint failed; the page shows the last data it had.'
      : 'Endpoints failed; the page shows the last data it had.'), list);
  }

  function setLive(kind, text) {
    const live = document.getElementById('live');
    live.className = 'pill pill-' + kind;
    live.textContent = text;
    document.body.dataset.state = kind;
  }

  async function poll() {
    if (state.polling) return;
    state.polling = true;
    const errors = [];
    try {
      const [cluster, metrics, tasks] = await Promise.allSettled([
        fetchJson('/cluster'), fetchText('/metrics'), fetchJson('/tasks?limit=20')]);
      const now = Date.now();

      if (cluster.status === 'fulfilled' && cluster.value && Array.isArray(cluster.value.nodes)) {
        state.cluster = cluster.value;
        state.clusterTime = now;
        const base = rateBase(state.clusters, { time: now, cluster: cluster.value });
        state.prevCluster = base ? base.cluster : null;
        state.prevClusterTime = base ? base.time : null;
      } else {
        errors.push(cluster.status === 'rejected' ? cluster.reason
          : new FetchError('/cluster', 'unexpected answer (no "nodes" list)'));
      }

      if (metrics.status === 'fulfilled') {
        state.scrape = new Scrape(parsePrometheus(metrics.value), now);
        // Across a failed scrape too: counters only grow.
        state.prevScrape = rateBase(state.scrapes, state.scrape);
        state.metricsStatus = 'ok';
      } else if (metrics.reason && metrics.reason.status === 404) {
        state.metricsStatus = 'missing';
        state.scrape = null;
        state.prevScrape = null;
        state.scrapes.length = 0;
      } else {
        state.metricsStatus = 'error';
        errors.push(metrics.reason);
      }
      document.body.dataset.metrics = state.metricsStatus;

      // Each panel renders on its own: one failing must not blank the others.
      for (const [name, render] of [['overview', renderOverview], ['nodes', renderNodes],
        ['actors', renderActors], ['service', renderService]]) {
        try {
          render();
        } catch (e) {
          errors.push(new FetchError(name, 'cannot render: ' + e.message));
          console.error(e);
        }
      }
      if (tasks.status === 'fulfilled') {
        try {
          renderTasks(tasks.value, now);
        } catch (e) {
          errors.push(new FetchError('/tasks?limit=20', 'cannot render: ' + e.message));
        }
      } else {
        errors.push(tasks.reason);
      }

      showErrors(errors.map((e) => ({ path: e.path || '?', message: e.message || String(e) })));
      document.body.classList.toggle('stale', errors.length > 0);
      if (errors.length === 0) {
        state.updated += 1;
        document.body.dataset.updated = String(state.updated);
        setLive('ok', 'live');
      } else {
        setLive('error', errors.length === 3 ? 'offline' : 'degraded');
      }
      document.getElementById('last-update').textContent =
        'updated ' + new Date(now).toLocaleTimeString('en-GB');
    } finally {
      state.polling = false;
      schedule();
    }
  }

  function schedule() {
    clearTimeout(state.timer);
    state.timer = null;
    if (state.interval > 0) state.timer = setTimeout(poll, state.interval);
    document.getElementById('footer-text').textContent = state.interval > 0
      ? `Polls GET /cluster, GET /metrics and GET /tasks every ${state.interval / 1000} s; ` +
        `rates and means span the last ${RATE_WINDOW_MS / 1000} s; ` +
        `charts keep the last ${HISTORY_MS / 60000} minutes.`
      : 'Polling paused.';
  }

  function start() {
    state.interval = initialInterval();
    const select = document.getElementById('interval');
    if (![...select.options].some((o) => Number(o.value) === state.interval)) {
      select.append(el('option', { value: state.interval }, `${state.interval / 1000} s`));
    }
    select.value = String(state.interval);
    select.addEventListener('change', () => {
      state.interval = Number(select.value);
      try { localStorage.setItem('imgproc.dashboard.interval', String(state.interval)); } catch (e) { /* ignore */ }
      if (state.interval > 0) {
        if (!state.polling) poll();
      } else {
        schedule();
        setLive('pending', 'paused');
      }
    });
    poll();
  }

  // For the console and tests.
  window.imgprocDashboard = { parsePrometheus, poll, state };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
