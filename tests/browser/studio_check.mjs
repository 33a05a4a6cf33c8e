#!/usr/bin/env node
// Checks the pipeline studio in a real (headless) browser:
//
//   node tests/browser/studio_check.mjs BASE_URL PHOTO SCREENSHOT_DIR
//
// Opens BASE_URL/studio?pipeline=1 (car-detection), uploads PHOTO, and checks each step: the
// resize card's preview is 320x320 (640x640 scaled down); a width of 0 shows the server's 422 on
// the resize card; width 160 and height 120 change its preview to 160x120; a gaussian_blur step
// added before step 3 runs and shows a 160x120 preview; "save as new version" saves. Prints a JSON
// summary as one line on stdout (with the saved id and version, which the caller then reads back
// through GET /pipelines/{id}); screenshots go to SCREENSHOT_DIR (studio.png, the pipeline after
// the changes, and studio.jpg, its first screenful; studio-error.png, the 422 on its card). Exit 0 when every check passed, 1 when one
// failed (the summary's "error" says which), 2 for bad usage or a browser that won't start.

import path from 'node:path';
import { launchChromium } from './browser.mjs';

const [baseArg, photo, shots] = process.argv.slice(2);
if (!baseArg || !photo || !shots) {
  process.stderr.write('usage: node studio_check.mjs BASE_URL PHOTO SCREENSHOT_DIR\n');
  process.exit(2);
}
const base = baseArg.replace(/\/+$/, '');
const waitMs = 30000;
const log = (message) => process.stderr.write(`studio_check: ${message}\n`);
const summary = { ok: false, page_errors: [], foreign_requests: [] };
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
const runs = () => page.evaluate(() => Number(document.body.dataset.runs));
/** Waits for a dry run after `before` runs that leaves the page in `state`. */
async function waitForRun(before, state) {
  await page.waitForFunction(([n, s]) => Number(document.body.dataset.runs) > n &&
    document.body.dataset.state === s, [before, state], { timeout: waitMs });
}
const previewOf = (index) => page.$eval(`.step[data-index="${index}"] .preview`,
  (img) => ({ width: Number(img.dataset.width), height: Number(img.dataset.height),
    shown: !img.hidden, natural: [img.naturalWidth, img.naturalHeight] }));

