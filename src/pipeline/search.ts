import { z } from 'zod';
import type { Metrics, MetricName } from '../model/evaluate.ts';
import { higherIsBetter } from '../model/evaluate.ts';
import { upsertRun, type RunRecord } from '../registry/registry.ts';
import type { Pool } from '../storage/mysql.ts';
import { FAMILIES, familyParamNames, TrainParamsSchema, type Family, type TrainParams } from '../model/families.ts';
import { deterministicUuid } from '../registry/ids.ts';
import { describeIssues, fieldIssues, parseInput } from '../schemas.ts';

/** One hyper-parameter's search domain: a list of choices, or a numeric range (log-uniform if asked). */
const Choice = z.strictObject({ values: z.array(z.union([z.number(), z.string(), z.null()])).min(1) });
const Range = z
  .strictObject({ min: z.number(), max: z.number(), log: z.boolean().default(false), integer: z.boolean().default(true) })
  .refine((r) => r.min <= r.max, 'min must not exceed max')
  .refine((r) => !r.log || r.min > 0, 'a log range needs min > 0');
const Domain = z.union([Choice, Range]);
type DomainValue = z.infer<typeof Domain>;

const knownParam = (name: string) => name === 'family' || FAMILIES.some((f) => familyParamNames[f].has(name));
/** Parameter name → domain; every name must be a parameter of some family (or `family` itself). */
const Space = z.record(z.string(), Domain).superRefine((space, ctx) => {
  for (const name of Object.keys(space)) {
    if (!knownParam(name)) ctx.addIssue({ code: 'custom', path: [name], message: `"${name}" is not a parameter of any model family (${FAMILIES.join(', ')})` });
  }
  const family = space.family;
  if (family !== undefined && (!('values' in family) || family.values.some((v) => !FAMILIES.includes(v as Family)))) {
    ctx.addIssue({ code: 'custom', path: ['family'], message: `must be {"values": [...]} of ${FAMILIES.join(', ')}` });
  }
});

/** Each family's own space, drawn from when the trial's family is that one and the search names none. */
export const DEFAULT_SPACES: Record<Family, Record<string, DomainValue>> = {
  forest: {
    nEstimators: { values: [30, 60, 100] },
    maxDepth: { values: [null, 20, 30] },
    minSamplesLeaf: { min: 1, max: 4, log: false, integer: true },
    maxFeatures: { values: ['sqrt', 'log2', 0.3] },
  },
  boosting: {
    nEstimators: { values: [100, 200, 300] },
    learningRate: { min: 0.03, max: 0.3, log: true, integer: false },
    maxLeaves: { values: [15, 31, 63] },
    minSamplesLeaf: { values: [10, 20, 50] },
    l2: { values: [0, 1, 10] },
  },
  linear: {
    l2: { min: 1e-5, max: 1e-1, log: true, integer: false },
  },
};

export const SearchSchema = z.strictObject({
  trials: z.number().int().min(1).max(200).default(4),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(1),
  /** How many trials train at once (Map MaxConcurrency). */
  maxConcurrency: z.number().int().min(1).max(40).default(2),
  /** k-fold cross-validation of every trial on the train split (stratified, or grouped by the spec's group column). */
  cv: z.number().int().min(2).max(10).optional(),
  /**
   * Parameters to draw; anything not listed comes from `base` or the train defaults. `family`
   * (`{"values": ["forest", "boosting", "linear"]}`) draws the model family first; the other names
   * are the forest's space (and apply to any family that has them when `spaces` names none).
   */
  space: Space.default(DEFAULT_SPACES.forest),
  /** Per family, its own space (default DEFAULT_SPACES for boosting and linear). */
  spaces: z.partialRecord(z.enum(FAMILIES), Space).default({}),
  /** Fixed parameters every trial shares (e.g. a seed). */
  base: z.record(z.string(), z.unknown()).default({}),
});
export type SearchInput = z.input<typeof SearchSchema>;
export type Search = z.infer<typeof SearchSchema>;

/**
 * The search an execution asked for: `train` holds parameters fixed for every trial, `search` the
 * space to draw the others from. Without an explicit space, the default one minus the fixed
 * parameters is searched. Invalid input fails as InvalidInput naming the field.
 */
export function resolveSearch(train: Record<string, unknown>, search: Record<string, unknown>): Search {
  const resolved = parseInput(SearchSchema, search, 'search', { prefix: ['search'] });
  const base = { ...train, ...resolved.base };
  const unfixed = (space: Record<string, DomainValue>) => Object.fromEntries(Object.entries(space).filter(([name]) => !(name in base)));
  const space = search.space === undefined ? unfixed(resolved.space) : resolved.space;
  return { ...resolved, base, space };
}

/** The space a trial of `family` draws from. */
function familySpace(search: Search, family: Family): Record<string, DomainValue> {
  const own = search.spaces[family];
  if (own !== undefined) return own;
  const { family: _f, ...rest } = search.space;
  if (family === 'forest') return rest;
  // The default space of the family, less what the execution fixed.
  return Object.fromEntries(Object.entries(DEFAULT_SPACES[family]).filter(([name]) => !(name in search.base)));
}

