#!/usr/bin/env node
// Checks the imgproc dashboard in a real (headless) browser:
//
//   node tests/browser/dashboard_check.mjs BASE_URL SCREENSHOT_PATH
//
// Opens BASE_URL/dashboard, waits until the nodes table lists a node and the page has completed
// two polls (body[data-updated] >= 2), records the nodes' completed counts and the actors'
// processed counts and throughput, waits for later polls until those figures have changed (the
// caller sends requests meanwhile), takes a full-page screenshot, and prints a JSON summary as
// one line on stdout. Exit 0 when every check passed, 1 when one failed (the summary's "error"
// says which, and the screenshot is still taken), 2 for bad usage or a browser that won't start.
// Progress goes to stderr.
//
// Environment:
//   IMGPROC_CHROMIUM                     browser binary (default /usr/bin/chromium)
//   IMGPROC_DASHBOARD_INTERVAL_MS        the page's poll interval (default 1000)
//   IMGPROC_DASHBOARD_TIMEOUT_MS         bound on each wait (default 30000)
//   IMGPROC_DASHBOARD_MIN_POLLS          polls before the screenshot, so the charts have a few
//                                        points (default 6)
//   IMGPROC_DASHBOARD_ALLOW_NO_METRICS=1 accept a service without GET /metrics (404): the actor
//                                        figures are then not required

import fs from 'node:fs';
import path from 'node:path';
import { launchChromium } from './browser.mjs';

const [baseArg, screenshotPath] = process.argv.slice(2);
if (!baseArg || !screenshotPath) {
  process.stderr.write('usage: node dashboard_check.mjs BASE_URL SCREENSHOT_PATH\n');
  process.exit(2);
}
const base = baseArg.replace(/\/+$/, '');
const interval = Number(process.env.IMGPROC_DASHBOARD_INTERVAL_MS || 1000);
const waitMs = Number(process.env.IMGPROC_DASHBOARD_TIMEOUT_MS || 30000);
const minPolls = Number(process.env.IMGPROC_DASHBOARD_MIN_POLLS || 6);
const allowNoMetrics = process.env.IMGPROC_DASHBOARD_ALLOW_NO_METRICS === '1';
const url = `${base}/dashboard?interval=${interval}`;

const log = (message) => process.stderr.write(`dashboard_check: ${message}\n`);

class CheckFailed extends Error {}
const fail = (message) => { throw new CheckFailed(message); };

// A hard stop in case the browser itself hangs: the caller's timeout should never be what ends us.
const hardStop = setTimeout(() => {
  log('giving up: the whole check took longer than ' + (4 * waitMs) / 1000 + ' s');
  process.stdout.write(JSON.stringify({ ok: false, error: 'hard timeout', url }) + '\n');
  process.exit(1);
}, 4 * waitMs);
hardStop.unref();

/** Everything the test compares, read from the page's data attributes. */
function readFigures() {
  const num = (cell) => {
    if (!cell || cell.dataset.value === undefined || cell.dataset.value === '') return null;
    const n = Number(cell.dataset.value);
    return Number.isFinite(n) ? n : null;
  };
  const nodes = [...document.querySelectorAll('#nodes tbody tr[data-node]')].map((tr) => ({
    name: tr.dataset.node,
    state: tr.dataset.state,
    completed: num(tr.querySelector('.completed')),
    completed_per_s: num(tr.querySelector('.rate')),
  }));
  const actors = [...document.querySelectorAll('#actors tbody tr[data-actor]')].map((tr) => ({
    node: tr.dataset.node,
    actor: tr.dataset.actor,
    processed: num(tr.querySelector('.processed')),
    throughput: num(tr.querySelector('.throughput')),
    processing_s: num(tr.querySelector('.processing')),
    mailbox_s: num(tr.querySelector('.mailbox-time')),
  }));
  const banner = document.getElementById('banner');
  return {
    updated: Number(document.body.dataset.updated || 0),
    metrics: document.body.dataset.metrics,
    nodes,
    actors,
    tasks: document.querySelectorAll('#tasks tbody tr[data-task-id]').length,
    banner: banner && !banner.hidden ? banner.textContent.trim() : null,
  };
}

