// The Monitoring page: how the champion does in production (src/monitoring/, GET /monitoring/{name}).
// Per-feature drift (PSI against the champion's training profile) over time, the predicted-class mix,
// the live metric from feedback (champion and shadow challenger), the challenger's agreement.
// app.js routes #/monitoring[/name] here and passes its helpers in `ui`.

const COLORS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#17becf',
  '#e377c2',
  '#8c564b',
  '#bcbd22',
  '#393b79',
  '#637939',
  '#7f7f7f',
  '#843c39',
  '#3182bd',
];
const color = (i) => COLORS[i % COLORS.length];
const time = (iso) => new Date(iso).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });

export async function monitoringPage(name, ui) {
  const { h, api, chart, view, errorBox, fmtNum, badge } = ui;
  const models = (await api('GET', '/models')).models;
  if (models.length === 0) {
    view.replaceChildren(h('h1', {}, 'Monitoring'), h('div', { class: 'card muted' }, 'No registered model yet: run the pipeline first.'));
    return;
  }
  const modelName = name ?? models[0].name;
  const data = await api('GET', `/monitoring/${encodeURIComponent(modelName)}`);
  const results = data.results;
  const latest = results[results.length - 1];
  const messages = h('div');

  const checkNow = h(
    'button',
    {
      id: 'monitor-run',
      onclick: async () => {
        checkNow.disabled = true;
        try {
          await api('POST', `/monitoring/${encodeURIComponent(modelName)}/run`);
          // Re-route: the router destroys this page's charts before drawing the new ones.
          window.dispatchEvent(new HashChangeEvent('hashchange'));
        } catch (error) {
          messages.replaceChildren(errorBox(error));
          checkNow.disabled = false;
        }
      },
    },
    'Check now',
  );

  const triggers =
    data.triggers.length === 0
      ? h('span', { class: 'muted' }, 'no trigger has been evaluated yet')
      : data.triggers.map((t) =>
          h(
            'span',
            { class: 'row', style: 'display:inline-flex;margin-right:12px' },
            t.trigger,
            badge(t.active ? 'crossed' : 'ok', t.active ? 'failed' : 'succeeded'),
          ),
        );

  const header = h(
    'div',
    { class: 'card' },
    h(
      'div',
      { class: 'row' },
      models.length > 1
        ? h(
            'select',
            {
              onchange: (e) => {
                location.hash = `#/monitoring/${e.target.value}`;
              },
            },
            ...models.map((m) => h('option', { value: m.name, selected: m.name === modelName }, m.name)),
          )
        : h('strong', {}, modelName),
      badge(`champion v${data.champion}`, 'champion'),
      data.challenger !== null ? badge(`challenger v${data.challenger}`, 'challenger') : h('span', { class: 'muted small' }, 'no challenger'),
      h('span', { style: 'flex:1' }),
      checkNow,
    ),
    h(
      'dl',
      { class: 'kv', style: 'margin-top:10px' },
      h('dt', {}, 'Triggers'),
      h('dd', {}, triggers),
      h('dt', {}, 'Window'),
      h(
        'dd',
        {},
        `last ${data.settings.windowHours} h; drift flagged above PSI ${data.settings.psiThreshold}, judged from ${data.settings.minRows} logged rows`,
      ),
      latest
        ? [
            h('dt', {}, 'Last check'),
            h(
              'dd',
              {},
              `${time(latest.createdAt)}: ${latest.rowsLogged} logged rows (${latest.rowsDropped} dropped), max PSI ${fmtNum(latest.maxPsi)}, live ${latest.liveMetric} ${fmtNum(latest.liveValue)} on ${latest.feedbackRows} feedback rows`,
            ),
          ]
        : null,
    ),
    messages,
  );

  if (results.length === 0) {
    view.replaceChildren(
      h('h1', {}, 'Monitoring'),
      header,
      h('div', { class: 'card muted', id: 'monitor-empty' }, 'No check yet: predict, send feedback, then "Check now" (or wait for the schedule).'),
    );
    return;
  }

  const box = (id, title, note, wide = false) => {
    const canvas = h('canvas', { id });
    return {
      canvas,
      card: h(
        'div',
        { class: 'card', style: wide ? 'grid-column: 1 / -1' : null },
        h('h2', {}, title),
        note ? h('p', { class: 'muted small', style: 'margin:0 0 6px' }, note) : null,
        h('div', { class: 'chart-box', style: wide ? 'height:340px' : null }, canvas),
      ),
    };
  };
  const drift = box(
    'chart-drift',
    'Feature drift over time (PSI)',
    "Each feature's logged inputs against the champion's training profile; the dashed line is the threshold.",
    true,
  );
  const mix = box('chart-mix', 'Predicted-class mix', `Champion v${latest.championVersion}, last ${data.settings.windowHours} h at the last check.`);
  const metric = box('chart-metric', `Live ${latest.liveMetric}`, 'From feedback joined to the logged predictions.');
  const agreement = box(
    'chart-agreement',
    'Challenger agreement',
    data.challenger === null
      ? 'No challenger alias: nothing is shadow-scored.'
      : 'Share of logged rows where the shadow challenger predicts what the champion did.',
  );

  const fired = results
    .filter((r) => r.fired.length > 0)
    .reverse()
    .slice(0, 10);
  const featureRows = [...latest.features].sort((a, b) => (b.psi ?? -1) - (a.psi ?? -1));
  view.replaceChildren(
    h('h1', {}, 'Monitoring'),
    header,
    h('div', { class: 'grid' }, drift.card, mix.card, metric.card, agreement.card),
    h(
      'div',
      { class: 'grid' },
      h(
        'div',
        { class: 'card' },
        h('h2', {}, 'Drift at the last check'),
        h(
          'table',
          { id: 'monitor-features' },
          h('thead', {}, h('tr', {}, h('th', {}, 'feature'), h('th', { class: 'num' }, 'PSI'), h('th', {}, ''))),
          h(
            'tbody',
            {},
            ...featureRows.map((f) =>
              h('tr', {}, h('td', {}, f.name), h('td', { class: 'num' }, fmtNum(f.psi)), h('td', {}, f.drifted ? badge('drifted', 'failed') : '')),
            ),
          ),
        ),
      ),
      h(
        'div',
        { class: 'card' },
        h('h2', {}, 'Crossings'),
        fired.length === 0
          ? h('p', { class: 'muted' }, 'No trigger has crossed in these checks.')
          : h(
              'ul',
              { id: 'monitor-fired' },
              ...fired.flatMap((r) =>
                r.fired.map((f) =>
                  h(
                    'li',
                    {},
                    h('strong', {}, `${time(r.createdAt)} ${f.trigger}: `),
                    f.reason,
                    ...f.actions.map((a) => h('div', { class: `small ${a.ok ? 'muted' : 'field-error'}` }, `${a.action}: ${a.detail}`)),
                  ),
                ),
              ),
            ),
      ),
    ),
  );

  const labels = results.map((r) => time(r.createdAt));
  const names = [...new Set(results.flatMap((r) => r.features.map((f) => f.name)))];
  chart(drift.canvas, {
    type: 'line',
    data: {
      labels,
      datasets: [
        ...names.map((n, i) => ({
          label: n,
          data: results.map((r) => r.features.find((f) => f.name === n)?.psi ?? null),
          borderColor: color(i),
          backgroundColor: color(i),
          spanGaps: true,
          pointRadius: 2,
        })),
        { label: 'threshold', data: results.map(() => data.settings.psiThreshold), borderColor: '#888', borderDash: [6, 4], pointRadius: 0 },
      ],
    },
    options: {
      scales: { y: { beginAtZero: true, title: { display: true, text: 'PSI' } } },
      plugins: { legend: { position: 'right', labels: { boxWidth: 10, font: { size: 11 } } } },
    },
  });
  const mixEntries = Object.entries(latest.predictionMix);
  chart(mix.canvas, {
    type: 'bar',
    data: {
      labels: mixEntries.map(([k]) => k),
      datasets: [{ label: 'predicted rows', data: mixEntries.map(([, v]) => v), backgroundColor: mixEntries.map((_, i) => color(i)) }],
    },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
  });
  chart(metric.canvas, {
    type: 'line',
    data: {
      labels,
      datasets: [
        { label: `champion ${latest.liveMetric}`, data: results.map((r) => r.liveValue), borderColor: color(0), backgroundColor: color(0), spanGaps: true },
        {
          label: `challenger ${latest.liveMetric}`,
          data: results.map((r) => r.challengerLiveValue),
          borderColor: color(1),
          backgroundColor: color(1),
          spanGaps: true,
        },
        { label: 'feedback rows', data: results.map((r) => r.feedbackRows), borderColor: '#aaa', backgroundColor: '#aaa', yAxisID: 'rows', borderDash: [4, 3] },
      ],
    },
    options: {
      scales: {
        y: latest.liveMetric === 'accuracy' ? { min: 0, max: 1 } : { beginAtZero: true },
        rows: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false } },
      },
    },
  });
  chart(agreement.canvas, {
    type: 'line',
    data: {
      labels,
      datasets: [
        {
          label: 'agreement with the champion',
          data: results.map((r) => r.challengerAgreement),
          borderColor: color(2),
          backgroundColor: color(2),
          spanGaps: true,
        },
      ],
    },
    options: { scales: { y: { min: 0, max: 1 } } },
  });
}
