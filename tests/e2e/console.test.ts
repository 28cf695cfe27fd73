import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot } from '../../src/config.ts';
import { spawn } from 'node:child_process';
import { EmbeddedStack, freePort } from '../../src/embedded/stack.ts';
import { dropDatabase } from '../../src/storage/mysql.ts';
import { covertypePath, testBucket, testMysql } from '../helpers/env.ts';
import { LambdaProxy } from '../helpers/faults.ts';

/**
 * The console in a real browser (Debian's chromium, driven by playwright-core) against a real
 * embedded stack: a pipeline run started from the page, then each page checked against the API.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(repoRoot, 'tests', 'artifacts');
// The README's screenshots are refreshed only on request (UPDATE_SCREENSHOTS=1 npm test), so a test run
// does not rewrite tracked files; the test record always goes to tests/artifacts.
const DOCS = process.env.UPDATE_SCREENSHOTS === '1' ? path.join(repoRoot, 'docs', 'screenshots') : ARTIFACTS;

const mysql = testMysql('console');
const bucket = testBucket('console');
let stack: EmbeddedStack;
/** Between the Step Functions endpoint and the functions: lets a test break a Train invocation. */
let proxy: LambdaProxy;
let browser: Browser;
let page: Page;
let tmp: string;
let executionId = '';

const api = async (method: string, route: string, body?: unknown) => {
  // With the admin token, as an operator: POST /executions and redrive need it (the page asks for it itself).
  const headers = { authorization: `Bearer ${stack.adminToken}` };
  const response = await fetch(`${stack.baseUrl}${route}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

/** A full-page shot for the test record, and a viewport one (small) for the docs. */
async function shoot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  const doc = path.join(DOCS, DOCS === ARTIFACTS ? `${name}-viewport.png` : `${name}.png`);
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: doc, fullPage: false });
  assert.ok((await stat(doc)).size < 300_000, `${doc} is under 300 KB`);
}

const row = {
  Elevation: 3100,
  Aspect: 100,
  Slope: 10,
  Horizontal_Distance_To_Hydrology: 200,
  Vertical_Distance_To_Hydrology: 20,
  Horizontal_Distance_To_Roadways: 1500,
  Hillshade_9am: 220,
  Hillshade_Noon: 230,
  Hillshade_3pm: 140,
  Horizontal_Distance_To_Fire_Points: 2000,
  Wilderness_Area: 'Commanche',
  Soil_Type: 'C7202',
};

async function fillRow(values: Record<string, string | number>): Promise<void> {
  for (const [name, value] of Object.entries(values)) {
    const control = page.locator(`#f-${name}`);
    if ((await control.evaluate((el) => el.tagName)) === 'SELECT') await control.selectOption(String(value));
    else await control.fill(String(value));
  }
}

