import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot } from '../../src/config.ts';
import { loadDatasetRows } from '../../src/dataset/layouts.ts';
import { readDatasetSpecFile } from '../../src/dataset/spec.ts';
import { EmbeddedStack } from '../../src/embedded/stack.ts';
import { parseRequestId } from '../../src/monitoring/request-id.ts';
import { getAliasVersion, setAlias } from '../../src/registry/registry.ts';
import { createPool, dropDatabase, inTransaction, type Pool } from '../../src/storage/mysql.ts';
import { covertypePath, covertypeSampleRow, testBucket, testMysql } from '../helpers/env.ts';
import { toPredictRow } from '../helpers/faults.ts';

/**
 * Monitoring end to end on the embedded stack: predictions through serverless-offline are logged,
 * feedback joins them, a check from the console's API measures live drift and accuracy, a drift
 * crossing starts a pipeline run, and the Monitoring page (Debian's chromium) draws the charts.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(repoRoot, 'tests', 'artifacts');
const DOCS = process.env.UPDATE_SCREENSHOTS === '1' ? path.join(repoRoot, 'docs', 'screenshots') : ARTIFACTS;

const mysql = testMysql('monitorui');
const bucket = testBucket('monitorui');
let stack: EmbeddedStack;
let browser: Browser;
let page: Page;
let tmp: string;

const api = async (method: string, route: string, body?: unknown) => {
  // The admin token on every request: POST /monitoring/{name}/run needs it (the others ignore it).
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${stack.adminToken}` };
  const response = await fetch(`${stack.baseUrl}${route}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) }).catch(
    (error: Error) => {
      throw new Error(`${method} ${route}: ${error.message} (${String((error.cause as Error | undefined)?.message)})\n${stack.recentOutput().slice(-3000)}`);
    },
  );
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

/** Checks until the log has flushed what was predicted (in the background, by size). */
async function checkUntil(rows: number): Promise<Record<string, unknown>> {
  for (let i = 0; ; i++) {
    const check = await api('POST', '/monitoring/covertype/run');
    assert.equal(check.status, 200, JSON.stringify(check.body));
    if ((check.body.rowsLogged as number) >= rows || i > 40) return check.body;
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('Monitoring page in headless Chromium', { timeout: 600_000 }, () => {
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'mlops-monitorui-'));
    stack = new EmbeddedStack({
      mysql,
      bucket,
      s3Directory: path.join(tmp, 's3'),
      functionEnv: {
        DATA_API_DATASET_PATH: covertypePath,
        DATA_API_BATCH_INTERVAL_SECONDS: '1',
        DATA_API_SAMPLE_SIZE: '2000',
        TRAIN_WORKERS: '1',
        // Written out by size (the 1000-row requests) and when the stack stops, not by age.
        PREDICTION_LOG_FLUSH_MS: '600000',
        PREDICTION_LOG_FLUSH_BYTES: '100000',
        MONITOR_MIN_ROWS: '800',
        MONITOR_MIN_FEEDBACK: '10',
      },
    });
    await stack.start();
    const result = await stack.runPipeline({ batches: 1, intervalSeconds: 1, train: { nEstimators: 10, seed: 7 }, search: { trials: 1 } });
    assert.equal(result.status, 'SUCCEEDED', JSON.stringify(result.output ?? result.cause));
    // A second model, made challenger: the champion's traffic is shadow-scored by it.
    const second = await stack.runPipeline({ batches: 1, intervalSeconds: 1, train: { nEstimators: 5, seed: 3 }, search: { trials: 1 } });
    assert.equal(second.status, 'SUCCEEDED', JSON.stringify(second.output ?? second.cause));
    const pool = stack.pool as Pool;
    const champion = await getAliasVersion(pool, 'covertype', 'champion');
    await inTransaction(pool, (tx) => setAlias(tx, 'covertype', 'challenger', champion === 1 ? 2 : 1));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // "Check now" is admin-only: the page asks for the token once.
    page.on('dialog', (dialog) => void dialog.accept(stack.adminToken));
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await stack?.stop();
    await dropDatabase(mysql).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  });

  test('predictions and feedback make live drift and a live metric; a drift crossing starts a run; the page charts them', async () => {
    const spec = await readDatasetSpecFile(path.join(repoRoot, 'datasets/covertype.spec.json'));
    const rows = (await loadDatasetRows(spec, covertypePath)).slice(0, 2000).map((r) => toPredictRow(spec, r));
    // Ordinary traffic, with feedback for the first 40 rows (the true classes of the data).
    const normal = await api('POST', '/predict', { rows: rows.slice(0, 1000) });
    assert.equal(normal.status, 200, JSON.stringify(normal.body));
    const requestId = normal.body.request_id as string;
    const truth = (await loadDatasetRows(spec, covertypePath)).slice(0, 40).map((r) => Number(r[spec.columns.findIndex((c) => c.name === spec.target)]));
    let feedback = await api('POST', '/feedback', { feedback: truth.map((actual, row) => ({ request_id: requestId, row, actual })) });
    for (let i = 0; feedback.status === 404 && i < 40; i++) {
      // Not flushed to the log yet: feedback for an unknown request is refused, so try again.
      await new Promise((r) => setTimeout(r, 250));
      feedback = await api('POST', '/feedback', { feedback: truth.map((actual, row) => ({ request_id: requestId, row, actual })) });
    }
    assert.equal(feedback.status, 200, JSON.stringify(feedback.body));
    const first = await checkUntil(1000);
    assert.equal(first.feedbackRows, 40);
    assert.equal(typeof first.liveValue, 'number');
    assert.equal(first.drifted, false, JSON.stringify(first.features));

    // Then traffic far from the training data: the next check crosses the drift threshold and starts a run.
    const before = ((await api('GET', '/executions')).body.executions as unknown[]).length;
    const shifted = rows.slice(1000, 2000).map((r) => ({ ...r, Elevation: 3850, Hillshade_Noon: 120 }));
    assert.equal((await api('POST', '/predict', { rows: shifted })).status, 200);
    const second = await checkUntil(2000);
    assert.equal(second.drifted, true, JSON.stringify(second.features));
    const fired = second.fired as { trigger: string; actions: { action: string; ok: boolean; detail: string }[] }[];
    assert.deepEqual(
      fired.map((f) => f.trigger),
      ['drift'],
    );
    assert.ok(
      fired[0].actions.some((a) => a.action === 'retrain' && a.ok),
      JSON.stringify(fired),
    );
    const after = ((await api('GET', '/executions')).body.executions as unknown[]).length;
    assert.equal(after, before + 1, 'the crossing started one pipeline run');
    const third = await api('POST', '/monitoring/covertype/run');
    assert.deepEqual(third.body.fired, [], 'no second firing while still crossed');

    await page.goto(`${stack.baseUrl}/#/monitoring`);
    await page.locator('#chart-drift').waitFor();
    // In the page: what Chart.js holds for each canvas (labels, dataset names, non-empty points) and its drawn height.
    const charts = (await page.evaluate(`['chart-drift', 'chart-mix', 'chart-metric', 'chart-agreement'].map((id) => {
      const canvas = document.getElementById(id);
      const c = canvas ? window.Chart.getChart(canvas) : undefined;
      return { id, labels: c ? c.data.labels.length : -1, datasets: c ? c.data.datasets.map((d) => d.label) : [],
        points: c && c.data.datasets[0] ? c.data.datasets[0].data.filter((v) => v !== null).length : 0, height: canvas ? canvas.clientHeight : 0 };
    })`)) as { id: string; labels: number; datasets: string[]; points: number; height: number }[];
    const byId = Object.fromEntries(charts.map((c) => [c.id, c]));
    assert.ok(byId['chart-drift'].datasets.includes('Elevation') && byId['chart-drift'].labels >= 3, JSON.stringify(byId['chart-drift']));
    assert.ok(byId['chart-mix'].points > 0, JSON.stringify(byId['chart-mix']));
    assert.ok(byId['chart-metric'].points >= 3, JSON.stringify(byId['chart-metric']));
    assert.equal(byId['chart-agreement'].labels, byId['chart-drift'].labels);
    assert.ok(byId['chart-agreement'].points >= 3, JSON.stringify(byId['chart-agreement']));
    assert.equal(second.challengerRows, 2000, 'every logged row was shadow-scored');
    for (const c of charts) assert.ok(c.height > 100, `${c.id} is drawn`);
    assert.match(await page.locator('#monitor-features').innerText(), /Elevation\s+[\d.]+\s+drifted/);
    assert.match(await page.locator('#monitor-fired').innerText(), /drift: live drift.*\n.*retrain: started execution/);
    assert.equal(await page.locator('nav a.active').innerText(), 'Monitoring');

    // "Check now" from the page adds a check.
    await page.locator('#monitor-run').click();
    await page.waitForFunction(`(window.Chart.getChart(document.getElementById('chart-drift'))?.data.labels.length ?? 0) > ${byId['chart-drift'].labels}`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'monitoring.png'), fullPage: true });
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: path.join(DOCS, DOCS === ARTIFACTS ? 'monitoring-viewport.png' : 'monitoring.png'), fullPage: false });
  });

  test('what the log still buffers is written out when the stack stops', async () => {
    const pool = stack.pool as Pool;
    const small = await api('POST', '/predict', {
      rows: [covertypeSampleRow],
    });
    assert.equal(small.status, 200);
    const id = parseRequestId(String(small.body.request_id));
    assert.ok(id);
    // The log object holding the request, by its writer and number (what feedback looks it up by).
    const count = async (db: Pool) =>
      Number(
        (
          (await db.query('SELECT COUNT(*) AS n FROM prediction_log_flushes WHERE writer_id = ? AND seq_first <= ? AND seq_last >= ?', [
            id.writerId,
            id.seq,
            id.seq,
          ])) as unknown as [{ n: number }[]]
        )[0][0].n,
      );
    assert.equal(await count(pool), 0, 'below both thresholds: still buffered');
    await stack.stop();
    const fresh = createPool(mysql);
    try {
      assert.equal(await count(fresh), 1);
    } finally {
      await fresh.end();
    }
  });
});