/** mulberry32: a small seeded PRNG, so a search is the same draw every time. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function draw(domain: z.infer<typeof Domain>, random: () => number): unknown {
  if ('values' in domain) return domain.values[Math.floor(random() * domain.values.length)];
  const u = random();
  const x = domain.log ? Math.exp(Math.log(domain.min) + u * (Math.log(domain.max) - Math.log(domain.min))) : domain.min + u * (domain.max - domain.min);
  return domain.integer ? Math.min(domain.max, Math.round(x)) : x;
}

/**
 * Random search: `trials` parameter sets drawn from the space, each validated as train params. With
 * a `family` domain, each trial draws its family first, then the parameters from that family's space;
 * the fixed parameters (`base`) that belong to another family only are left out.
 */
export function planTrials(search: Search): TrainParams[] {
  const random = prng(search.seed);
  return Array.from({ length: search.trials }, () => {
    const familyDomain = search.space.family;
    const family = (familyDomain !== undefined ? draw(familyDomain, random) : (search.base.family ?? 'forest')) as Family;
    const own = familyParamNames[family] ?? familyParamNames.forest;
    const drawn: Record<string, unknown> = Object.fromEntries(Object.entries(search.base).filter(([name]) => own.has(name) || !knownParam(name)));
    if (familyDomain !== undefined || search.base.family !== undefined) drawn.family = family;
    if (search.cv !== undefined) drawn.cv = search.cv;
    const space = familySpace(search, family);
    for (const name of Object.keys(space).sort()) {
      const domain = space[name];
      if (domain && (own.has(name) || !knownParam(name))) drawn[name] = draw(domain, random);
    }
    const parsed = TrainParamsSchema.safeParse(drawn);
    if (!parsed.success) {
      throw new Error(`The search space draws invalid parameters ${JSON.stringify(drawn)}: ${describeIssues(fieldIssues(parsed.error))}`);
    }
    return parsed.data;
  });
}

/** The search as one experiment: a parent run the trials hang under. */
export async function startSearch(
  pool: Pool,
  executionId: string,
  dataset: string,
  datasetVersion: number,
  search: Search,
): Promise<{ parentRunId: string; trials: { trialIndex: number; params: TrainParams }[] }> {
  const parentRunId = deterministicUuid('search', executionId);
  const trials = planTrials(search).map((params, trialIndex) => ({ trialIndex, params }));
  await upsertRun(pool, {
    runId: parentRunId,
    parentRunId: null,
    executionId,
    dataset,
    datasetVersion,
    params: {
      search: {
        trials: search.trials,
        seed: search.seed,
        space: search.space,
        ...(Object.keys(search.spaces).length > 0 ? { spaces: search.spaces } : {}),
        ...(search.cv !== undefined ? { cv: search.cv } : {}),
        base: search.base,
      },
    },
    metrics: null,
    status: 'running',
    artifactKey: null,
    artifactSha256: null,
    trainSeconds: null,
  });
  return { parentRunId, trials };
}

export interface TrialOutcome {
  runId: string;
  metrics: Metrics;
}

/** A trial's score for an objective: its cross-validation mean when the search ran folds, else its validation score. */
export function objectiveScore(metrics: Metrics, objective: MetricName): number | undefined {
  const cv = (metrics as Record<string, unknown>)[`${objective}_cv_mean`];
  return typeof cv === 'number' ? cv : metrics[objective];
}

/** The best trial for each objective, in each metric's own direction. */
export function bestByObjective(trials: readonly TrialOutcome[], objectives: readonly MetricName[]): Partial<Record<MetricName, TrialOutcome>> {
  const best: Partial<Record<MetricName, TrialOutcome>> = {};
  for (const objective of objectives) {
    for (const trial of trials) {
      const score = objectiveScore(trial.metrics, objective);
      if (score === undefined || !Number.isFinite(score)) continue;
      const current = best[objective] === undefined ? undefined : objectiveScore(best[objective].metrics, objective);
      // Ties keep the earlier trial, so the choice does not depend on Map completion order.
      if (current === undefined || (higherIsBetter[objective] ? score > current : score < current)) best[objective] = trial;
    }
  }
  return best;
}

/** Closes the parent run with the best trial per objective. */
export async function finishSearch(pool: Pool, parent: RunRecord, best: Partial<Record<MetricName, TrialOutcome>>, trials: number): Promise<void> {
  const metrics: Record<string, number | null> = { trials };
  for (const [objective, trial] of Object.entries(best))
    metrics[`best_${objective}`] = trial ? (objectiveScore(trial.metrics, objective as MetricName) ?? null) : null;
  await upsertRun(pool, {
    ...parent,
    params: { ...parent.params, best: Object.fromEntries(Object.entries(best).map(([k, t]) => [k, t?.runId])) },
    metrics,
    status: 'finished',
    trainSeconds: null,
  });
}
