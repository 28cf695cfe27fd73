// bench:predict-log judges its goals by the median of repeated alternating runs (bench/alternating-summary.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarizeAlternating } from '../../bench/alternating-summary.ts';

const run = (concurrency: number, throughput: number, p99: number, controlP99 = 0) => ({
  concurrency,
  throughput_overhead_pct: throughput,
  control_throughput_overhead_pct: -throughput,
  p99_overhead_ms: p99,
  control_p99_overhead_ms: controlP99,
  gateway_cpu_us_on_minus_off: 10 * throughput,
});

describe('bench:predict-log, the alternating runs summarized', () => {
  it('judges each concurrency by the median of its runs, not by one run', () => {
    // The runs come with the concurrencies in turn, as the bench makes them.
    const summary = summarizeAlternating([run(1, 1, 0.1), run(50, 3, 5.1, -5.3), run(1, 2, 0.3), run(50, 4, 1.5, 4), run(1, 9, 0.2), run(50, 6, 0.5, -1)]);
    assert.deepEqual(
      summary.map((s) => [s.concurrency, s.runs, s.throughput_overhead_pct, s.p99_overhead_ms, s.control_p99_overhead_ms, s.meets]),
      [
        [1, 3, { median: 2, range: '1–9' }, { median: 0.2, range: '0.1–0.3' }, { median: 0, range: '0–0' }, { throughput: true, p99: true }],
        [50, 3, { median: 4, range: '3–6' }, { median: 1.5, range: '0.5–5.1' }, { median: -1, range: '-5.3–4' }, { throughput: true, p99: true }],
      ],
    );
    assert.deepEqual(summary[1].gateway_cpu_us_on_minus_off, { median: 40, range: '30–60' });
  });

  it('says a goal is missed when the median is not under it', () => {
    const [s] = summarizeAlternating([run(50, 5, 2.5), run(50, 4.9, 1.9), run(50, 6, 2)]);
    assert.deepEqual(s.meets, { throughput: false, p99: false });
    assert.equal(s.throughput_overhead_pct.median, 5);
    assert.equal(s.p99_overhead_ms.median, 2);
  });
});
