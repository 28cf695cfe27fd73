import type { ExecutionEvent } from './local-stack.ts';

/** The few numbers worth a line for each state's output. */
function keyOutputs(stateName: string, output: unknown): string {
  const o = (output ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const fmt = (n: unknown) => (typeof n === 'number' ? (Number.isInteger(n) ? String(n) : n.toFixed(4)) : String(n));
  switch (stateName) {
    case 'FetchBatch': {
      const f = o.fetch ?? {};
      return `batch ${fmt(f.batchNumber)}: ${fmt(f.rowsReceived)} rows received, ${fmt(f.rowsNew)} new, ${fmt(f.rowsRejected)} rejected; ${fmt(f.rowsStored)} stored`;
    }
    case 'Preprocess': {
      const d = o.dataset ?? {};
      const c = (d.counts ?? {}) as Record<string, unknown>;
      return `dataset version ${fmt(d.datasetVersion)}${d.created === false ? ' (unchanged)' : ''}: ${fmt(c.train)} train / ${fmt(c.validation)} validation / ${fmt(c.test)} test, ${fmt(c.rejected)} rejected`;
    }
    case 'Train': {
      const t = o.train ?? {};
      const m = (t.metrics ?? {}) as Record<string, unknown>;
      return `run ${String(t.runId)}: validation ${Object.entries(m).filter(([k]) => k !== 'rows').map(([k, v]) => `${k} ${fmt(v)}`).join(', ')} (${fmt(t.trainSeconds)} s)`;
    }
    case 'Promote': {
      const p = o.promotion ?? {};
      return `${String(p.decision)} v${fmt(p.candidateVersion)}: ${String(p.reason)}`;
    }
    default:
      return '';
  }
}

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
        if (event.state) entered.set(event.state.name, event.timestamp);
        if (event.state?.type === 'Task' || event.state?.type === 'Wait') print(`${t()}  ▶ ${event.state.name}`);
        break;
      case 'StateExited': {
        const s = event.state;
        if (!s || (s.type !== 'Task' && s.type !== 'Wait')) break;
        const took = ((event.timestamp - (entered.get(s.name) ?? event.timestamp)) / 1000).toFixed(1);
        const detail = keyOutputs(s.name, s.output);
        print(`${t()}  ✓ ${s.name} (${took}s)${detail ? `  ${detail}` : ''}`);
        break;
      }
      case 'StateRetried':
        print(`${t()}  ↻ ${event.state?.name} retry: ${JSON.stringify(event.retry ?? {})}`);
        break;
      case 'StateFailed':
        print(`${t()}  ✗ ${event.state?.name}: ${String(event.Error)}: ${typeof event.Cause === 'string' ? event.Cause : JSON.stringify(event.Cause).slice(0, 300)}`);
        break;
      case 'StateCaught':
        print(`${t()}  → ${event.state?.name} error caught, going on`);
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
