// The imgproc dashboard: polls GET /cluster, GET /metrics (Prometheus text) and GET /tasks, and
// renders nodes, actors, service figures and recent tasks. Plain JavaScript modules, no
// dependencies: this one fetches and schedules; prometheus.js reads the metrics, state.js keeps
// what the polls found, panels.js renders it, view.js holds formatting, DOM helpers and charts.
//
// Rates (per second) and means (processing time, mailbox time) are computed from counter and
// histogram deltas between this poll and one about 10 s earlier (see rateBase); the charts keep
// the last few minutes of those figures in memory. Data from the service (file names, error
// texts) only ever reaches the page as text nodes, never as HTML.
//
// For tests: body[data-updated] counts polls that completed without an error (/metrics answering
// 404 is not an error: the panels that need it say so); body[data-metrics] is "ok", "missing"
// (404) or "error"; rows carry data-node / data-actor / data-task-id; number cells carry their
// raw value in data-value.

import { renderOverview, renderNodes, renderActors, renderService, renderTasks } from './panels.js';
import { parsePrometheus, Scrape } from './prometheus.js';
import { RATE_WINDOW_MS, state, initialInterval, rateBase } from './state.js';
import { HISTORY_MS, el } from './view.js';

const FETCH_TIMEOUT_MS = 5000;

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
