import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SERVICE, STAGE } from '../statemachine/definition.ts';

/**
 * The embedded runtime's stand-in for the monitor's EventBridge rule (`npm start -- --monitor-every N`):
 * invokes the monitor function through serverless-offline's Lambda endpoint every `everySeconds`.
 * Returns a stop function.
 */
export function scheduleMonitor(lambdaEndpoint: string, everySeconds: number, report: (line: string) => void): () => void {
  const lambda = new LambdaClient({
    endpoint: lambdaEndpoint,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  let running = false;
  const tick = async () => {
    if (running) return; // a slow check is not stacked on itself
    running = true;
    try {
      const out = await lambda.send(new InvokeCommand({ FunctionName: `${SERVICE}-${STAGE}-monitor`, Payload: Buffer.from('{}') }));
      const text = Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8');
      if (out.FunctionError) report(`monitor failed: ${text.slice(0, 300)}`);
      else {
        const body = JSON.parse(text) as {
          results: {
            model: string;
            rows: number;
            maxPsi: number | null;
            drifted: boolean | null;
            fired: { trigger: string; actions: { detail: string }[] }[];
          }[];
        };
        for (const r of body.results) {
          const fired = r.fired.map((f) => `${f.trigger} crossed → ${f.actions.map((a) => a.detail).join('; ') || 'no action configured'}`).join('; ');
          const verdict = r.drifted === null ? ' (too few rows for a drift verdict)' : r.drifted ? ' (drifted)' : '';
          report(`monitor ${r.model}: ${r.rows} logged rows, max PSI ${r.maxPsi ?? '—'}${verdict}${fired ? `; ${fired}` : ''}`);
        }
      }
    } catch (error) {
      report(`monitor could not run: ${(error as Error).message}`);
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), everySeconds * 1000);
  return () => {
    clearInterval(timer);
    lambda.destroy();
  };
}
