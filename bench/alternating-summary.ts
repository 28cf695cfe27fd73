// The goals of bench:predict-log judged over repeated alternating runs (bench/prediction-log.ts): one run's
// p99 at 50 clients moves by several ms with no difference at all, so a goal is read off the median of the
// runs, with the control's figures (a second log-off stack, the same runs) beside it for the noise.
import { medianAndRange } from './io.ts';

/** Issue 16's goals for the log's cost to POST /predict. */
export const GOALS = { throughput_overhead_pct: 5, p99_overhead_ms: 2 } as const;

export type JudgedFigure =
  | 'throughput_overhead_pct'
  | 'control_throughput_overhead_pct'
  | 'p99_overhead_ms'
  | 'control_p99_overhead_ms'
  | 'gateway_cpu_us_on_minus_off';
/** One alternating run's figures (a row of bench/prediction-log.ts's `alternating` results holds them). */
export type AlternatingRun = { concurrency: number } & Record<JudgedFigure, number>;

/**
 * The alternating runs by concurrency: each figure's median and min–max over the repeats, and whether the
 * medians meet the GOALS. The control's figures beside them are what the same runs read with no difference.
 */
export function summarizeAlternating(runs: readonly AlternatingRun[]) {
  const concurrencies = [...new Set(runs.map((r) => r.concurrency))];
  return concurrencies.map((concurrency) => {
    const mine = runs.filter((r) => r.concurrency === concurrency);
    const figure = (k: JudgedFigure) =>
      medianAndRange(
        mine.map((r) => r[k]),
        3,
      );
    const summary = {
      concurrency,
      runs: mine.length,
      throughput_overhead_pct: figure('throughput_overhead_pct'),
      control_throughput_overhead_pct: figure('control_throughput_overhead_pct'),
      p99_overhead_ms: figure('p99_overhead_ms'),
      control_p99_overhead_ms: figure('control_p99_overhead_ms'),
      gateway_cpu_us_on_minus_off: figure('gateway_cpu_us_on_minus_off'),
    };
    return {
      ...summary,
      meets: {
        throughput: summary.throughput_overhead_pct.median < GOALS.throughput_overhead_pct,
        p99: summary.p99_overhead_ms.median < GOALS.p99_overhead_ms,
      },
    };
  });
}