/** Fills the Start-run form on the page shown, starts the run and returns its id once the page shows it. */
async function startRunFromPage(input: { dataset: string; batches: number; intervalSeconds: number; trials: number; nEstimators: number }): Promise<string> {
  await page.locator('#start-dataset[data-loaded]').waitFor({ state: 'attached' });
  const previous = page.url();
  for (const [name, value] of Object.entries(input)) {
    if (name === 'dataset') await page.selectOption('#start-dataset', String(value));
    else await page.fill(`input[name=${name}]`, String(value));
  }
  await page.click('#start-run-button');
  await page.waitForURL((url) => /#\/executions\/run-/.test(url.hash) && url.href !== previous);
  return page.url().split('/').pop() ?? '';
}

let tokenPrompts = 0;

describe('web console in headless Chromium', { timeout: 900_000 }, () => {
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'mlops-console-'));
    const lambdaPort = await freePort();
    proxy = new LambdaProxy(`http://127.0.0.1:${lambdaPort}`);
    await proxy.start();
    stack = new EmbeddedStack({
      mysql,
      bucket,
      s3Directory: path.join(tmp, 's3'),
      lambdaPort,
      sfnLambdaEndpoint: proxy.url,
      functionEnv: { DATA_API_DATASET_PATH: covertypePath, DATA_API_BATCH_INTERVAL_SECONDS: '1', DATA_API_SAMPLE_SIZE: '2500', TRAIN_WORKERS: '1' },
    });
    await stack.start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    // The guarded buttons (start a run, roll back) ask for the admin token once per tab.
    page.on('dialog', (dialog) => {
      if (dialog.type() === 'prompt') tokenPrompts += 1;
      void dialog.accept(stack.adminToken);
    });
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await stack?.stop();
    await proxy?.close();
    await dropDatabase(mysql).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  });

  test('a run started from the page shows its progress live, then every state succeeded in graph and timeline', async () => {
    await page.goto(`${stack.baseUrl}/`);
    await page.locator('#start-run').waitFor();
    // The dataset field offers every dataset with a spec, as GET /datasets lists them.
    await page.locator('#start-dataset[data-loaded]').waitFor({ state: 'attached' });
    const { body: listed } = await api('GET', '/datasets');
    const withSpec = (listed.datasets as { name: string; task: string | null }[]).filter((d) => d.task !== null).map((d) => d.name);
    assert.deepEqual(await page.locator('#start-dataset option').evaluateAll((os) => os.map((o) => o.getAttribute('value'))), withSpec);
    assert.ok(withSpec.includes('covertype') && withSpec.includes('bodyfat'), withSpec.join(' '));
    executionId = await startRunFromPage({ dataset: 'covertype', batches: 2, intervalSeconds: 1, trials: 2, nEstimators: 10 });
    // Live: the page shows the execution running before it ends.
    await page.locator('#execution-status[data-status=RUNNING]').waitFor({ timeout: 30_000 });
    await page.locator('#execution-status[data-status=SUCCEEDED]').waitFor({ timeout: 600_000 });
    if ((await page.locator('#execution-status').getAttribute('data-status')) !== 'SUCCEEDED') console.error(stack.recentOutput());

    const runs = await page.locator('#timeline tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-run'), tr.getAttribute('data-status')]));
    const labels = runs.map(([label]) => label);
    for (const expected of ['FetchBatch', 'FetchBatch#2', 'Preprocess', 'PlanTrials', 'Trials', 'Train[0]', 'Train[1]', 'SelectBest', 'Promote', 'Done']) {
      assert.ok(labels.includes(expected), `timeline has ${expected}: ${labels.join(' ')}`);
    }
    assert.ok(
      runs.every(([, status]) => status === 'succeeded'),
      `all succeeded: ${JSON.stringify(runs)}`,
    );
    // The graph: states that ran are green, the failure path never ran.
    assert.equal(await page.locator('.node[data-state=Promote]').getAttribute('data-status'), 'succeeded');
    assert.equal(await page.locator('.node[data-state=Train]').getAttribute('data-status'), 'succeeded');
    assert.equal(await page.locator('.node[data-state=RecordFailure]').getAttribute('data-status'), 'not-run');
    assert.equal(await page.locator('.node[data-status=failed]').count(), 0);
    // A state's input and output on click.
    await page.click('#timeline tr[data-run=Promote]');
    const panel = await page.locator('#state-detail').innerText();
    assert.match(panel, /Input/);
    assert.match(panel, /"decision"/);
    // The page agrees with the API.
    const { body } = await api('GET', `/executions/${executionId}`);
    assert.equal(body.status, 'SUCCEEDED');
    await shoot('execution');

    await page.goto(`${stack.baseUrl}/#/executions`);
    await page.locator(`#executions tr[data-execution="${executionId}"] .badge.SUCCEEDED`).waitFor();
    await shoot('executions');
  });

  test('the models page shows the champion, its lineage, confusion matrix and promotion history', async () => {
    await page.goto(`${stack.baseUrl}/#/models`);
    await page.locator('#champion').waitFor();
    assert.match(await page.locator('#champion h2').innerText(), /champion: v1/);
    await page.locator('#versions tr[data-version="1"] .badge.champion').waitFor();
    await page.locator('#confusion').waitFor({ timeout: 60_000 });
    const cells = await page.locator('#confusion tbody td').allInnerTexts();
    const { body: evaluation } = await api('GET', '/models/covertype/versions/1/evaluation');
    assert.equal(
      cells.map(Number).reduce((a, b) => a + b, 0),
      evaluation.rows,
      'the matrix covers every test row',
    );
    assert.match(await page.locator('#lineage').innerText(), /Dataset hash/);
    assert.match(await page.locator('#promotions').innerText(), /promoted/);
    await page.locator('#importances').waitFor();
    await shoot('models');
  });

  test("roll back asks for confirmation, and the API's refusal is shown in plain words", async () => {
    await page.goto(`${stack.baseUrl}/#/models`);
    await page.locator('#rollback').waitFor();
    // Cancel changes nothing.
    await page.click('#rollback');
    await page.locator('#confirm[open]').waitFor();
    assert.match(await page.locator('#confirm-text').innerText(), /Roll covertype back/);
    await page.click('#confirm-cancel');
    const promotionCount = async () => ((await api('GET', '/models/covertype/promotions')).body.promotions as unknown[]).length;
    assert.equal(await promotionCount(), 1);
    // Confirmed: with a single version there is nothing to roll back to, and the page says so.
    await page.click('#rollback');
    await page.locator('#confirm[open]').waitFor();
    await page.click('#confirm-ok');
    const alert = page.locator('[role=alert]').filter({ hasText: 'no earlier champion' });
    await alert.waitFor();
    assert.equal(await promotionCount(), 1, 'nothing was recorded');
    assert.equal(tokenPrompts, 1, 'the admin token was asked for once (by Start run), then kept for the tab');
  });

  test('the runs page shows the search trials side by side', async () => {
    await page.goto(`${stack.baseUrl}/#/runs`);
    await page.locator('#trials').waitFor();
    assert.equal(await page.locator('#trials tbody tr').count(), 2);
    await page.click('#trials th[data-sort="m.accuracy"]');
    await page.locator('#trial-chart').waitFor();
    await shoot('runs');
  });

  test('a prediction made from the form matches POST /predict for the same row', async () => {
    await page.goto(`${stack.baseUrl}/#/predict`);
    await page.locator('#predict-form').waitFor();
    await fillRow(row);
    await page.click('#predict-button');
    await page.locator('#prediction-json').waitFor({ state: 'attached' });
    const fromPage = JSON.parse((await page.locator('#prediction-json').textContent()) ?? '{}') as { predictions: unknown[] };
    const { status, body } = await api('POST', '/predict', { rows: [row] });
    assert.equal(status, 200);
    assert.deepEqual(fromPage.predictions, body.predictions);
    assert.equal(await page.locator('#predicted-label').getAttribute('data-prediction'), String((body.predictions as { prediction: unknown }[])[0].prediction));
    await shoot('predict');
  });

  test("a bad field shows the API's own message next to it", async () => {
    await page.goto(`${stack.baseUrl}/#/predict`);
    await page.locator('#predict-form').waitFor();
    await fillRow({ ...row, Elevation: 'high' });
    await page.click('#predict-button');
    await page.locator('#predict-form .error').waitFor();
    const { status, body } = await api('POST', '/predict', { rows: [{ ...row, Elevation: 'high' }] });
    assert.equal(status, 400);
    assert.ok((await page.locator('#predict-form .error').innerText()).includes(String(body.message)), 'the API message, word for word');
    assert.equal(await page.locator('label[data-field=Elevation]').getAttribute('class'), 'field invalid');
    const issue = (body.issues as { field: string; message: string }[]).find((i) => i.field === 'Elevation');
    assert.equal(await page.locator('label[data-field=Elevation] .field-error').innerText(), issue?.message);
    await shoot('predict-error');
  });

  test('a CSV uploaded for batch prediction comes back with a prediction per good row', async () => {
    await page.goto(`${stack.baseUrl}/#/predict`);
    await page.locator('#batch-form').waitFor();
    const header = Object.keys(row);
    const csv = [
      ['id', ...header].join(','),
      ['a', ...header.map((k) => row[k as keyof typeof row])].join(','),
      ['b', ...header.map((k) => (k === 'Soil_Type' ? 'C0000' : row[k as keyof typeof row]))].join(','),
    ].join('\n');
    await page.setInputFiles('#batch-file', { name: 'rows.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.click('#batch-button');
    await page.locator('#batch-summary, #batch-result .error').first().waitFor();
    assert.equal(await page.locator('#batch-result .error').count(), 0, await page.locator('#batch-result').innerText());
    assert.match(await page.locator('#batch-summary').innerText(), /2 rows: 1 predicted, 1 rejected/);
    const download = page.waitForEvent('download');
    await page.click('#batch-download');
    const file = await (await download).path();
    assert.ok(file);
  });

  test('phone width: the executions page stays readable', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
    try {
      await phone.goto(`${stack.baseUrl}/#/executions/${executionId}`);
      await phone.locator('#execution-status[data-status=SUCCEEDED]').waitFor();
      const overflow = await phone.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      assert.ok(overflow <= 1, `no sideways scroll of the page (${overflow}px)`);
      await phone.screenshot({ path: path.join(ARTIFACTS, 'execution-phone.png'), fullPage: true });
      await phone.screenshot({ path: path.join(DOCS, DOCS === ARTIFACTS ? 'execution-phone-viewport.png' : 'execution-phone.png') });
    } finally {
      await phone.close();
    }
  });
  test('"Make champion" on another version moves the alias after confirmation, and the history records it', async () => {
    const second = await stack.runPipeline({ batches: 1, intervalSeconds: 1, train: { nEstimators: 10 }, search: { trials: 1, seed: 3 } });
    assert.equal(second.status, 'SUCCEEDED', `${second.error}: ${second.cause}`);
    const champion = async () => ((await api('GET', '/models/covertype')).body.aliases as Record<string, number>).champion;
    const before = await champion();
    const other = before === 1 ? 2 : 1;
    await page.goto(`${stack.baseUrl}/#/models`);
    await page.reload();
    const button = page.locator(`#versions tr[data-version="${other}"] button[data-promote]`);
    await button.waitFor();
    await button.click();
    await page.locator('#confirm[open]').waitFor();
    assert.match(await page.locator('#confirm-text').innerText(), new RegExp(`Make version ${other} the champion`));
    await page.click('#confirm-ok');
    await page.locator(`#versions tr[data-version="${other}"] .badge.champion`).waitFor();
    assert.equal(await champion(), other);
    const history = (await api('GET', '/models/covertype/promotions')).body.promotions as {
      action: string;
      candidateVersion: number;
      previousVersion: number;
    }[];
    const last = history[history.length - 1];
    assert.deepEqual([last.action, last.candidateVersion, last.previousVersion], ['manual', other, before]);
  });

  test('a Body Fat run started from the page with its dataset chosen; then Predict offers both models and predicts with each', async () => {
    await page.goto(`${stack.baseUrl}/#/executions`);
    const bodyfatExecution = await startRunFromPage({ dataset: 'bodyfat', batches: 3, intervalSeconds: 1, trials: 1, nEstimators: 10 });
    await page.locator('#execution-status:not([data-status=RUNNING])').waitFor({ timeout: 600_000 });
    const { body: execution } = await api('GET', `/executions/${bodyfatExecution}`);
    assert.equal(execution.status, 'SUCCEEDED', `${execution.error}: ${execution.cause}`);
    assert.equal((execution.input as { dataset?: string }).dataset, 'bodyfat');

    const registered = ((await api('GET', '/models')).body.models as { name: string }[]).map((m) => m.name);
    assert.deepEqual([...registered].sort(), ['bodyfat', 'covertype']);
    await page.goto(`${stack.baseUrl}/#/predict`);
    await page.locator('#predict-form').waitFor();
    assert.deepEqual(await page.locator('#predict-model option').evaluateAll((os) => os.map((o) => o.getAttribute('value'))), registered);

    const bodyfatRow = (JSON.parse(await readFile(path.join(repoRoot, 'examples', 'bodyfat.predict.json'), 'utf8')) as { rows: Record<string, number>[] })
      .rows[0];
    const rowFor: Record<string, Record<string, string | number>> = { covertype: row, bodyfat: bodyfatRow };
    // The page opens on the first model: choose the other one, then come back, predicting with each.
    for (const model of [registered[1], registered[0]]) {
      const values = rowFor[model];
      await page.selectOption('#predict-model', model);
      await page.waitForURL(new RegExp(`#/predict/${model}$`));
      await page.locator(`#predict-form h2:text-is("${model}: one row")`).waitFor();
      await fillRow(values);
      await page.click('#predict-button');
      await page.locator('#prediction-json').waitFor({ state: 'attached' });
      const fromPage = JSON.parse((await page.locator('#prediction-json').textContent()) ?? '{}') as { model: { name: string }; predictions: unknown[] };
      const { status, body } = await api('POST', '/predict', { model, rows: [values] });
      assert.equal(status, 200);
      assert.equal(fromPage.model.name, model);
      assert.deepEqual(fromPage.predictions, body.predictions);
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'predict-bodyfat.png'), fullPage: true });
  });

  /**
   * Starts an execution whose trial 1 answers a result without runId: Train's ResultSelector fails
   * with States.Runtime, which no Catch takes, so the execution fails in the Trials Map (redrivable).
   */
  async function failedExecution(seed: number): Promise<{ id: string; ran: (key: string) => number; heal: () => void }> {
    let broken = true;
    const train = 'mlops-pipeline-dev-train';
    proxy.fault = (name, payload) =>
      broken && name === train && (payload as { trialIndex?: number }).trialIndex === 1 ? { kind: 'answer', body: { metrics: {} } } : null;
    const before = new Map(proxy.invocations);
    const started = await api('POST', '/executions', {
      batches: 1,
      intervalSeconds: 1,
      train: { nEstimators: 5, seed },
      search: { trials: 2, seed, maxConcurrency: 1 },
    });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const id = String(started.body.id);
    for (;;) {
      const { body } = await api('GET', `/executions/${id}`);
      if (body.status !== 'RUNNING') {
        assert.equal(body.status, 'FAILED', JSON.stringify(body).slice(0, 500));
        assert.equal(body.error, 'States.Runtime');
        break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    return {
      id,
      ran: (key) => proxy.count(`mlops-pipeline-dev-${key}`) - (before.get(`mlops-pipeline-dev-${key}`) ?? 0),
      heal: () => {
        broken = false;
      },
    };
  }

  test('a failed execution has a Redrive button: after confirmation it goes on from the failed Map and succeeds', async () => {
    const failed = await failedExecution(11);
    await page.goto(`${stack.baseUrl}/#/executions/${failed.id}`);
    await page.locator('#execution-status[data-status=FAILED]').waitFor();
    assert.equal(await page.locator('#timeline tr[data-run="Train[1]"]').getAttribute('data-status'), 'failed');
    failed.heal();
    await page.click('#redrive');
    await page.locator('#confirm[open]').waitFor();
    assert.match(await page.locator('#confirm-text').innerText(), new RegExp(`Redrive ${failed.id}\\?`));
    await page.click('#confirm-ok');
    await page.locator('#execution-status[data-status=SUCCEEDED]').waitFor({ timeout: 300_000 });
    assert.equal(await page.locator('#redrive').count(), 0, 'no Redrive button on a succeeded execution');
    const runs = await page
      .locator('#timeline tbody tr')
      .evaluateAll((trs) => trs.map((tr) => `${tr.getAttribute('data-run')}:${tr.getAttribute('data-status')}`));
    assert.ok(runs.includes('Train[1]:failed') && runs.includes('Train[1]#2:succeeded'), runs.join(' '));
    assert.equal(runs.filter((r) => r.startsWith('FetchBatch')).length, 1, 'FetchBatch ran once');
    assert.equal(failed.ran('fetch'), 1, 'Fetch is not run again');
    assert.equal(failed.ran('preprocess'), 1, 'Preprocess is not run again');
    const { body } = await api('GET', `/executions/${failed.id}`);
    assert.equal(body.redriveCount, 1);
    await shoot('execution-redriven');
  });

  test('POST /executions/{id}/redrive refuses an execution that cannot be redriven, and one that does not exist', async () => {
    const done = await api('POST', `/executions/${executionId}/redrive`);
    assert.equal(done.status, 400, JSON.stringify(done.body));
    assert.match(String(done.body.message), /ExecutionNotRedrivable|cannot be redriven/i);
    const missing = await api('POST', '/executions/no-such-run/redrive');
    assert.equal(missing.status, 404, JSON.stringify(missing.body));
  });

  test('npm run cli -- redrive <execution> redrives a failed execution and follows it to SUCCEEDED', async () => {
    const failed = await failedExecution(12);
    failed.heal();
    const { code, out } = await new Promise<{ code: number; out: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(repoRoot, 'scripts/cli.ts'), 'redrive', failed.id, '--sfn', stack.sfnUrl], { cwd: repoRoot });
      let text = '';
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        text += d.toString();
      });
      child.on('close', (c) => resolve({ code: c ?? 1, out: text }));
    });
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`Redriven arn:aws:states:us-east-1:000000000000:execution:mlops-pipeline-dev:${failed.id}`));
    assert.match(out, /execution redriven/);
    assert.match(out, /✓ Train\[1\]/);
    assert.doesNotMatch(out, /▶ FetchBatch/, 'the follow shows the redriven part only once and Fetch did not run again');
    assert.equal(failed.ran('fetch'), 1);
    const { body } = await api('GET', `/executions/${failed.id}`);
    assert.deepEqual([body.status, body.redriveCount], ['SUCCEEDED', 1]);
  });

  test('the start form sends "cache": false only when step caching is unticked', async () => {
    const sent: unknown[] = [];
    // Answer the POST here, so nothing runs: only what the page sends matters.
    await page.route('**/executions', async (route) => {
      if (route.request().method() !== 'POST') return route.fallback();
      sent.push(route.request().postDataJSON());
      await route.fulfill({ status: 400, contentType: 'application/json', body: JSON.stringify({ error: 'InvalidInput', message: 'not started (test)' }) });
    });
    try {
      await page.goto(`${stack.baseUrl}/#/executions`);
      await page.locator('#start-run').waitFor();
      await page.click('#start-run-button');
      await page.locator('#start-run .error').waitFor();
      await page.uncheck('#cache');
      await page.click('#start-run-button');
      for (let i = 0; i < 50 && sent.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(sent.length, 2);
      assert.equal((sent[0] as { cache?: boolean }).cache, undefined);
      assert.equal((sent[1] as { cache?: boolean }).cache, false);
    } finally {
      await page.unroute('**/executions');
    }
  });
});
