// The dashboard's panels: overview tiles, nodes, actors, service figures and recent tasks, each
// rendered from the latest poll in `state`.

import { counterRate } from './prometheus.js';
import { state } from './state.js';
import { fmtInt, fmtRate, fmtSeconds, fmtBytes, fmtPercent, fmtAgo, fmtDurationMs, el, numCell, setRows, badge, sparkline, renderLineChart } from './view.js';

const ACTOR_ORDER = ['pipeline', 'dispatcher', 'node', 'job_runner', 'image_worker',
  'detector_client', 'local_detector', 'dry_run_detector', 'persistence', 'pipeline_catalog',
  'pipeline_admin'];
const STATE_ORDER = { up: 0, draining: 1, down: 2, left: 3 };
const STATUS_CLASS_COLORS = { '2xx': '#16a34a', '3xx': '#0891b2', '4xx': '#d97706', '5xx': '#dc2626' };
const OUTCOME_COLORS = { detected: '#16a34a', undetected: '#64748b', processed: '#2563eb',
  failed: '#dc2626' };
const FALLBACK_COLORS = ['#7c3aed', '#0d9488', '#db2777', '#ca8a04'];

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

export function renderOverview() {
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

export function renderNodes() {
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

export function renderActors() {
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

export function renderService() {
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

export function renderTasks(tasks, now) {
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