try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  page = await context.newPage();
  page.on('pageerror', (e) => summary.page_errors.push(e.message));
  // No CDN: the page reaches nothing but this service.
  page.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith('data:') && !r.url().startsWith('blob:'))
      summary.foreign_requests.push(r.url());
  });

  log(`opening ${base}/studio?pipeline=1`);
  const response = await page.goto(`${base}/studio?pipeline=1`, { waitUntil: 'load', timeout: waitMs });
  if (!response || response.status() !== 200) throw new Error(`GET /studio answered ${response?.status()}`);
  await page.waitForFunction(() => document.body.dataset.state === 'ready' &&
    document.querySelectorAll('#steps .step').length > 0, null, { timeout: waitMs });
  summary.cards_before = await page.$$eval('#steps .step', (c) => c.map((e) => e.dataset.handler));

  log('uploading the photo');
  let before = await runs();
  await page.setInputFiles('#image', photo);
  await waitForRun(before, 'ok');
  summary.resize_preview_before = await previewOf(2);
  if (summary.resize_preview_before.width !== 320 || summary.resize_preview_before.height !== 320)
    throw new Error(`the resize preview is ${JSON.stringify(summary.resize_preview_before)}, not 320x320`);

  log('an invalid width shows the server\'s 422 on the resize card');
  before = await runs();
  await page.fill('.step[data-index="2"] input[name="width"]', '0');
  await waitForRun(before, 'error');
  summary.error_on_card = await page.$eval('.step[data-index="2"] .error',
    (e) => (e.hidden ? '' : e.textContent));
  if (!summary.error_on_card.includes("step 2 (resize): parameter 'width' must be in"))
    throw new Error(`the resize card shows "${summary.error_on_card}"`);
  await page.screenshot({ path: path.join(shots, 'studio-error.png'), fullPage: true });

  log('resize to 160x120');
  before = await runs();
  await page.fill('.step[data-index="2"] input[name="width"]', '160');
  await page.fill('.step[data-index="2"] input[name="height"]', '120');
  await page.waitForFunction(([n]) => Number(document.body.dataset.runs) > n &&
    document.body.dataset.state === 'ok' &&
    document.querySelector('.step[data-index="2"] .preview').dataset.width === '160' &&
    document.querySelector('.step[data-index="2"] .preview').dataset.height === '120',
  [before], { timeout: waitMs });
  summary.resize_preview_after = await previewOf(2);

  log('adding gaussian_blur before step 3');
  before = await runs();
  await page.selectOption('#add-handler', 'gaussian_blur');
  await page.selectOption('#add-position', '2');
  await page.click('#add');
  await page.waitForFunction(([n]) => Number(document.body.dataset.runs) > n &&
    document.body.dataset.state === 'ok' &&
    document.querySelectorAll('#steps .step').length === 7 &&
    document.querySelector('.step[data-index="3"] .preview').dataset.width === '160',
  [before], { timeout: waitMs });
  summary.cards_after = await page.$$eval('#steps .step', (c) => c.map((e) => e.dataset.handler));
  summary.blur_preview = await previewOf(3);
  await page.screenshot({ path: path.join(shots, 'studio.png'), fullPage: true });
  // The README's picture (docs/studio.jpg is a copy of it): the first screenful, as JPEG.
  await page.screenshot({ path: path.join(shots, 'studio.jpg'), type: 'jpeg', quality: 80 });

  log('saving as a new version');
  await page.click('#save-version');
  await page.waitForFunction(() => document.body.dataset.saved === '1', null, { timeout: waitMs });
  summary.saved_id = await page.evaluate(() => Number(document.body.dataset.savedId));
  summary.saved_version = await page.evaluate(() => Number(document.body.dataset.savedVersion));
  summary.version_choices = await page.$$eval('#version option', (o) => o.map((e) => e.value));

  // An edit while a dry run is in flight cancels it: its answer is of no use any more. The first
  // run is held here (page.route) until the second edit, so that it is surely in flight then.
  log('an edit cancels the dry run in flight');
  summary.aborted_dry_runs = 0;
  page.on('requestfailed', (r) => {
    if (r.url().endsWith('/pipelines/dry-run') && /ABORTED/i.test(r.failure()?.errorText || ''))
      summary.aborted_dry_runs += 1;
  });
  let releaseHeld;
  const held = new Promise((resolve) => { releaseHeld = resolve; });
  let heldOne = false;
  await page.route('**/pipelines/dry-run', async (route) => {
    if (heldOne) return route.continue();
    heldOne = true;
    await held;
    await route.continue().catch(() => {}); // the page may have cancelled it meanwhile
  });
  await page.fill('.step[data-index="2"] input[name="width"]', '150');
  await page.waitForFunction(() => document.body.dataset.state === 'running', null,
    { timeout: waitMs });
  before = await runs();
  await page.fill('.step[data-index="2"] input[name="width"]', '140');
  await page.waitForFunction(([n]) => Number(document.body.dataset.runs) > n &&
    document.body.dataset.state === 'ok' &&
    document.querySelector('.step[data-index="2"] .preview').dataset.width === '140',
  [before], { timeout: waitMs });
  releaseHeld();
  await page.unroute('**/pipelines/dry-run');
  summary.banner_after_cancel = await page.$eval('#banner', (b) => (b.hidden ? '' : b.textContent));
  if (summary.aborted_dry_runs < 1) throw new Error('the dry run in flight was not cancelled');
  if (summary.banner_after_cancel) throw new Error(`banner: ${summary.banner_after_cancel}`);

  // A 200-character title keeps the page as wide as the window.
  log('a long title');
  await page.fill('#title', 'long-title-'.repeat(18).slice(0, 200));
  await page.click('#save-new');
  await page.waitForFunction(() => document.body.dataset.saved === '2', null, { timeout: waitMs });
  summary.page_width = await page.evaluate(() => document.documentElement.scrollWidth);
  summary.window_width = await page.evaluate(() => window.innerWidth);
  if (summary.page_width > summary.window_width)
    throw new Error(`a long title makes the page ${summary.page_width} px wide`);

  if (summary.page_errors.length) throw new Error(`page errors: ${summary.page_errors.join('; ')}`);
  if (summary.foreign_requests.length)
    throw new Error(`requests to other hosts: ${summary.foreign_requests.join(', ')}`);
  summary.ok = true;
  exitCode = 0;
} catch (e) {
  summary.error = e.message;
  log(`FAILED: ${e.message}`);
  if (page) await page.screenshot({ path: path.join(shots, 'studio-failed.png'), fullPage: true }).catch(() => {});
}
await browser.close().catch(() => {});
process.stdout.write(JSON.stringify(summary) + '\n');
process.exit(exitCode);
