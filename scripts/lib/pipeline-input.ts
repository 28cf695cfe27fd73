import { readFile } from 'node:fs/promises';
import { DEFAULT_DATASET } from '../../src/schemas.ts';

/**
 * The command-line options every runner (npm start, the CLI's run, the LocalStack run) takes to
 * build an execution input, for node:util parseArgs.
 */
export const pipelineInputOptions = {
  /** Default: covertype. */
  dataset: { type: 'string' },
  group: { type: 'string', default: '1' },
  batches: { type: 'string', default: '3' },
  interval: { type: 'string', default: '5' },
  trees: { type: 'string', default: '50' },
  trials: { type: 'string', default: '3' },
  input: { type: 'string' },
} as const;

export interface PipelineInputArgs {
  dataset?: string;
  group: string;
  batches: string;
  interval: string;
  trees: string;
  trials: string;
  input?: string;
}

/** The execution input: the --input file as is, or one built from the options. */
export async function pipelineInput(args: PipelineInputArgs): Promise<Record<string, unknown>> {
  if (args.input) return JSON.parse(await readFile(args.input, 'utf8')) as Record<string, unknown>;
  return {
    dataset: args.dataset ?? DEFAULT_DATASET,
    groupNumber: Number(args.group),
    batches: Number(args.batches),
    intervalSeconds: Number(args.interval),
    train: { nEstimators: Number(args.trees) },
    search: { trials: Number(args.trials), seed: 1, maxConcurrency: 2 },
    // The promotion metric defaults to the task's (accuracy, or rmse for regression).
    promotion: { minGain: 0 },
  };
}