const sum = (items, key) => items.reduce((total, x) => total + (x[key] || 0), 0);

const summary = { ok: false, url, screenshot: path.resolve(screenshotPath), metrics: null,
  polls: {}, nodes: {}, actors: {}, tasks: 0, page_errors: [], console_errors: [] };

let browser;
try {
  browser = await launchChromium(waitMs);
} catch (e) {
  log(`cannot start the browser: ${e.message}`);
  process.stdout.write(JSON.stringify({ ok: false, error: `cannot start the browser: ${e.message}`, url }) + '\n');
  process.exit(2);
}

let exitCode = 1;
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  page = await context.newPage();
  page.on('pageerror', (e) => summary.page_errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') summary.console_errors.push(m.text());
  });

  log(`opening ${url}`);
  const response = await page.goto(url, { waitUntil: 'load', timeout: waitMs });
  if (!response) fail(`no response for ${url}`);
  if (response.status() !== 200) fail(`GET /dashboard answered ${response.status()}`);
  const type = response.headers()['content-type'] || '';
  if (!type.startsWith('text/html')) fail(`GET /dashboard has content-type "${type}", not text/html`);

  // 1. The page runs: a node listed and two polls done.
  try {
    await page.waitForFunction(() =>
      document.querySelectorAll('#nodes tbody tr[data-node]').length >= 1 &&
      Number(document.body.dataset.updated) >= 2, null, { timeout: waitMs, polling: 200 });
  } catch (e) {
    const now = await page.evaluate(readFigures).catch(() => null);
    fail(`the page did not list a node after two polls within ${waitMs / 1000} s` +
      (now ? ` (data-updated=${now.updated}, nodes=${now.nodes.length}, banner: ${now.banner || 'none'})` : ''));
  }
  let first = await page.evaluate(readFigures);
  summary.metrics = first.metrics;

  // 2. The actor panel: needs GET /metrics and two scrapes for a throughput.
  const wantActors = first.metrics !== 'missing' || !allowNoMetrics;
  if (first.metrics === 'missing' && !allowNoMetrics) {
    fail('GET /metrics answered 404, so the actor panel is empty ' +
      '(IMGPROC_DASHBOARD_ALLOW_NO_METRICS=1 accepts that)');
  }
  if (first.metrics === 'error') fail(`GET /metrics failed: ${first.banner}`);
  if (wantActors) {
    try {
      await page.waitForFunction(() =>
        [...document.querySelectorAll('#actors tbody tr[data-actor] .throughput')]
          .some((cell) => cell.dataset.value !== ''), null, { timeout: waitMs, polling: 200 });
    } catch (e) {
      fail(`no actor row with a throughput within ${waitMs / 1000} s`);
    }
    first = await page.evaluate(readFigures);
  }
  log(`first: poll ${first.updated}, ${first.nodes.length} node(s), ${first.actors.length} actor row(s)`);

  // 3. Later polls: the figures move while the caller sends requests.
  const changed = (later) => {
    const nodesChanged = sum(later.nodes, 'completed') > sum(first.nodes, 'completed');
    const actorsChanged = !wantActors || (sum(later.actors, 'processed') > sum(first.actors, 'processed') &&
      later.actors.some((a) => a.throughput > 0));
    return later.updated > first.updated && nodesChanged && actorsChanged;
  };
  const deadline = Date.now() + waitMs;
  let later = first;
  for (;;) {
    await page.waitForFunction((n) => Number(document.body.dataset.updated) > n, later.updated,
      { timeout: Math.max(1, deadline - Date.now()), polling: 100 }).catch(() => {});
    later = await page.evaluate(readFigures);
    if (changed(later) || Date.now() >= deadline) break;
  }

  summary.polls = { first: first.updated, last: later.updated };
  summary.metrics = later.metrics;
  summary.tasks = later.tasks;
  summary.banner = later.banner;
  summary.nodes = {
    count: later.nodes.length,
    completed_before: sum(first.nodes, 'completed'),
    completed_after: sum(later.nodes, 'completed'),
    changed: sum(later.nodes, 'completed') > sum(first.nodes, 'completed'),
    rows: later.nodes,
  };
  summary.actors = {
    count: later.actors.length,
    processed_before: sum(first.actors, 'processed'),
    processed_after: sum(later.actors, 'processed'),
    max_throughput: later.actors.reduce((m, a) => Math.max(m, a.throughput || 0), 0),
    changed: later.actors.length > 0 && sum(later.actors, 'processed') > sum(first.actors, 'processed'),
    rows: later.actors,
  };

  if (!summary.nodes.changed) {
    fail(`the nodes' completed count did not change between polls ${first.updated} and ${later.updated} ` +
      `(${summary.nodes.completed_before} -> ${summary.nodes.completed_after})`);
  }
  if (wantActors && !summary.actors.changed) {
    fail(`the actors' processed count did not change between polls ${first.updated} and ${later.updated} ` +
      `(${summary.actors.processed_before} -> ${summary.actors.processed_after})`);
  }
  if (wantActors && !(summary.actors.max_throughput > 0)) fail('no actor shows a throughput above 0');
  if (later.tasks < 1) fail('the recent tasks table is empty');

  // A few more polls for the screenshot's charts (bounded; not a check).
  if (later.updated < minPolls) {
    await page.waitForFunction((n) => Number(document.body.dataset.updated) >= n, minPolls,
      { timeout: waitMs, polling: 200 }).catch(() => log(`fewer than ${minPolls} polls for the screenshot`));
    later = await page.evaluate(readFigures);
    summary.polls.last = later.updated;
    summary.banner = later.banner;
  }
  if (later.banner) fail(`the error banner is shown: ${later.banner}`);
  if (summary.page_errors.length) fail(`script errors on the page: ${summary.page_errors.join('; ')}`);

  // The per-route table stays in its own cell: it once spilled over the "tasks / s" chart.
  summary.layout = await page.evaluate(() => {
    const box = (id) => document.getElementById(id).getBoundingClientRect();
    const table = box('routes');
    const chart = box('chart-tasks');
    const cell = document.getElementById('routes').parentElement.getBoundingClientRect();
    return { table_right: table.right, cell_right: cell.right, chart_left: chart.left,
      overlap: table.right > chart.left + 0.5 && table.left < chart.right &&
        table.bottom > chart.top && table.top < chart.bottom && cell.right > chart.left + 0.5 };
  });
  if (summary.layout.overlap)
    fail(`the route table overlaps the tasks chart: ${JSON.stringify(summary.layout)}`);

  summary.ok = true;
  exitCode = 0;
} catch (e) {
  summary.error = e instanceof CheckFailed ? e.message : `unexpected: ${e.stack || e.message}`;
  log(`FAILED: ${summary.error}`);
} finally {
  if (page) {
    try {
      fs.mkdirSync(path.dirname(path.resolve(screenshotPath)), { recursive: true });
      await page.screenshot({ path: screenshotPath, fullPage: true, timeout: waitMs });
      log(`screenshot: ${path.resolve(screenshotPath)}`);
    } catch (e) {
      summary.ok = false;
      summary.error = (summary.error ? summary.error + '; ' : '') + `no screenshot: ${e.message}`;
      exitCode = 1;
      log(`cannot take the screenshot: ${e.message}`);
    }
  }
  await browser.close().catch(() => {});
}

process.stdout.write(JSON.stringify(summary) + '\n');
process.exit(exitCode);
