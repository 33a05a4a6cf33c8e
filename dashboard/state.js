// The dashboard's state between polls, and the choice of the earlier sample rates are taken
// against.

import { History } from './view.js';

export const RATE_WINDOW_MS = 10 * 1000; // rates and means span at least this much (see rateBase)

// ---------------------------------------------------------------------------------------------
// State

export const state = {
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

export function initialInterval() {
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
export function rateBase(recent, current) {
  recent.push(current);
  while (recent.length > 2 && recent[1].time <= current.time - RATE_WINDOW_MS) recent.shift();
  if (recent.length < 2) return null;
  return recent[0];
}
