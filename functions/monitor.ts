import middy from '@middy/core';
import { z } from 'zod';
import { NotFound } from '../src/errors.ts';
import { allAlerts, snsAlert, webhookAlert } from '../src/monitoring/alerts.ts';
import { LogObjectCache, recordFeedback } from '../src/monitoring/feedback.ts';
import { listMonitorResults, monitorAll, monitorModel, triggerStates, type MonitorActions, type MonitorOptions } from '../src/monitoring/monitor.ts';
import { getAliasVersion } from '../src/registry/registry.ts';
import { modelName } from '../src/schemas.ts';
import { getSource } from './executions.ts';
import { getConfig, getPool, getStore, releaseWhenInvokedLocally, withSecrets } from './lib/context.ts';
import { logger, withLogger } from './lib/log.ts';
import { flushPredictionLog } from './lib/prediction-log.ts';
import { httpErrors, json, parseJsonBody, parseQuery, pathParam, type HttpEvent, type HttpResponse } from './lib/middleware.ts';
import { router } from './lib/router.ts';

/**
 * Watching the champion in production (src/monitoring/): POST /feedback joins true outcomes to
 * logged predictions; GET /monitoring/{name} is the monitor's history for the console; POST
 * /monitoring/{name}/run checks now. The same function runs every model's check on its schedule
 * (an EventBridge rule on AWS; `npm start -- --monitor-every N` invokes it locally).
 */

interface LambdaContext {
  invokedFunctionArn?: string;
}

const FeedbackItem = z.strictObject({
  request_id: z.string().uuid('request_id must be the request_id a /predict answer carried'),
  row: z.number().int().min(0).max(1_000_000).default(0),
  actual: z.union([z.number(), z.string().min(1).max(64)], 'actual must be the true class or value (a number or a string)'),
});
/** One `{request_id, actual}` or a batch `{feedback: [...]}`. */
const FeedbackBody = z.preprocess(
  (b) => (b !== null && typeof b === 'object' && !Array.isArray(b) && 'feedback' in b ? b : { feedback: [b] }),
  z.strictObject({ feedback: z.array(FeedbackItem).min(1, 'send at least one item').max(1000, 'at most 1000 items per request') }),
);
const Name = modelName();
const HistoryQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(200) });
/**
 * A scheduled (EventBridge) or direct invocation: every model, or the one named; `flush` instead
 * writes out the prediction log this process buffers (serverless-offline runs every function in one
 * process; the embedded stack asks for it before it stops).
 */
const CheckEvent = z.object({ model: Name.optional(), flush: z.literal(true).optional() });

const options = (): MonitorOptions => {
  const c = getConfig();
  return {
    windowHours: c.MONITOR_WINDOW_HOURS,
    psiThreshold: c.DRIFT_PSI_THRESHOLD,
    minRows: c.MONITOR_MIN_ROWS,
    minFeedback: c.MONITOR_MIN_FEEDBACK,
    ...(c.MONITOR_MIN_ACCURACY !== undefined ? { minAccuracy: c.MONITOR_MIN_ACCURACY } : {}),
    ...(c.MONITOR_MAX_RMSE !== undefined ? { maxRmse: c.MONITOR_MAX_RMSE } : {}),
  };
};

/** Retraining starts the way POST /executions does (through the Step Functions API). */
function actions(context: LambdaContext | undefined): MonitorActions {
  const c = getConfig();
  // The executions function derives its state machine from its own ARN; the monitor's sits beside it.
  const arn = context?.invokedFunctionArn?.replace(/-monitor(?=$|:)/, '-executions');
  const alert = allAlerts([
    ...(c.MONITOR_WEBHOOK_URL ? [webhookAlert(c.MONITOR_WEBHOOK_URL)] : []),
    ...(c.MONITOR_SNS_TOPIC_ARN ? [snsAlert(c.MONITOR_SNS_TOPIC_ARN, c.AWS_REGION)] : []),
  ]);
  return {
    ...(c.MONITOR_RETRAIN
      ? { startRun: async (input: Record<string, unknown>) => (await getSource(arn ? { invokedFunctionArn: arn } : undefined)).start(input) }
      : {}),
    ...(alert ? { alert } : {}),
  };
}

const deps = () => ({ pool: getPool(), store: getStore() });
/** Log objects feedback read lately, kept by the container. */
const logObjects = new LogObjectCache();

const http = router<'monitor', LambdaContext | undefined>('monitor', {
  'POST /feedback': async (event) => {
    const body = parseJsonBody(FeedbackBody, event, { maxBytes: 500_000, emptyHint: 'send JSON like {"request_id": "…", "actual": 2}', what: 'feedback' });
    const joined = await recordFeedback(getPool(), getStore(), body.feedback, logObjects);
    return json(200, { stored: joined.length, feedback: joined });
  },
  'GET /monitoring/{name}': async (event) => {
    const name = pathParam(Name, event, 'name');
    const q = parseQuery(HistoryQuery, event);
    const pool = getPool();
    const champion = await getAliasVersion(pool, name, 'champion');
    if (champion === null) throw new NotFound(`Model ${name} has no champion: nothing is monitored yet`);
    return json(200, {
      model: name,
      champion,
      challenger: await getAliasVersion(pool, name, 'challenger'),
      settings: options(),
      triggers: await triggerStates(pool, name),
      results: await listMonitorResults(pool, name, q.limit),
    });
  },
  'POST /monitoring/{name}/run': async (event, context) => {
    const name = pathParam(Name, event, 'name');
    const result = await monitorModel(deps(), name, options(), actions(context));
    if (!result) throw new NotFound(`Model ${name} has no champion: nothing to monitor`);
    return json(200, result);
  },
});

const httpHandler = middy<HttpEvent, HttpResponse>(http).use(withLogger()).use(withSecrets()).use(releaseWhenInvokedLocally()).use(httpErrors());

async function check(event: unknown, context?: LambdaContext) {
  const parsed = CheckEvent.safeParse(event ?? {});
  if (parsed.success && parsed.data.flush) return { flushed: await flushPredictionLog() };
  const model = parsed.success ? parsed.data.model : undefined;
  const results = model
    ? [await monitorModel(deps(), model, options(), actions(context))].filter((r) => r !== null)
    : await monitorAll(deps(), options(), actions(context));
  const summary = results.map((r) => ({
    model: r.model,
    champion: r.championVersion,
    rows: r.rowsLogged,
    maxPsi: r.maxPsi,
    drifted: r.drifted,
    [r.liveMetric]: r.liveValue,
    fired: r.fired,
  }));
  logger.info('checked', { results: summary });
  return { checked: results.length, results: summary };
}
const checkHandler = middy(check).use(withLogger()).use(withSecrets()).use(releaseWhenInvokedLocally());

const isHttp = (event: unknown): event is HttpEvent =>
  event !== null && typeof event === 'object' && ('routeKey' in event || 'rawPath' in event || 'requestContext' in event);

/** HTTP routes, or a check of the models (schedule, direct invoke). */
export const handler = (event: unknown, context: LambdaContext) =>
  isHttp(event) ? httpHandler(event, context as never) : checkHandler(event, context as never);
