// The pipeline studio (studio.html): steps as cards built from GET /steps, typed inputs with the
// catalogue's bounds and choices, a dry run (POST /pipelines/dry-run) after every change once an
// image is uploaded, each card showing its step's preview, time and output, the server's 422 on
// the step it names, and saving as a new pipeline (POST) or a new version (PUT), with the
// pipeline's version history to open. Plain browser JavaScript: no build step, no framework.
(() => {
  'use strict';

  const RUN_DELAY_MS = 300; // a burst of edits makes one dry run
  const $ = (id) => document.getElementById(id);

  const state = {
    catalogue: [],   // GET /steps items
    steps: [],       // [{handler, params: {name: value}}] being edited
    pipelineId: null, // the stored pipeline being edited, or null for a new one
    version: null,
    image: null,     // the uploaded File
    runTimer: null,
    runSeq: 0,       // the latest dry run sent; older answers are dropped
    inflight: null,  // the AbortController of the dry run in flight
  };

  // --- helpers -----------------------------------------------------------------------------------
  const kindOf = (handler) => state.catalogue.find((k) => k.handler === handler);

  function headers(json) {
    const out = {};
    if (json) out['Content-Type'] = 'application/json';
    const token = $('token').value.trim();
    if (token) out.Authorization = `Bearer ${token}`;
    return out;
  }

  async function call(method, path, body, signal) {
    const json = body !== undefined && !(body instanceof FormData);
    const response = await fetch(path, {
      method, headers: headers(json), cache: 'no-store',
      body: json ? JSON.stringify(body) : body, signal,
    });
    let payload = null;
    try { payload = await response.json(); } catch (_) { /* not JSON */ }
    return { status: response.status, body: payload };
  }

  function banner(text) {
    $('banner').hidden = !text;
    $('banner').textContent = text || '';
  }

  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === 'class') node.className = value;
      else if (key.startsWith('data-')) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) node.append(child);
    return node;
  };

  /** The definition as POST /pipelines takes it: only the parameters that have a value. */
  function definition() {
    return {
      title: $('title').value.trim() || 'untitled',
      description: $('description').value,
      steps: state.steps.map((s) => {
        const params = {};
        for (const [name, value] of Object.entries(s.params))
          if (value !== null && value !== '' && value !== undefined) params[name] = value;
        return { handler: s.handler, params };
      }),
    };
  }

  // --- step cards --------------------------------------------------------------------------------
  function paramInput(step, spec) {
    const value = step.params[spec.name] ?? spec.default;
    let input;
    if (spec.type === 'boolean') {
      input = el('input', { type: 'checkbox', checked: Boolean(value) });
      input.addEventListener('change', () => { step.params[spec.name] = input.checked; changed(); });
    } else if (spec.choices) {
      input = el('select');
      if (spec.required && (value === null || value === undefined))
        input.append(el('option', { value: '', textContent: 'choose…' }));
      for (const choice of spec.choices)
        input.append(el('option', { value: String(choice), textContent: String(choice) }));
      input.value = value === null || value === undefined ? '' : String(value);
      input.addEventListener('change', () => {
        const numeric = spec.type === 'integer' || spec.type === 'number';
        step.params[spec.name] = input.value === '' ? null
          : numeric ? Number(input.value) : input.value;
        changed();
      });
    } else if (spec.type === 'integer' || spec.type === 'number') {
      input = el('input', { type: 'number', min: spec.minimum, max: spec.maximum,
        step: spec.type === 'integer' ? (spec.odd ? 2 : 1) : 'any',
        value: value === null || value === undefined ? '' : value });
      input.addEventListener('input', () => {
        step.params[spec.name] = input.value === '' ? null : Number(input.value);
        changed();
      });
    } else {
      input = el('input', { type: 'text', value: value ?? '' });
      input.addEventListener('input', () => { step.params[spec.name] = input.value; changed(); });
    }
    input.name = spec.name;
    input.title = spec.help || '';
    const bounds = spec.minimum !== undefined && !spec.choices
      ? ` (${spec.minimum}–${spec.maximum})` : '';
    return el('label', { class: 'param', title: spec.help || '' },
      `${spec.name}${spec.required ? ' *' : ''}${bounds}`, input);
  }

  function move(index, by) {
    const to = index + by;
    if (to < 0 || to >= state.steps.length) return;
    const [step] = state.steps.splice(index, 1);
    state.steps.splice(to, 0, step);
    render();
    changed();
  }

  function render() {
    const list = $('steps');
    list.replaceChildren();
    state.steps.forEach((step, i) => {
      const kind = kindOf(step.handler);
      const head = el('div', { class: 'step-head' },
        el('span', { class: 'index', textContent: String(i + 1) }),
        el('span', { class: 'handler', textContent: step.handler }),
        el('span', { class: 'kind',
          textContent: kind ? `${kind.title} · ${kind.input} → ${kind.output}` : 'unknown step' }),
        el('span', { class: 'spacer' }));
      const up = el('button', { type: 'button', className: 'small', textContent: '↑',
        title: 'move up', disabled: i === 0 });
      const down = el('button', { type: 'button', className: 'small', textContent: '↓',
        title: 'move down', disabled: i === state.steps.length - 1 });
      const remove = el('button', { type: 'button', className: 'small remove',
        textContent: '✕', title: 'remove' });
      up.addEventListener('click', () => move(i, -1));
      down.addEventListener('click', () => move(i, 1));
      remove.addEventListener('click', () => { state.steps.splice(i, 1); render(); changed(); });
      head.append(up, down, remove);
      const params = el('div', { class: 'params' });
      for (const spec of kind ? kind.params : []) params.append(paramInput(step, spec));
      const error = el('div', { class: 'error', hidden: true });
      const left = el('div', {}, head, el('div', { class: 'muted', textContent: kind ? kind.description : '' }),
        params, error);
      const preview = el('img', { class: 'preview', alt: '', hidden: true });
      const meta = el('div', { class: 'meta' });
      const card = el('div', { class: 'step panel', 'data-index': String(i + 1),
        'data-handler': step.handler }, left, el('div', { class: 'step-out' }, preview, meta));
      list.append(card);
    });
    const position = $('add-position');
    position.replaceChildren();
    for (let i = 0; i <= state.steps.length; i++)
      position.append(el('option', { value: String(i),
        textContent: i === state.steps.length ? 'the end' : `before step ${i + 1}` }));
    position.value = String(state.steps.length);
  }

  function cards() { return [...document.querySelectorAll('#steps .step')]; }

  function clearResults() {
    for (const card of cards()) {
      card.classList.remove('invalid', 'stale');
      card.querySelector('.error').hidden = true;
    }
  }

  function showStepError(detail) {
    // The server names the step: "step 2 (resize): parameter 'width' must be in ...".
    const match = /step (\d+) \(/.exec(detail || '');
    const card = match && cards()[Number(match[1]) - 1];
    if (!card) return false;
    card.classList.add('invalid');
    const error = card.querySelector('.error');
    error.textContent = detail;
    error.hidden = false;
    return true;
  }

  function describe(output) {
    if (!output) return '';
    const parts = [output.kind];
    if (output.width !== undefined) parts.push(`${output.width}×${output.height}`);
    if (output.channels !== undefined) parts.push(`${output.channels} ch`);
    if (output.format) parts.push(output.format);
    if (output.bytes !== undefined) parts.push(`${output.bytes} bytes`);
    if (output.boxes) parts.push(`${output.boxes.length} boxes`);
    if (output.box) parts.push(Array.isArray(output.box) ? 'no box' : '1 box');
    return parts.join(' · ');
  }

  function showRun(run) {
    run.steps.forEach((step, i) => {
      const card = cards()[i];
      if (!card) return;
      const preview = card.querySelector('.preview');
      if (step.preview) {
        preview.src = step.preview.data_url;
        preview.dataset.width = step.preview.width;
        preview.dataset.height = step.preview.height;
        preview.width = step.preview.width;
        preview.height = step.preview.height;
        preview.hidden = false;
      } else {
        preview.hidden = true;
        preview.removeAttribute('src');
        delete preview.dataset.width;
        delete preview.dataset.height;
      }
      card.querySelector('.meta').textContent =
        `${step.time_ms.toFixed(1)} ms · ${describe(step.output)}`;
    });
    $('result').textContent = `${run.status} on ${run.node} in ${run.time_ms.toFixed(0)} ms\n` +
      JSON.stringify(run.data);
  }

  // --- dry runs ------------------------------------------------------------------------------------
  /** Cancels the dry run in flight, if any: after an edit its answer is of no use, and the
   *  server stops its work when the connection closes (it would otherwise hold a dry-run slot). */
  function cancelRun() {
    if (state.inflight) state.inflight.abort();
    state.inflight = null;
  }

  function changed() {
    clearTimeout(state.runTimer);
    cancelRun();
    state.runTimer = setTimeout(dryRun, RUN_DELAY_MS);
  }

  async function dryRun() {
    if (!state.image || state.steps.length === 0) return;
    const seq = ++state.runSeq;
    const form = new FormData();
    form.append('image_file', state.image, state.image.name);
    form.append('pipeline', JSON.stringify(definition()));
    $('run-state').textContent = 'running…';
    document.body.dataset.state = 'running';
    cancelRun();
    const controller = new AbortController();
    state.inflight = controller;
    let answer;
    try {
      answer = await call('POST', '/pipelines/dry-run', form, controller.signal);
    } catch (e) {
      if (controller.signal.aborted) return; // cancelled by a newer edit, which runs its own
      answer = { status: 0, body: { detail: String(e) } };
    }
    if (state.inflight === controller) state.inflight = null;
    if (seq !== state.runSeq) return; // a newer edit has its own run
    clearResults();
    if (answer.status === 200) {
      banner('');
      showRun(answer.body);
      $('run-state').textContent = `dry run ${seq}: ${answer.body.steps.length} steps`;
    } else {
      const detail = (answer.body && answer.body.detail) || `HTTP ${answer.status}`;
      for (const card of cards()) card.classList.add('stale'); // previews of an earlier run
      if (!showStepError(detail)) banner(detail);
      $('run-state').textContent = `dry run ${seq}: ${answer.status}`;
    }
    document.body.dataset.state = answer.status === 200 ? 'ok' : 'error';
    document.body.dataset.runs = String(Number(document.body.dataset.runs) + 1);
  }

  // --- pipelines and versions ------------------------------------------------------------------------
  function load(record) {
    $('title').value = record.title;
    $('description').value = record.description || '';
    state.steps = record.steps.map((s) => ({ handler: s.handler, params: { ...s.params } }));
    render();
    changed();
  }

  async function loadPipelines(selectId) {
    const answer = await call('GET', '/pipelines');
    const select = $('pipeline');
    select.replaceChildren(el('option', { value: '', textContent: 'new pipeline' }));
    for (const p of (answer.body && answer.body.items) || [])
      select.append(el('option', { value: String(p.id), textContent: `${p.id} · ${p.title}` }));
    select.value = selectId ? String(selectId) : '';
  }

  async function openPipeline(id, version) {
    state.pipelineId = id;
    $('save-version').disabled = !id;
    const versions = $('version');
    versions.replaceChildren();
    versions.disabled = !id;
    if (!id) {
      state.version = null;
      load({ title: 'my-pipeline', description: '', steps: [{ handler: 'decode_jpeg', params: {} }] });
      return;
    }
    const current = await call('GET', `/pipelines/${id}`);
    if (current.status !== 200) return banner(current.body ? current.body.detail : 'cannot load');
    for (let v = current.body.version; v >= 1; v--)
      versions.append(el('option', { value: String(v),
        textContent: v === current.body.version ? `${v} (current)` : String(v) }));
    state.version = version || current.body.version;
    versions.value = String(state.version);
    const record = state.version === current.body.version ? current
      : await call('GET', `/pipelines/${id}/versions/${state.version}`);
    if (record.status !== 200) return banner(record.body ? record.body.detail : 'cannot load');
    load(record.body);
  }

  async function save(asNew) {
    const body = definition();
    const answer = asNew ? await call('POST', '/pipelines', body)
      : await call('PUT', `/pipelines/${state.pipelineId}`, body);
    if (answer.status !== 200 && answer.status !== 201) {
      const detail = (answer.body && answer.body.detail) || `HTTP ${answer.status}`;
      clearResults();
      if (!showStepError(detail)) banner(detail);
      $('save-state').textContent = `not saved: ${detail}`;
      return;
    }
    banner('');
    const saved = answer.body;
    $('save-state').textContent = `saved: pipeline ${saved.id}, version ${saved.version}`;
    document.body.dataset.saved = String(Number(document.body.dataset.saved) + 1);
    document.body.dataset.savedId = String(saved.id);
    document.body.dataset.savedVersion = String(saved.version);
    await loadPipelines(saved.id);
    await openPipeline(saved.id, saved.version);
  }

  // --- start ------------------------------------------------------------------------------------------
  async function start() {
    $('token').value = sessionStorage.getItem('imgproc-admin-token') || '';
    $('token').addEventListener('change', () => {
      sessionStorage.setItem('imgproc-admin-token', $('token').value);
      changed();
    });
    const steps = await call('GET', '/steps');
    if (steps.status !== 200) return banner('cannot read the step catalogue (GET /steps)');
    state.catalogue = steps.body.items;
    for (const kind of state.catalogue)
      $('add-handler').append(el('option', { value: kind.handler,
        textContent: `${kind.handler} (${kind.input} → ${kind.output})` }));
    $('add').addEventListener('click', () => {
      const at = Number($('add-position').value);
      state.steps.splice(at, 0, { handler: $('add-handler').value, params: {} });
      render();
      changed();
    });
    $('image').addEventListener('change', () => {
      state.image = $('image').files[0] || null;
      const preview = $('upload-preview');
      preview.hidden = !state.image;
      if (state.image) preview.src = URL.createObjectURL(state.image);
      changed();
    });
    for (const id of ['title', 'description']) $(id).addEventListener('input', changed);
    $('pipeline').addEventListener('change', () =>
      openPipeline($('pipeline').value ? Number($('pipeline').value) : null));
    $('version').addEventListener('change', () =>
      openPipeline(state.pipelineId, Number($('version').value)));
    $('save-new').addEventListener('click', () => save(true));
    $('save-version').addEventListener('click', () => save(false));
    const wanted = Number(new URLSearchParams(location.search).get('pipeline')) || null;
    await loadPipelines(wanted);
    await openPipeline(wanted);
    document.body.dataset.state = 'ready';
  }

  start().catch((e) => banner(`the studio failed to start: ${e}`));
})();
