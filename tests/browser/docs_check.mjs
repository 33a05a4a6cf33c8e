#!/usr/bin/env node
// Checks /docs (Swagger UI over /openapi.json) in a real headless browser:
//
//   node tests/browser/docs_check.mjs BASE_URL JPEG_PATH SCREENSHOT_PATH
//
// Opens BASE_URL/docs and waits until Swagger UI has rendered; every operation of the served
// /openapi.json must be listed (method and path) and none other. Then "Try it out" on
// POST /process-image: pipeline_id 1, JPEG_PATH as image_file, Execute; the live response must
// be 200 with a task of pipeline 1 (detected or undetected). Takes a screenshot, prints a JSON
// summary as one line on stdout, exits 0 when every check passed, 1 when one failed, 2 when the
// browser cannot start. Progress goes to stderr. IMGPROC_CHROMIUM: browser binary
// (default /usr/bin/chromium).

import { launchChromium } from './browser.mjs';

const [baseArg, jpegPath, screenshotPath] = process.argv.slice(2);
if (!baseArg || !jpegPath || !screenshotPath) {
  process.stderr.write('usage: node docs_check.mjs BASE_URL JPEG_PATH SCREENSHOT_PATH\n');
  process.exit(2);
}
const base = baseArg.replace(/\/+$/, '');
const waitMs = 30000;
const log = (message) => process.stderr.write(`docs_check: ${message}\n`);
const summary = { ok: false, operations: 0, listed: 0, page_errors: [] };
const hardStop = setTimeout(() => {
  process.stdout.write(JSON.stringify({ ...summary, error: 'hard timeout' }) + '\n');
  process.exit(1);
}, 4 * waitMs);
hardStop.unref();

let browser;
try {
  browser = await launchChromium(waitMs);
} catch (e) {
  process.stdout.write(JSON.stringify({ ...summary, error: `cannot start the browser: ${e.message}` }) + '\n');
  process.exit(2);
}

let exitCode = 1;
let page;
try {
  const document = await (await fetch(`${base}/openapi.json`)).json();
  const expected = new Set();
  for (const [path, item] of Object.entries(document.paths))
    for (const method of Object.keys(item)) expected.add(`${method.toUpperCase()} ${path}`);
  summary.operations = expected.size;

  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  page = await context.newPage();
  page.on('pageerror', (e) => summary.page_errors.push(e.message));
  // Swagger UI must not reach anything but this service (no CDN, no validator badge).
  const foreign = [];
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:')) foreign.push(r.url()); });

  log(`opening ${base}/docs`);
  const response = await page.goto(`${base}/docs`, { waitUntil: 'load', timeout: waitMs });
  if (!response || response.status() !== 200) throw new Error(`GET /docs answered ${response?.status()}`);
  await page.waitForSelector('.opblock', { timeout: waitMs });

  const listed = await page.$$eval('.opblock', (blocks) => blocks.map((b) => {
    const method = b.querySelector('.opblock-summary-method')?.textContent.trim();
    const path = b.querySelector('.opblock-summary-path')?.getAttribute('data-path');
    return `${method} ${path}`;
  }));
  summary.listed = listed.length;
  const shown = new Set(listed);
  const missing = [...expected].filter((op) => !shown.has(op));
  const extra = [...shown].filter((op) => !expected.has(op));
  if (missing.length || extra.length)
    throw new Error(`operations missing: ${missing.join(', ') || 'none'}; not in the document: ${extra.join(', ') || 'none'}`);
  log(`${listed.length} operations listed, as in /openapi.json`);

  // Try it out: upload a JPEG through POST /process-image.
  const operation = page.locator('#operations-tasks-processImage');
  await operation.locator('.opblock-summary').first().click();
  await operation.locator('button.try-out__btn').click();
  await operation.locator('tr[data-param-name="pipeline_id"] input').first().fill('1');
  await operation.locator('input[type="file"]').first().setInputFiles(jpegPath);
  await operation.locator('button.execute').click();
  const status = operation.locator('.live-responses-table .response .response-col_status').first();
  await status.waitFor({ timeout: waitMs });
  summary.try_it_out_status = (await status.textContent()).trim();
  const body = await operation.locator('.live-responses-table .response-col_description pre').first().textContent();
  const task = JSON.parse(body);
  summary.try_it_out_task = task;
  if (!summary.try_it_out_status.startsWith('200'))
    throw new Error(`Try it out answered ${summary.try_it_out_status}: ${body}`);
  if (task.pipeline_id !== 1 || !['detected', 'undetected'].includes(task.status))
    throw new Error(`Try it out answered an unexpected task: ${body}`);
  if (foreign.length) throw new Error(`the page requested other hosts: ${foreign.join(', ')}`);
  if (summary.page_errors.length) throw new Error(`page errors: ${summary.page_errors.join('; ')}`);
  summary.ok = true;
  exitCode = 0;
} catch (e) {
  summary.error = e.message;
  log(`FAILED: ${e.message}`);
} finally {
  if (page) await page.screenshot({ path: screenshotPath, fullPage: false }).catch(() => {});
  await browser.close().catch(() => {});
}
process.stdout.write(JSON.stringify(summary) + '\n');
process.exit(exitCode);
