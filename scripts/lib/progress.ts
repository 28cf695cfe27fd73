import type { LoggedEvent } from '../../src/executions/views.ts';

/** The validation metrics a Train line shows (and their cross-validation means). */
const HEADLINE = /^(accuracy|balanced_accuracy|macro_f1|auroc_ovr|average_precision|threshold|rmse|r2)(_cv_mean)?$/;

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
      const driftText =
        !drift || drift.baselineVersion === null || drift.baselineVersion === undefined
          ? ''
          : `; drift vs v${drift.baselineVersion}: max PSI ${fmt(drift.maxPsi)}${drift.drifted ? ` (${(drift.flagged ?? []).join(', ')})` : ', none'}`;
      return `dataset version ${fmt(d.datasetVersion)}${d.created === false ? ' (cached: same content as before)' : ''}: ${fmt(c.train)} train / ${fmt(c.validation)} validation / ${fmt(c.test)} test, ${fmt(c.rejected)} rejected${driftText}`;
    }
    case 'Train': {
      // Inside the Trials Map the state's output is the trial itself.
      const t = (o.train ?? o) as Record<string, unknown>;
      const m = (t.metrics ?? {}) as Record<string, unknown>;
      // The headline numbers only (per-class figures and the other averages are in the run).
      const shown = Object.entries(m).filter(([k, v]) => typeof v === 'number' && HEADLINE.test(k));
      const cached = t.cached === true ? ` cached (artifact of run ${String(t.cachedFromRunId)})` : '';
      return `${String(t.family ?? 'forest')} run ${String(t.runId)}${cached}: validation ${shown.map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}`;
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
const label = (event: LoggedEvent): string => `${event.stateName ?? ''}${event.mapIndex !== null ? `[${event.mapIndex}]` : ''}`;

const stateOf = (event: LoggedEvent): { type?: unknown; output?: unknown } => (event.payload.state ?? {}) as { type?: unknown; output?: unknown };

/**
 * Prints one line per interesting execution event (the events StepFunctionsExecutions.follow reads
 * off GetExecutionHistory): state, elapsed time, key outputs, retries and errors.
 */
export function progressPrinter(print: (line: string) => void): (event: LoggedEvent) => void {
  const entered = new Map<string, number>();
  const types = new Map<string, string>();
  /** States left through a Catch: their output is the error's, not a result to show. */
  const caught = new Set<string>();
  let start: number | null = null;
  return (event) => {
    const at = Date.parse(event.at);
    start ??= at;
    const t = `${((at - start) / 1000).toFixed(1).padStart(6)}s`;
    const cause = (c: unknown) => (typeof c === 'string' ? c : JSON.stringify(c)).slice(0, 300);
    switch (event.type) {
      case 'ExecutionStarted':
        print(`${t}  execution started`);
        break;
      case 'ExecutionRedriven':
        print(`${t}  execution redriven`);
        break;
      case 'StateEntered': {
        const type = String(stateOf(event).type ?? '');
        entered.set(label(event), at);
        types.set(label(event), type);
        caught.delete(label(event));
        if (shown.has(type)) print(`${t}  ▶ ${label(event)}`);
        break;
      }
      case 'StateExited': {
        const type = types.get(label(event)) ?? String(stateOf(event).type ?? '');
        if (!shown.has(type)) break;
        const took = ((at - (entered.get(label(event)) ?? at)) / 1000).toFixed(1);
        if (caught.has(label(event))) {
          print(`${t}  ✗ ${label(event)} (${took}s)  failed; its Catch goes on`);
          break;
        }
        const detail = keyOutputs(event.stateName ?? '', stateOf(event).output);
        print(`${t}  ✓ ${label(event)} (${took}s)${detail ? `  ${detail}` : ''}`);
        break;
      }
      case 'StateRetried':
        print(`${t}  ↻ ${label(event)} retry`);
        break;
      case 'StateFailed':
        print(`${t}  ✗ ${label(event)}: ${String(event.payload.Error)}: ${cause(event.payload.Cause)}`);
        break;
      case 'StateCaught':
        caught.add(label(event));
        print(`${t}  → ${label(event)} error caught, going on`);
        break;
      case 'ExecutionSucceeded':
        print(`${t}  execution succeeded`);
        break;
      case 'ExecutionFailed':
      case 'ExecutionAborted':
      case 'ExecutionTimedOut':
        print(`${t}  execution ${event.type.slice('Execution'.length).toUpperCase()}: ${String(event.payload.Error)}`);
        break;
      default:
        break;
    }
  };
}
