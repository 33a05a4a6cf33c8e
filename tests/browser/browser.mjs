// Debian's Chromium, headless, for the browser checks (dashboard_check.mjs, docs_check.mjs).
import { chromium } from 'playwright-core';

/** Starts the browser IMGPROC_CHROMIUM names (default /usr/bin/chromium); throws if it cannot. */
export function launchChromium(timeoutMs) {
  return chromium.launch({
    executablePath: process.env.IMGPROC_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // As root in a container there is no sandbox; the rest keeps Chromium quiet and off the
    // network: a test's traffic stays on 127.0.0.1.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-default-apps', '--disable-extensions'],
    timeout: timeoutMs,
  });
}
