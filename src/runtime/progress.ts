import type { ExecutionEvent } from './local-executor.ts';

/** The few numbers worth a line for each state's output. */
function keyOutputs(stateName: string, output: unknown): string {
  const o = (output ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const fmt = (n: unknown) => (typeof n === 'number' ? (Number.isInteger(n) ? String(n) : n.toFixed(4)) : String(n));
  switch (stateName) {
    case 'FetchBatch': {
      // The data API's end of data (NoMoreBatches), caught: the loop ends here.
      const stop = o.fetchStop as { Error?: string } | undefined;
      if (stop) return `${String(stop.Error)}: the data API has served its last batch; going on with ${fmt(o.fetch?.rowsStored)} rows stored`;
      const f = o.fetch ?? {};
      return `batch ${fmt(f.batchNumber)}: ${fmt(f.rowsReceived)} rows received, ${fmt(f.rowsNew)} new, ${fmt(f.rowsRejected)} rejected; ${fmt(f.rowsStored)} stored`;
    }
    case 'Preprocess': {
      const d = o.dataset ?? {};
      const c = (d.counts ?? {}) as Record<string, unknown>;
      const drift = d.drift as { drifted?: boolean; maxPsi?: number; flagged?: string[]; baselineVersion?: number | null } | undefined;
      const driftText = !drift || drift.baselineVersion === null || drift.baselineVersion === undefined
        ? ''
        : `; drift vs v${drift.baselineVersion}: max PSI ${fmt(drift.maxPsi)}${drift.drifted ? ` (${(drift.flagged ?? []).join(', ')})` : ', none'}`;
      return `dataset version ${fmt(d.datasetVersion)}${d.created === false ? ' (unchanged)' : ''}: ${fmt(c.train)} train / ${fmt(c.validation)} validation / ${fmt(c.test)} test, ${fmt(c.rejected)} rejected${driftText}`;
    }
    case 'Train': {
      // Inside the Trials Map the state's output is the trial itself.
      const t = (o.train ?? o) as Record<string, unknown>;
      const m = (t.metrics ?? {}) as Record<string, unknown>;
      return `run ${String(t.runId)}: validation ${Object.entries(m).filter(([k]) => k !== 'rows').map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}`;
    }
    case 'PlanTrials': {
      const p = o.plan ?? {};
      const trials = (p.trials ?? []) as { params: unknown }[];
      return `${trials.length} trials under parent run ${String(p.parentRunId)}: ${trials.map((t) => JSON.stringify(t.params)).join(' ')}`.slice(0, 400);
    }
    case 'SelectBest': {
      const s = o.select ?? {};
      const c = (s.candidate ?? {}) as Record<string, unknown>;
      return `candidate ${String(c.runId)} (${String(c.metric)} ${fmt(c.score)}); ${fmt(s.failedTrials)} of ${fmt(s.trials)} trials failed`;
    }
    case 'Promote': {
      const p = o.promotion ?? {};
      return `${String(p.decision)} v${fmt(p.candidateVersion)}: ${String(p.reason)}`;
    }
    default:
      return '';
  }
}

const shown = new Set(['Task', 'Wait', 'Map']);

/** A state's name, with the Map iteration it ran in (states inside a Map run once per item). */
const label = (event: ExecutionEvent): string =>
  `${event.state?.name ?? ''}${typeof event.index === 'number' ? `[${event.index}]` : ''}`;

/** Prints one line per interesting execution event: state, elapsed time, key outputs, retries and errors. */
export function progressPrinter(print: (line: string) => void): (event: ExecutionEvent) => void {
  const entered = new Map<string, number>();
  let start = 0;
  return (event) => {
    const t = () => `${((event.timestamp - start) / 1000).toFixed(1).padStart(6)}s`;
    switch (event.type) {
      case 'ExecutionStarted':
        start = event.timestamp;
        print(`${t()}  execution started`);
        break;
      case 'StateEntered':
        if (event.state) entered.set(label(event), event.timestamp);
        if (event.state && shown.has(event.state.type)) print(`${t()}  ▶ ${label(event)}`);
        break;
      case 'StateExited': {
        const s = event.state;
        if (!s || !shown.has(s.type)) break;
        const took = ((event.timestamp - (entered.get(label(event)) ?? event.timestamp)) / 1000).toFixed(1);
        const detail = keyOutputs(s.name, s.output);
        print(`${t()}  ✓ ${label(event)} (${took}s)${detail ? `  ${detail}` : ''}`);
        break;
      }
      case 'StateRetried':
        print(`${t()}  ↻ ${label(event)} retry: ${JSON.stringify(event.retry ?? {})}`);
        break;
      case 'StateFailed':
        print(`${t()}  ✗ ${label(event)}: ${String(event.Error)}: ${typeof event.Cause === 'string' ? event.Cause : JSON.stringify(event.Cause).slice(0, 300)}`);
        break;
      case 'StateCaught':
        print(`${t()}  → ${label(event)} error caught, going on`);
        break;
      case 'ExecutionSucceeded':
        print(`${t()}  execution succeeded`);
        break;
      case 'ExecutionFailed':
        print(`${t()}  execution FAILED: ${String(event.Error)}`);
        break;
      default:
        break;
    }
  };
}
