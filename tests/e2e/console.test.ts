import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot } from '../../src/config.ts';
import { LocalStack } from '../../src/runtime/local-stack.ts';
import { dropDatabase } from '../../src/storage/mysql.ts';
import { covertypePath, testBucket, testMysql } from '../helpers/env.ts';

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
let stack: LocalStack;
let browser: Browser;
let page: Page;
let tmp: string;
let executionId = '';

const api = async (method: string, route: string, body?: unknown) => {
  const response = await fetch(`${stack.baseUrl}${route}`, { method, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
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
  Elevation: 3100, Aspect: 100, Slope: 10, Horizontal_Distance_To_Hydrology: 200, Vertical_Distance_To_Hydrology: 20,
  Horizontal_Distance_To_Roadways: 1500, Hillshade_9am: 220, Hillshade_Noon: 230, Hillshade_3pm: 140,
  Horizontal_Distance_To_Fire_Points: 2000, Wilderness_Area: 'Commanche', Soil_Type: 'C7202',
};

async function fillRow(values: Record<string, string | number>): Promise<void> {
  for (const [name, value] of Object.entries(values)) {
    const control = page.locator(`#f-${name}`);
    if ((await control.evaluate((el) => el.tagName)) === 'SELECT') await control.selectOption(String(value));
    else await control.fill(String(value));
  }
}

let tokenPrompts = 0;

describe('web console in headless Chromium', { timeout: 900_000 }, () => {
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'mlops-console-'));
    stack = new LocalStack({
      mysql, bucket, s3Directory: path.join(tmp, 's3'),
      functionEnv: { DATA_API_DATASET_PATH: covertypePath, DATA_API_BATCH_INTERVAL_SECONDS: '1', DATA_API_SAMPLE_SIZE: '2500', TRAIN_WORKERS: '1' },
    });
    await stack.start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
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
    await dropDatabase(mysql).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  });

  test('a run started from the page shows its progress live, then every state succeeded in graph and timeline', async () => {
    await page.goto(`${stack.baseUrl}/`);
    await page.locator('#start-run').waitFor();
    await page.fill('input[name=batches]', '2');
    await page.fill('input[name=intervalSeconds]', '1');
    await page.fill('input[name=trials]', '2');
    await page.fill('input[name=nEstimators]', '10');
    await page.click('#start-run-button');
    await page.waitForURL(/#\/executions\/run-/);
    executionId = page.url().split('/').pop() ?? '';
    // Live: the page shows the execution running before it ends.
    await page.locator('#execution-status[data-status=RUNNING]').waitFor({ timeout: 30_000 });
    await page.locator('#execution-status[data-status=SUCCEEDED]').waitFor({ timeout: 600_000 });
    if ((await page.locator('#execution-status').getAttribute('data-status')) !== 'SUCCEEDED') console.error(stack.recentOutput());

    const runs = await page.locator('#timeline tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-run'), tr.getAttribute('data-status')]));
    const labels = runs.map(([label]) => label);
    for (const expected of ['FetchBatch', 'FetchBatch#2', 'Preprocess', 'PlanTrials', 'Trials', 'Train[0]', 'Train[1]', 'SelectBest', 'Promote', 'Done']) {
      assert.ok(labels.includes(expected), `timeline has ${expected}: ${labels.join(' ')}`);
    }
    assert.ok(runs.every(([, status]) => status === 'succeeded'), `all succeeded: ${JSON.stringify(runs)}`);
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
    assert.equal(cells.map(Number).reduce((a, b) => a + b, 0), evaluation.rows, 'the matrix covers every test row');
    assert.match(await page.locator('#lineage').innerText(), /Dataset hash/);
    assert.match(await page.locator('#promotions').innerText(), /promoted/);
    await page.locator('#importances').waitFor();
    await shoot('models');
  });

  test('roll back asks for confirmation, and the API\'s refusal is shown in plain words', async () => {
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
    const fromPage = JSON.parse(await page.locator('#prediction-json').textContent() ?? '{}') as { predictions: unknown[] };
    const { status, body } = await api('POST', '/predict', { rows: [row] });
    assert.equal(status, 200);
    assert.deepEqual(fromPage.predictions, body.predictions);
    assert.equal(await page.locator('#predicted-label').getAttribute('data-prediction'), String((body.predictions as { prediction: unknown }[])[0].prediction));
    await shoot('predict');
  });

  test('a bad field shows the API\'s own message next to it', async () => {
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
    const csv = [['id', ...header].join(','), ['a', ...header.map((k) => row[k as keyof typeof row])].join(','), ['b', ...header.map((k) => (k === 'Soil_Type' ? 'C0000' : row[k as keyof typeof row]))].join(',')].join('\n');
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
    const history = (await api('GET', '/models/covertype/promotions')).body.promotions as { action: string; candidateVersion: number; previousVersion: number }[];
    const last = history[history.length - 1];
    assert.deepEqual([last.action, last.candidateVersion, last.previousVersion], ['manual', other, before]);
  });
});
