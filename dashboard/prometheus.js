// The dashboard's reading of GET /metrics: Prometheus text parsed into samples, one scrape's
// samples by name and series, and counter rates between two scrapes.

// Prometheus text format: `name{label="value",...} value [timestamp]`, '#' lines are comments.

function parseSampleValue(text) {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text); // NaN for "NaN" and for garbage
}

/** Parses exposition text into [{name, labels, value}]; malformed lines are skipped. */
export function parsePrometheus(text) {
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
export class Scrape {
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
export function counterRate(now, before, seconds) {
  if (now === null || before === null || !(seconds > 0)) return null;
  if (now < before) return null; // the process restarted: the counter began again
  return (now - before) / seconds;
}
