// The pipeline console: one page, hash routes, plain DOM. Data from the project's own HTTP API;
// charts by Chart.js (served from node_modules by the console function as /console/chart.umd.min.js).

import { adminHeaders, askAdminToken } from './admin-token.js';
import { monitoringPage } from './monitoring.js';

const view = document.getElementById('view');
let timers = [];
let charts = [];

// ---------- helpers ----------

/** h('div', {class: 'x', onclick: f}, 'text', child…): an element; strings become text (never HTML). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}
const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

class ApiError extends Error {
  constructor(status, body, fallback) {
    super(body?.message ?? fallback);
    this.status = status;
    this.body = body ?? {};
  }
}

const STATUS_WORDS = {
  401: 'Not allowed without the admin token',
  403: 'The admin token was refused',
  400: 'The request was not accepted',
  404: 'Not found',
  409: 'Conflict',
  413: 'Too large',
  422: 'The data was not usable',
  500: 'The server failed',
  502: 'The function failed',
  503: 'A service the API needs is unavailable',
  504: 'The server took too long',
};

/** Calls the API; a non-2xx answer becomes an ApiError whose message is the API's own words. */
async function api(method, path, body, { raw = false, headers = {}, retried = false } = {}) {
  let response;
  const auth = adminHeaders();
  try {
    response = await fetch(path, {
      method,
      headers:
        body === undefined ? { ...auth, ...headers } : { 'content-type': typeof body === 'string' ? 'text/csv' : 'application/json', ...auth, ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, null, `Cannot reach the API (${error.message}). Is the stack running?`);
  }
  if (!retried && askAdminToken(response.status)) return api(method, path, body, { raw, headers, retried: true });
  if (!response.ok) {
    const text = await response.text();
    let parsed = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    const words = STATUS_WORDS[response.status] ?? `HTTP ${response.status}`;
    throw new ApiError(
      response.status,
      parsed,
      parsed?.message ? `${words}: ${parsed.message}` : `${words} (HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ''})`,
    );
  }
  if (raw) return response;
  return response.json();
}

function errorBox(error) {
  const message = error instanceof ApiError ? error.message : `Something went wrong in the page: ${error?.message ?? error}`;
  return h('div', { class: 'error', role: 'alert' }, message);
}

function every(ms, fn) {
  const id = setInterval(fn, ms);
  timers.push(id);
  return id;
}

const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
function fmtDuration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const sec = ms / 1000;
  if (sec < 60) return `${sec.toFixed(1)} s`;
  const m = Math.floor(sec / 60);
  return `${m} min ${Math.round(sec - m * 60)} s`;
}
const fmtNum = (v, digits = 4) =>
  typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(digits)) : v === null || v === undefined ? '—' : String(v);
const short = (id, n = 8) => (id ? String(id).slice(0, n) : '—');
const badge = (text, cls = text) => h('span', { class: `badge ${cls}` }, text);
const json = (value) => h('pre', { class: 'json' }, JSON.stringify(value, null, 2));

function confirmDialog(text) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
  });
}

function chart(canvas, config) {
  if (!window.Chart) return null;
  const c = new window.Chart(canvas, { ...config, options: { responsive: true, maintainAspectRatio: false, animation: false, ...config.options } });
  charts.push(c);
  return c;
}

// ---------- router ----------

const routes = [
  [/^#\/executions\/([\w-]+)$/, (m) => executionPage(m[1])],
  [/^#\/executions$/, () => executionsPage()],
  [/^#\/runs(?:\/([\w-]+))?$/, (m) => runsPage(m[1])],
  [/^#\/models(?:\/([\w-]+))?(?:\/(\d+))?$/, (m) => modelsPage(m[1], m[2] ? Number(m[2]) : undefined)],
  [/^#\/predict(?:\/([\w-]+))?$/, (m) => predictPage(m[1])],
  // The Monitoring page lives in monitoring.js; it gets this file's helpers.
  [/^#\/monitoring(?:\/([\w-]+))?$/, (m) => monitoringPage(m[1], { h, api, chart, view, errorBox, fmtNum, badge })],
];

async function route() {
  for (const t of timers) clearInterval(t);
  timers = [];
  for (const c of charts) c.destroy();
  charts = [];
  const hash = location.hash || '#/executions';
  const section = hash.split('/')[1];
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.nav === section);
  view.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
  for (const [pattern, page] of routes) {
    const m = pattern.exec(hash);
    if (!m) continue;
    try {
      await page(m);
    } catch (error) {
      view.replaceChildren(errorBox(error));
    }
    return;
  }
  view.replaceChildren(errorBox(new ApiError(404, null, `No page ${hash}`)));
}
window.addEventListener('hashchange', route);

// ---------- executions ----------

/** The Start-run form's dataset choice: every dataset with a spec (GET /datasets), Covertype until they load. */
function datasetField() {
  const select = h('select', { name: 'dataset', id: 'start-dataset' }, h('option', { value: 'covertype' }, 'covertype'));
  api('GET', '/datasets')
    .then(({ datasets }) => {
      const runnable = datasets.filter((d) => d.task !== null);
      if (runnable.length === 0) return;
      const current = select.value;
      select.replaceChildren(...runnable.map((d) => h('option', { value: d.name, selected: d.name === current }, `${d.name} (${d.task})`)));
      select.dataset.loaded = 'true';
    })
    .catch(() => {
      /* keep the default: the run's own validation names a bad dataset */
    });
  return h('label', { class: 'field' }, 'Dataset', select);
}

function startRunForm(onStarted) {
  const num = (name, label, value, min, max) =>
    h('label', { class: 'field' }, label, h('input', { name, value, inputmode: 'numeric', 'data-min': min, 'data-max': max }));
  const message = h('div');
  const form = h(
    'form',
    { class: 'card', id: 'start-run' },
    h('h2', {}, 'Start a pipeline run'),
    h(
      'div',
      { class: 'form-grid' },
      datasetField(),
      num('batches', 'Batches to fetch', 2, 1, 100),
      num('intervalSeconds', 'Seconds between batches', 1, 0, 3600),
      num('trials', 'Search trials', 2, 1, 50),
      num('nEstimators', 'Trees per forest', 10, 1, 500),
      num('groupNumber', 'Data API group (1–10, as the course)', 1, 1, 10),
      h(
        'label',
        { class: 'field', title: 'Reuse the artifact of an earlier trial with the same data, parameters and trainer version' },
        'Step caching',
        h('span', {}, h('input', { type: 'checkbox', id: 'cache', checked: true }), ' reuse identical trials'),
      ),
    ),
    message,
    h('div', { class: 'row end' }, h('button', { type: 'submit', id: 'start-run-button' }, 'Start run')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = Object.fromEntries([...new FormData(form)].map(([k, val]) => [k, k === 'dataset' ? val : Number(val)]));
    const input = {
      dataset: v.dataset,
      batches: v.batches,
      intervalSeconds: v.intervalSeconds,
      groupNumber: v.groupNumber,
      train: { nEstimators: v.nEstimators },
      search: { trials: v.trials },
      ...(form.querySelector('#cache').checked ? {} : { cache: false }),
    };
    const button = form.querySelector('button');
    button.disabled = true;
    message.replaceChildren();
    try {
      const started = await api('POST', '/executions', input);
      onStarted(started);
    } catch (error) {
      message.replaceChildren(errorBox(error));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

async function executionsPage() {
  const table = h('tbody');
  const source = h('span', { class: 'muted small' });
  const errors = h('div');
  const render = async () => {
    try {
      const data = await api('GET', '/executions?limit=50');
      errors.replaceChildren();
      source.textContent = `Step Functions · ${String(data.stateMachineArn).split(':').pop()}`;
      table.replaceChildren(
        ...(data.executions.length === 0
          ? [h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No executions yet: start one above, or run npm start.'))]
          : data.executions.map((e) =>
              h(
                'tr',
                {
                  class: 'clickable',
                  'data-execution': e.id,
                  onclick: () => {
                    location.hash = `#/executions/${e.id}`;
                  },
                },
                h('td', {}, h('a', { href: `#/executions/${e.id}` }, e.name)),
                h('td', {}, badge(e.status), e.redriveCount ? h('span', { class: 'muted small', title: 'redriven' }, ` ↻${e.redriveCount}`) : null),
                h('td', { class: 'hide-narrow' }, fmtTime(e.startedAt)),
                h('td', { class: 'num' }, fmtDuration(e.durationMs)),
              ),
            )),
      );
    } catch (error) {
      errors.replaceChildren(errorBox(error));
    }
  };
  view.replaceChildren(
    h('h1', {}, 'Executions ', source),
    startRunForm((started) => {
      location.hash = `#/executions/${started.id}`;
    }),
    errors,
    h(
      'div',
      { class: 'card scroll' },
      h(
        'table',
        { id: 'executions' },
        h(
          'thead',
          {},
          h('tr', {}, h('th', {}, 'Execution'), h('th', {}, 'Status'), h('th', { class: 'hide-narrow' }, 'Started'), h('th', { class: 'num' }, 'Duration')),
        ),
        table,
      ),
    ),
  );
  await render();
  every(3000, render);
}

const STATUS_COLORS = { 'not-run': 'var(--idle-bg)', succeeded: 'var(--ok)', failed: 'var(--fail)', running: 'var(--run)', caught: 'var(--caught)' };

function graphSvg(detail, selected, onSelect) {
  const { graph, stateStatus } = detail;
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const edges = s('g');
  for (const e of graph.edges) {
    const a = byId.get(e.from);
    const b = byId.get(e.to);
    if (!a || !b) continue;
    let d;
    if (e.back) {
      const x1 = a.x;
      const y1 = a.y + a.height / 2;
      const x2 = b.x;
      const y2 = b.y + b.height / 2;
      const left = Math.min(x1, x2) - 30;
      d = `M${x1},${y1} C${left},${y1} ${left},${y2} ${x2},${y2}`;
    } else {
      const x1 = a.x + a.width / 2;
      const y1 = a.y + a.height;
      const x2 = b.x + b.width / 2;
      const y2 = b.y;
      const dy = Math.max(20, (y2 - y1) / 2);
      d = `M${x1},${y1} C${x1},${y1 + dy} ${x2},${y2 - dy} ${x2},${y2}`;
    }
    edges.append(
      s(
        'path',
        { class: `edge ${e.kind}${e.back ? ' back' : ''}`, d, 'marker-end': 'url(#arrow)' },
        s('title', {}, `${e.from} → ${e.to}${e.label ? ` (${e.label})` : ''}`),
      ),
    );
  }
  const nodes = s('g');
  // Containers (Map states) first, so their children are drawn on top.
  const ordered = [...graph.nodes].sort((a, b) => (a.parent ? 1 : 0) - (b.parent ? 1 : 0));
  for (const n of ordered) {
    const st = stateStatus[n.name] ?? { status: 'not-run', runs: 0, retries: 0 };
    const isContainer = graph.nodes.some((c) => c.parent === n.id);
    const extra = [st.runs > 1 ? `×${st.runs}` : '', st.retries > 0 ? `↻${st.retries}` : ''].filter(Boolean).join(' ');
    const g = s(
      'g',
      {
        class: `node st-${st.status}${isContainer ? ' container' : ''}${selected === n.name ? ' selected' : ''}`,
        'data-state': n.name,
        'data-status': st.status,
        onclick: (ev) => {
          ev.stopPropagation();
          onSelect(n.name);
        },
      },
      s('title', {}, `${n.name} (${n.type}): ${st.status}${st.runs ? `, ${st.runs} run(s)` : ''}${n.comment ? `\n${n.comment}` : ''}`),
      s('rect', { class: 'box', x: n.x, y: n.y, width: n.width, height: n.height, rx: n.type === 'Choice' ? 14 : 6 }),
      s('text', { x: n.x + 10, y: n.y + (isContainer ? 19 : n.height / 2 + 4) }, `${n.name}${isContainer ? ` (${n.type})` : ''}`),
      extra ? s('text', { x: n.x + n.width - 8, y: n.y + (isContainer ? 19 : n.height / 2 + 4), 'text-anchor': 'end', class: 'muted' }, extra) : null,
    );
    nodes.append(g);
  }
  return s(
    'svg',
    { viewBox: `0 0 ${graph.width} ${graph.height}`, width: graph.width, role: 'img', 'aria-label': 'State machine graph' },
    s(
      'defs',
      {},
      s(
        'marker',
        { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
        s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#8796a5' }),
      ),
    ),
    edges,
    nodes,
  );
}

async function executionPage(id) {
  let selected = null;
  let detail = null;
  const header = h('div', { class: 'card' });
  const graphBox = h('div', { class: 'graph' });
  const timeline = h('tbody');
  const panel = h(
    'div',
    { class: 'card', id: 'state-detail' },
    h('p', { class: 'muted' }, 'Click a state in the graph or the timeline to see its input and output.'),
  );
  const errors = h('div');

  /** Step caching: a Train run that reused an earlier run's artifact, a Preprocess that found its content already a version. */
  const cachedNote = (run) => {
    const out = run.output ?? {};
    if (out.cached === true) return `reused the artifact of run ${out.cachedFromRunId}`;
    if (run.name === 'Preprocess' && out.dataset?.created === false) return `same content as dataset version ${out.dataset.datasetVersion}`;
    return null;
  };

  const showState = (label) => {
    selected = label;
    const run = detail.states.find((r) => r.label === label) ?? [...detail.states].reverse().find((r) => r.name === label);
    if (!run) {
      panel.replaceChildren(h('h2', {}, label), h('p', { class: 'muted' }, 'This state has not run in this execution.'));
    } else {
      panel.replaceChildren(
        h('h2', {}, run.label, ' ', badge(run.status)),
        h(
          'dl',
          { class: 'kv' },
          h('dt', {}, 'Type'),
          h('dd', {}, run.type),
          h('dt', {}, 'Entered'),
          h('dd', {}, fmtTime(run.enteredAt)),
          h('dt', {}, 'Duration'),
          h('dd', {}, fmtDuration(run.durationMs)),
          h('dt', {}, 'Retries'),
          h('dd', {}, String(run.retries)),
          cachedNote(run) ? [h('dt', {}, 'Cached'), h('dd', { class: 'cached-note' }, cachedNote(run))] : null,
          run.error ? [h('dt', {}, 'Error'), h('dd', { class: 'mono' }, run.error)] : null,
          run.cause ? [h('dt', {}, 'Cause'), h('dd', { class: 'mono' }, run.cause)] : null,
        ),
        h('h2', {}, 'Input'),
        json(run.input),
        h('h2', {}, 'Output'),
        run.exitedAt ? json(run.output) : h('p', { class: 'muted' }, 'No output yet.'),
      );
    }
    draw();
  };

  const draw = () => {
    graphBox.replaceChildren(graphSvg(detail, selected && (detail.states.find((r) => r.label === selected)?.name ?? selected), showState));
    const start = Date.parse(detail.startedAt);
    const total = Math.max(1, detail.durationMs ?? 1);
    timeline.replaceChildren(
      ...detail.states.map((r) => {
        const left = Math.max(0, ((Date.parse(r.enteredAt) - start) / total) * 100);
        const width = Math.max(0.4, ((r.durationMs ?? 0) / total) * 100);
        return h(
          'tr',
          { class: `clickable${selected === r.label ? ' selected' : ''}`, 'data-run': r.label, 'data-status': r.status, onclick: () => showState(r.label) },
          h('td', { class: 'mono' }, r.label),
          h('td', {}, badge(r.status), cachedNote(r) ? [' ', h('span', { class: 'badge cached', title: cachedNote(r) }, 'cached')] : null),
          h(
            'td',
            { class: 'bar' },
            h(
              'div',
              { class: 'tl-track' },
              h('div', { class: `tl-bar ${r.status}`, style: `left:${Math.min(left, 99.6)}%;width:${Math.min(width, 100 - Math.min(left, 99.6))}%` }),
            ),
          ),
          h('td', { class: 'num' }, fmtDuration(r.durationMs)),
          h('td', { class: 'num' }, r.retries ? `↻${r.retries}` : ''),
          h(
            'td',
            { class: 'small', style: 'white-space:normal;color:var(--fail)' },
            r.error ? `${r.error}${r.cause ? `: ${String(r.cause).slice(0, 160)}` : ''}` : '',
          ),
        );
      }),
    );
  };

  const load = async () => {
    try {
      detail = await api('GET', `/executions/${encodeURIComponent(id)}`);
      errors.replaceChildren();
    } catch (error) {
      errors.replaceChildren(errorBox(error));
      if (!detail) {
        view.replaceChildren(h('p', {}, h('a', { href: '#/executions' }, '← Executions')), errors);
        return false;
      }
    }
    const done = detail.states.filter((r) => r.status !== 'running').length;
    // A failed, aborted or timed-out execution can go on from where it stopped (RedriveExecution).
    const redrivable = ['FAILED', 'ABORTED', 'TIMED_OUT'].includes(detail.status);
    const redrive = async () => {
      if (!(await confirmDialog(`Redrive ${detail.name}? It goes on from the state that failed; states that succeeded are not run again.`))) return;
      try {
        await api('POST', `/executions/${encodeURIComponent(id)}/redrive`);
        if (await load()) {
          const poll = every(1500, async () => {
            if (!(await load())) clearInterval(poll);
          });
        }
      } catch (error) {
        errors.replaceChildren(errorBox(error));
      }
    };
    header.replaceChildren(
      h(
        'div',
        { class: 'row' },
        h('h1', { style: 'margin:0' }, detail.name),
        badge(detail.status),
        h(
          'span',
          { class: 'muted small', id: 'execution-status', 'data-status': detail.status },
          detail.status === 'RUNNING' ? `running, ${done} state runs done…` : `stopped ${fmtTime(detail.stoppedAt)}`,
        ),
        redrivable ? h('button', { id: 'redrive', onclick: redrive }, 'Redrive') : null,
      ),
      h(
        'dl',
        { class: 'kv', style: 'margin-top:10px' },
        h('dt', {}, 'Started'),
        h('dd', {}, fmtTime(detail.startedAt)),
        h('dt', {}, 'Duration'),
        h('dd', {}, fmtDuration(detail.durationMs)),
        detail.redriveCount ? [h('dt', {}, 'Redriven'), h('dd', {}, `${detail.redriveCount}×`)] : null,
        h('dt', {}, 'ARN'),
        h('dd', { class: 'mono small' }, detail.executionArn),
        detail.error
          ? [h('dt', {}, 'Error'), h('dd', { class: 'mono', style: 'color:var(--fail)' }, `${detail.error}${detail.cause ? `: ${detail.cause}` : ''}`)]
          : null,
      ),
      ...(detail.status === 'RUNNING'
        ? [h('div', { class: 'progress', style: 'margin-top:8px' }, h('div', { style: `width:${Math.min(95, (done / 16) * 100)}%` }))]
        : []),
    );
    if (selected) showState(selected);
    else draw();
    return detail.status === 'RUNNING';
  };

  view.replaceChildren(
    h('p', {}, h('a', { href: '#/executions' }, '← Executions')),
    errors,
    header,
    h(
      'div',
      { class: 'grid' },
      h(
        'div',
        { class: 'card' },
        h('h2', {}, 'State machine'),
        h('div', { class: 'legend' }, ...Object.entries(STATUS_COLORS).map(([k, c]) => h('span', { style: `--c:${c}` }, k))),
        graphBox,
      ),
      h(
        'div',
        {},
        h(
          'div',
          { class: 'card scroll' },
          h('h2', {}, 'Timeline'),
          h(
            'table',
            { class: 'timeline', id: 'timeline' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', {}, 'State'),
                h('th', {}, 'Status'),
                h('th', {}, ''),
                h('th', { class: 'num' }, 'Duration'),
                h('th', { class: 'num' }, 'Retries'),
                h('th', {}, 'Error'),
              ),
            ),
            timeline,
          ),
        ),
        panel,
      ),
    ),
  );
  if (await load()) {
    const poll = every(1500, async () => {
      if (!(await load())) clearInterval(poll);
    });
  }
}

// ---------- runs ----------

async function runsPage(parentId) {
  const all = (await api('GET', '/runs?limit=500')).runs;
  const parents = all.filter((r) => r.parentRunId === null && all.some((t) => t.parentRunId === r.runId));
  const current = parentId ?? parents[0]?.runId;
  if (!current) {
    view.replaceChildren(h('h1', {}, 'Runs'), h('div', { class: 'card muted' }, 'No hyper-parameter search yet: run the pipeline first.'));
    return;
  }
  const trials = (await api('GET', `/runs?parent_run_id=${encodeURIComponent(current)}`)).runs;
  const parent = all.find((r) => r.runId === current);
  const paramKeys = [...new Set(trials.flatMap((t) => Object.keys(t.params ?? {})))].filter((k) => !['trialIndex'].includes(k));
  // Scalar metrics only (per-class figures are on the model page).
  const metricKeys = [
    ...new Set(
      trials.flatMap((t) =>
        Object.entries(t.metrics ?? {})
          .filter(([, v]) => typeof v === 'number')
          .map(([k]) => k),
      ),
    ),
  ].filter((k) => k !== 'rows');
  const columns = [
    { key: 'trial', label: 'Trial', get: (t, i) => t.params?.trialIndex ?? i, num: true },
    { key: 'run', label: 'Run', get: (t) => short(t.runId) },
    { key: 'status', label: 'Status', get: (t) => (t.cachedFromRunId ? `${t.status} · cached from ${short(t.cachedFromRunId)}` : t.status) },
    { key: 'dataset', label: 'Dataset version', get: (t) => `${t.dataset} v${t.datasetVersion}` },
    ...paramKeys.map((k) => ({ key: `p.${k}`, label: k, get: (t) => t.params?.[k] ?? null, num: true })),
    ...metricKeys.map((k) => ({ key: `m.${k}`, label: k, get: (t) => t.metrics?.[k] ?? null, num: true, metric: true })),
    { key: 'secs', label: 'Train s', get: (t) => t.trainSeconds, num: true },
  ];
  let sort = { key: metricKeys.includes('accuracy') ? 'm.accuracy' : 'trial', desc: metricKeys.includes('accuracy') };
  const body = h('tbody');
  const head = h('tr');
  const rows = trials.map((t, i) => ({ t, values: columns.map((c) => c.get(t, i)) }));
  const renderTable = () => {
    const ci = columns.findIndex((c) => c.key === sort.key);
    const sorted = [...rows].sort((a, b) => {
      const x = a.values[ci];
      const y = b.values[ci];
      const cmp = x === y ? 0 : x === null ? 1 : y === null ? -1 : typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return sort.desc ? -cmp : cmp;
    });
    head.replaceChildren(
      ...columns.map((c) =>
        h(
          'th',
          {
            class: `sortable${c.num ? ' num' : ''}`,
            'data-sort': c.key,
            onclick: () => {
              sort = { key: c.key, desc: sort.key === c.key ? !sort.desc : true };
              renderTable();
            },
          },
          c.label,
          sort.key === c.key ? (sort.desc ? ' ▼' : ' ▲') : '',
        ),
      ),
    );
    body.replaceChildren(
      ...sorted.map((r) =>
        h(
          'tr',
          { 'data-run-id': r.t.runId, ...(r.t.cachedFromRunId ? { 'data-cached-from': r.t.cachedFromRunId } : {}) },
          ...columns.map((c, k) => h('td', { class: c.num ? 'num' : '' }, c.metric ? fmtNum(r.values[k]) : fmtNum(r.values[k], 3))),
        ),
      ),
    );
  };
  const metricSelect = h('select', { id: 'metric' }, ...metricKeys.map((k) => h('option', { value: k }, k)));
  const canvas = h('canvas', { id: 'trial-chart' });
  let trialChart = null;
  const renderChart = () => {
    const k = metricSelect.value;
    trialChart?.destroy();
    charts = charts.filter((c) => c !== trialChart);
    trialChart = chart(canvas, {
      type: 'bar',
      data: {
        labels: trials.map((t, i) => `trial ${t.params?.trialIndex ?? i}`),
        datasets: [{ label: k, data: trials.map((t) => t.metrics?.[k] ?? null), backgroundColor: '#1f4e79' }],
      },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: false } } },
    });
  };
  metricSelect.addEventListener('change', renderChart);
  view.replaceChildren(
    h('h1', {}, 'Runs'),
    h(
      'div',
      { class: 'card' },
      h(
        'div',
        { class: 'row' },
        h(
          'label',
          { class: 'field' },
          'Search (parent run)',
          h(
            'select',
            {
              id: 'parent',
              onchange: (e) => {
                location.hash = `#/runs/${e.target.value}`;
              },
            },
            ...parents.map((p) =>
              h('option', { value: p.runId, selected: p.runId === current }, `${short(p.runId)} · ${p.dataset} v${p.datasetVersion} · ${p.status}`),
            ),
          ),
        ),
      ),
      parent
        ? h(
            'p',
            { class: 'small muted' },
            `Execution ${parent.executionId ?? '—'}; best: ${
              Object.entries(parent.metrics ?? {})
                .map(([k, v]) => `${k} ${fmtNum(v)}`)
                .join(', ') || '—'
            }`,
          )
        : null,
    ),
    h('div', { class: 'card scroll' }, h('h2', {}, `${trials.length} trials side by side`), h('table', { id: 'trials' }, h('thead', {}, head), body)),
    h(
      'div',
      { class: 'card' },
      h('div', { class: 'row' }, h('h2', { style: 'margin:0' }, 'Metric per trial'), metricSelect),
      h('div', { class: 'chart-box' }, canvas),
    ),
  );
  renderTable();
  if (metricKeys.length > 0) renderChart();
}

// ---------- models ----------

async function modelsPage(name, versionNumber) {
  const models = (await api('GET', '/models')).models;
  if (models.length === 0) {
    view.replaceChildren(h('h1', {}, 'Models'), h('div', { class: 'card muted' }, 'No registered model yet: run the pipeline first.'));
    return;
  }
  const modelName = name ?? models[0].name;
  const model = await api('GET', `/models/${encodeURIComponent(modelName)}`);
  const versions = [...model.versions].sort((a, b) => b.version - a.version);
  const champion = model.aliases.champion;
  const selectedVersion = versionNumber ?? champion ?? versions[0]?.version;
  const errors = h('div');
  // The headline test metrics (per class and the other averages are in the version's evaluation).
  const headline = ['accuracy', 'balanced_accuracy', 'macro_f1', 'auroc_ovr', 'average_precision', 'f1', 'threshold', 'rmse', 'mae', 'r2'];
  const metricKeys = headline.filter((k) => versions.some((v) => typeof v.testMetrics?.[k] === 'number'));

  const act = async (text, method, path, body) => {
    if (!(await confirmDialog(text))) return;
    try {
      await api(method, path, body);
      await route();
    } catch (error) {
      errors.replaceChildren(errorBox(error));
    }
  };

  const versionRows = versions.map((v) =>
    h(
      'tr',
      {
        class: `clickable${v.version === selectedVersion ? ' selected' : ''}`,
        'data-version': v.version,
        onclick: (e) => {
          if (e.target.tagName !== 'BUTTON') location.hash = `#/models/${modelName}/${v.version}`;
        },
      },
      h('td', {}, `v${v.version}`),
      h('td', {}, v.family ?? 'forest'),
      h('td', {}, ...v.aliases.map((a) => badge(a))),
      ...metricKeys.map((k) => h('td', { class: 'num' }, fmtNum(v.testMetrics?.[k]))),
      h('td', { class: 'mono small' }, h('a', { href: `#/runs`, title: v.runId }, short(v.runId))),
      h('td', {}, `${v.dataset} v${v.datasetVersion}`),
      h('td', { class: 'mono small', title: v.artifactSha256 }, short(v.artifactSha256, 12)),
      h('td', { class: 'hide-narrow small' }, fmtTime(v.createdAt)),
      h(
        'td',
        {},
        v.aliases.includes('champion')
          ? ''
          : h(
              'button',
              {
                class: 'secondary',
                'data-promote': v.version,
                onclick: () =>
                  act(
                    `Make version ${v.version} the champion of ${modelName}? Predictions switch to it within seconds.`,
                    'POST',
                    `/models/${modelName}/champion`,
                    { version: v.version, reason: 'promoted from the console' },
                  ),
              },
              'Make champion',
            ),
      ),
    ),
  );

  const promotions = (model.promotions ?? []).slice().reverse();
  const evalBox = h('div', { class: 'grid', id: 'evaluation' }, h('p', { class: 'muted' }, `Evaluating version ${selectedVersion} on its test split…`));
  const lineageBox = h('div', { class: 'card', id: 'lineage' }, h('p', { class: 'muted' }, 'Loading lineage…'));

  view.replaceChildren(
    h(
      'div',
      { class: 'row' },
      h('h1', { style: 'margin:0 auto 0 0' }, 'Models'),
      models.length > 1
        ? h(
            'select',
            {
              onchange: (e) => {
                location.hash = `#/models/${e.target.value}`;
              },
            },
            ...models.map((m) => h('option', { value: m.name, selected: m.name === modelName }, m.name)),
          )
        : null,
      h(
        'button',
        {
          class: 'danger',
          id: 'rollback',
          onclick: () =>
            act(`Roll ${modelName} back to its previous champion?`, 'POST', `/models/${modelName}/rollback`, { reason: 'rolled back from the console' }),
        },
        'Roll back champion',
      ),
    ),
    errors,
    h(
      'div',
      { class: 'card', id: 'champion' },
      h(
        'h2',
        {},
        modelName,
        ' ',
        champion ? badge(`champion: v${champion}`, 'champion') : badge('no champion'),
        model.aliases.challenger ? [' ', badge(`challenger: v${model.aliases.challenger}`, 'challenger')] : null,
      ),
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          { id: 'versions' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', {}, 'Version'),
              h('th', {}, 'Family'),
              h('th', {}, 'Aliases'),
              ...metricKeys.map((k) => h('th', { class: 'num' }, `test ${k}`)),
              h('th', {}, 'Run'),
              h('th', {}, 'Dataset'),
              h('th', {}, 'Artifact sha256'),
              h('th', { class: 'hide-narrow' }, 'Registered'),
              h('th', {}, ''),
            ),
          ),
          h('tbody', {}, versionRows),
        ),
      ),
    ),
    lineageBox,
    evalBox,
    h(
      'div',
      { class: 'card scroll' },
      h('h2', {}, 'Promotion history'),
      h(
        'table',
        { id: 'promotions' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, 'When'),
            h('th', {}, 'Action'),
            h('th', {}, 'Candidate'),
            h('th', {}, 'Previous'),
            h('th', { class: 'num' }, 'Candidate score'),
            h('th', { class: 'num' }, 'Champion score'),
            h('th', {}, 'Reason'),
          ),
        ),
        h(
          'tbody',
          {},
          promotions.map((p) =>
            h(
              'tr',
              {},
              h('td', { class: 'small' }, fmtTime(p.createdAt)),
              h('td', {}, badge(p.action, p.action === 'promoted' || p.action === 'manual' ? 'succeeded' : p.action === 'rejected' ? 'rejected' : 'running')),
              h('td', {}, `v${p.candidateVersion}`),
              h('td', {}, p.previousVersion ? `v${p.previousVersion}` : '—'),
              h('td', { class: 'num' }, fmtNum(p.candidateScore)),
              h('td', { class: 'num' }, fmtNum(p.championScore)),
              h('td', { class: 'small', style: 'white-space:normal;min-width:240px' }, p.reason),
            ),
          ),
        ),
      ),
    ),
  );

  if (selectedVersion === undefined) return;
  api('GET', `/models/${modelName}/versions/${selectedVersion}`)
    .then((l) => {
      lineageBox.replaceChildren(
        h('h2', {}, `Lineage of v${selectedVersion}`),
        h(
          'dl',
          { class: 'kv' },
          h('dt', {}, 'Run'),
          h('dd', { class: 'mono' }, l.run?.runId ?? '—'),
          h('dt', {}, 'Search'),
          h('dd', { class: 'mono' }, l.search ? h('a', { href: `#/runs/${l.search.runId}` }, l.search.runId) : '—'),
          h('dt', {}, 'Family'),
          h('dd', { id: 'family' }, l.run?.params?.family ?? 'forest'),
          h('dt', {}, 'Params'),
          h('dd', { class: 'mono small' }, JSON.stringify(l.run?.params ?? {})),
          h('dt', {}, 'Validation metrics'),
          h(
            'dd',
            { class: 'mono small' },
            Object.entries(l.run?.metrics ?? {})
              .filter(([, v]) => typeof v === 'number')
              .map(([k, v]) => `${k} ${fmtNum(v)}`)
              .join(', '),
          ),
          h('dt', {}, 'Dataset version'),
          h('dd', {}, `${l.dataset?.dataset ?? l.version?.dataset} v${l.dataset?.version ?? l.version?.datasetVersion}`),
          h('dt', {}, 'Dataset hash'),
          h('dd', { class: 'mono small' }, l.dataset?.contentHash ?? '—'),
          h('dt', {}, 'Artifact'),
          h('dd', { class: 'mono small' }, `${l.version?.artifactKey ?? ''} (sha256 ${l.version?.artifactSha256 ?? ''})`),
          h('dt', {}, 'Execution'),
          h(
            'dd',
            { class: 'mono small' },
            l.run?.executionId ? h('a', { href: `#/executions/${String(l.run.executionId).split(':').pop()}` }, l.run.executionId) : '—',
          ),
        ),
      );
    })
    .catch((error) => lineageBox.replaceChildren(errorBox(error)));

  try {
    const ev = await api('GET', `/models/${modelName}/versions/${selectedVersion}/evaluation`);
    const parts = [];
    if (ev.confusion) {
      const max = Math.max(1, ...ev.confusion.matrix.flat());
      const cls = ev.confusion.classes;
      parts.push(
        h(
          'div',
          { class: 'card scroll' },
          h('h2', {}, `Confusion matrix, v${selectedVersion} on ${ev.rows} test rows`),
          h('p', { class: 'small muted' }, 'Rows: true class; columns: predicted class.'),
          h(
            'table',
            { class: 'cm', id: 'confusion' },
            h('thead', {}, h('tr', {}, h('th', {}, ''), ...cls.map((c) => h('th', { title: c.label }, c.label)))),
            h(
              'tbody',
              {},
              ev.confusion.matrix.map((row, t) =>
                h(
                  'tr',
                  {},
                  h('th', { title: cls[t].label }, cls[t].label),
                  ...row.map((n, p) => {
                    const a = n / max;
                    const color = t === p ? `rgba(46,125,50,${0.1 + 0.8 * a})` : `rgba(198,40,40,${n ? 0.08 + 0.8 * a : 0})`;
                    return h('td', { style: `background:${color};color:${a > 0.55 ? '#fff' : 'inherit'}` }, String(n));
                  }),
                ),
              ),
            ),
          ),
        ),
      );
    }
    if (ev.metrics?.perClass) {
      parts.push(
        h(
          'div',
          { class: 'card scroll' },
          h('h2', {}, `Per class, v${selectedVersion} on ${ev.rows} test rows`),
          ev.metrics.threshold !== undefined
            ? h('p', { class: 'small muted' }, `Decision threshold ${fmtNum(ev.metrics.threshold)} (chosen on validation).`)
            : null,
          h(
            'table',
            { id: 'per-class' },
            h('thead', {}, h('tr', {}, h('th', {}, 'Class'), ...['Precision', 'Recall', 'F1', 'Support'].map((t) => h('th', { class: 'num' }, t)))),
            h(
              'tbody',
              {},
              ev.metrics.perClass.map((c) =>
                h(
                  'tr',
                  {},
                  h('td', {}, c.label),
                  h('td', { class: 'num' }, fmtNum(c.precision)),
                  h('td', { class: 'num' }, fmtNum(c.recall)),
                  h('td', { class: 'num' }, fmtNum(c.f1)),
                  h('td', { class: 'num' }, fmtNum(c.support)),
                ),
              ),
            ),
          ),
        ),
      );
    }
    const top = ev.featureImportances.slice(0, 15);
    const canvas = h('canvas', { id: 'importances' });
    parts.push(h('div', { class: 'card' }, h('h2', {}, 'Feature importances (top 15)'), h('div', { class: 'chart-box', style: 'height:360px' }, canvas)));
    evalBox.replaceChildren(...parts);
    chart(canvas, {
      type: 'bar',
      data: { labels: top.map((f) => f.feature), datasets: [{ label: 'importance', data: top.map((f) => f.importance), backgroundColor: '#1f4e79' }] },
      options: { indexAxis: 'y', plugins: { legend: { display: false } } },
    });
  } catch (error) {
    evalBox.replaceChildren(errorBox(error));
  }
}

// ---------- predict ----------

/** The README's example row: a sensible default for the Covertype fields. */
const EXAMPLE_ROW = {
  Elevation: 2596,
  Aspect: 51,
  Slope: 3,
  Horizontal_Distance_To_Hydrology: 258,
  Vertical_Distance_To_Hydrology: 0,
  Horizontal_Distance_To_Roadways: 510,
  Hillshade_9am: 221,
  Hillshade_Noon: 232,
  Hillshade_3pm: 148,
  Horizontal_Distance_To_Fire_Points: 6279,
  Wilderness_Area: 'Rawah',
  Soil_Type: 'C7745',
};

function csvLine(values) {
  return values.map((v) => (/[",\n]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : String(v))).join(',');
}

/** The Predict page's model choice: every registered model; choosing one opens #/predict/{name}. */
function predictModelSelect(models, modelName) {
  return h(
    'label',
    { class: 'field' },
    'Model',
    h(
      'select',
      {
        id: 'predict-model',
        onchange: (e) => {
          location.hash = `#/predict/${e.target.value}`;
        },
      },
      ...models.map((m) => h('option', { value: m.name, selected: m.name === modelName }, m.name)),
    ),
  );
}

async function predictPage(name) {
  const models = (await api('GET', '/models')).models;
  if (models.length === 0) {
    view.replaceChildren(h('h1', {}, 'Predict'), h('div', { class: 'card muted' }, 'No registered model yet: run the pipeline first.'));
    return;
  }
  if (name !== undefined && !models.some((m) => m.name === name)) throw new ApiError(404, null, `No registered model named ${name}`);
  const modelName = name ?? models[0].name;
  const model = await api('GET', `/models/${encodeURIComponent(modelName)}`);
  const versions = [...model.versions].sort((a, b) => b.version - a.version);
  const schemaVersion = versions.find((v) => v.aliases.includes('champion')) ?? versions[0];
  const schema = schemaVersion.inputSchema;
  const features = schema.features ?? [];

  const fields = new Map();
  const inputs = features.map((f) => {
    const fallback =
      EXAMPLE_ROW[f.name] ?? (f.type === 'categorical' ? f.values?.[0] : f.min !== undefined && f.max !== undefined ? Math.round((f.min + f.max) / 2) : 0);
    const control =
      f.type === 'categorical'
        ? h(
            'select',
            { name: f.name, id: `f-${f.name}` },
            ...(f.values ?? []).map((v) => h('option', { value: v, selected: String(v) === String(fallback) }, v)),
          )
        : h('input', { name: f.name, id: `f-${f.name}`, value: fallback, inputmode: 'decimal', autocomplete: 'off' });
    const err = h('span', { class: 'field-error' });
    const label = h(
      'label',
      { class: 'field', 'data-field': f.name },
      h(
        'span',
        {},
        f.name.replaceAll('_', ' '),
        f.type !== 'categorical' && f.min !== undefined ? h('span', { class: 'muted' }, ` (${f.min}–${f.max})`) : null,
      ),
      control,
      err,
    );
    fields.set(f.name, { label, err, type: f.type, control });
    return label;
  });

  const versionSelect = h(
    'select',
    { id: 'version' },
    h('option', { value: '' }, 'champion'),
    ...versions.map((v) => h('option', { value: v.version }, `v${v.version}${v.aliases.length ? ` (${v.aliases.join(', ')})` : ''}`)),
  );
  const result = h('div', { id: 'prediction' });
  const formErrors = h('div');
  const rowOf = () =>
    Object.fromEntries(
      [...fields].map(([name, f]) => {
        const raw = f.control.value.trim();
        return [name, f.type === 'categorical' || raw === '' || Number.isNaN(Number(raw)) ? raw : Number(raw)];
      }),
    );

  const form = h(
    'form',
    { class: 'card', id: 'predict-form' },
    h(
      'div',
      { class: 'row' },
      h('h2', { style: 'margin:0 auto 0 0' }, `${modelName}: one row`),
      predictModelSelect(models, modelName),
      h('label', { class: 'field' }, 'Model version', versionSelect),
    ),
    h('div', { class: 'form-grid', style: 'margin-top:10px' }, inputs),
    formErrors,
    h('div', { class: 'row end', style: 'margin-top:10px' }, h('button', { type: 'submit', id: 'predict-button' }, 'Predict')),
  );
  let probaChart = null;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const f of fields.values()) {
      f.label.classList.remove('invalid');
      f.err.textContent = '';
    }
    formErrors.replaceChildren();
    const body = { model: modelName, rows: [rowOf()], ...(versionSelect.value ? { model_version: Number(versionSelect.value) } : {}) };
    try {
      const answer = await api('POST', '/predict', body);
      const p = answer.predictions[0];
      const classes = schema.classes ?? [];
      const labelOf = (value) => classes.find((c) => String(c.value) === String(value))?.label ?? value;
      const entries = Object.entries(p.probabilities ?? {});
      const canvas = h('canvas', { id: 'proba-chart' });
      result.replaceChildren(
        h(
          'div',
          { class: 'card' },
          h(
            'h2',
            {},
            'Prediction: ',
            h(
              'span',
              { id: 'predicted-label', 'data-prediction': p.prediction },
              schema.task === 'regression' ? fmtNum(p.prediction) : `${p.label ?? p.prediction}`,
            ),
            h(
              'span',
              { class: 'muted' },
              ` (${schema.task === 'regression' ? `${schema.target ?? 'value'}, ` : `class ${p.prediction}, `}model v${answer.model.version}${answer.model.alias ? `, ${answer.model.alias}` : ''})`,
            ),
          ),
          answer.warnings ? h('div', { class: 'notice' }, answer.warnings.join(' ')) : null,
          entries.length > 0 ? h('div', { class: 'chart-box' }, canvas) : null,
          h(
            'details',
            {},
            h('summary', { class: 'small muted' }, 'Answer as JSON'),
            h('pre', { class: 'json', id: 'prediction-json' }, JSON.stringify(answer, null, 2)),
          ),
        ),
      );
      probaChart?.destroy();
      probaChart =
        entries.length === 0
          ? null
          : chart(canvas, {
              type: 'bar',
              data: {
                labels: entries.map(([k]) => labelOf(k)),
                datasets: [
                  {
                    label: 'probability',
                    data: entries.map(([, v]) => v),
                    backgroundColor: entries.map(([k]) => (String(k) === String(p.prediction) ? '#2e7d32' : '#1f4e79')),
                  },
                ],
              },
              options: { indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: { min: 0, max: 1 } } },
            });
    } catch (error) {
      result.replaceChildren();
      formErrors.replaceChildren(errorBox(error));
      for (const issue of error.body?.issues ?? []) {
        const key = String(issue.field).replace(/^rows\[\d+\]\./, '');
        const f = fields.get(key);
        if (f) {
          f.label.classList.add('invalid');
          f.err.textContent = issue.message;
        }
      }
    }
  });

  // Batch: upload a CSV, get the predictions back as a CSV.
  const file = h('input', { type: 'file', accept: '.csv,text/csv', id: 'batch-file' });
  const batchOut = h('div', { id: 'batch-result' });
  const sample = () => {
    const names = features.map((f) => f.name);
    const text = `${csvLine(names)}\n${csvLine(names.map((n) => rowOf()[n]))}\n`;
    return URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  };
  const sampleLink = h(
    'a',
    {
      href: '#',
      id: 'batch-sample',
      download: `${modelName}-sample.csv`,
      onclick: (e) => {
        e.currentTarget.href = sample();
      },
    },
    'a CSV of the row above',
  );
  const batchForm = h(
    'form',
    { class: 'card', id: 'batch-form' },
    h('h2', {}, 'Batch: a CSV file'),
    h('p', { class: 'small muted' }, 'A header row of feature names, then one row per line (extra columns such as an id are kept). Try ', sampleLink, '.'),
    h('div', { class: 'row' }, file, h('button', { type: 'submit', id: 'batch-button' }, 'Predict the file')),
    batchOut,
  );
  batchForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    batchOut.replaceChildren();
    const f = file.files?.[0];
    if (!f) {
      batchOut.replaceChildren(errorBox(new ApiError(0, null, 'Choose a CSV file first.')));
      return;
    }
    try {
      const version = versionSelect.value ? `&version=${versionSelect.value}` : '';
      const response = await api('POST', `/batch-predictions?model=${encodeURIComponent(modelName)}${version}`, await f.text(), { raw: true });
      const summary = JSON.parse(response.headers.get('x-batch-summary') ?? '{}');
      const csv = await response.text();
      const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
      batchOut.replaceChildren(
        h(
          'p',
          { id: 'batch-summary' },
          `${summary.rows ?? '?'} rows: ${summary.predicted ?? '?'} predicted, ${summary.rejected ?? '?'} rejected (model v${summary.modelVersion ?? '?'}). `,
          h('a', { href: url, download: `predictions-${f.name}`, class: 'button', id: 'batch-download' }, 'Download predictions'),
        ),
        ...((summary.rejectedSample ?? []).length
          ? [
              h(
                'ul',
                { class: 'small' },
                summary.rejectedSample.map((r) => h('li', {}, `line ${r.line}: ${r.reason}`)),
              ),
            ]
          : []),
      );
    } catch (error) {
      batchOut.replaceChildren(errorBox(error));
    }
  });

  view.replaceChildren(h('h1', {}, 'Predict'), form, result, batchForm);
}

route();
