// CPU profiles of whole processes with Linux perf (software clock samples, so it works where a VM has no
// hardware counters), for bench/prediction-log.ts --perf: which functions each gateway's threads spent
// their CPU in while the alternating clients loaded them, JavaScript included (the gateways run with
// --perf-basic-prof-only-functions, which writes perf-<pid>.map into PERF_MAP_DIR for perf to name JIT
// code by).
//
// What this adds to the other figures: the log's own code measured where it runs (between requests,
// its code and data cold), not in a loop; and per symbol, so that work only the log-on side does is
// told apart from the same work done slower.
import { execFileSync, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { aptInstall, runToEnd } from './io.ts';

/** Samples per second of CPU time each thread is sampled at. */
export const PERF_HZ = 1000;

/**
 * Where perf looks for a process's JIT map (perf-<pid>.map): a directory perf itself fixes, not one of
 * this machine's; the processes are told to write there rather than trusted to V8's default.
 */
const PERF_MAP_DIR = '/tmp';

/** The Node.js options that make a process write the map perf names JIT code by. */
export const PERF_NODE_OPTIONS = ['--perf-basic-prof-only-functions', `--perf-basic-prof-path=${PERF_MAP_DIR}`];

const perfWorks = () => {
  try {
    execFileSync('perf', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** Installs Linux perf from Debian when it is missing; a clear error when that cannot be done. */
export function requirePerf(): void {
  if (perfWorks() || (aptInstall(['linux-perf']) && perfWorks())) return;
  throw new Error('--perf needs Linux perf on the PATH, and installing it failed (Debian: apt-get install linux-perf, as root)');
}

/** Starts sampling every thread of `pids` into `file`; `stop` ends it and waits for the file. */
export function recordProcesses(pids: number[], file: string): { stop(): Promise<void> } {
  const child = spawn('perf', ['record', '-q', '-e', 'cpu-clock', '-F', String(PERF_HZ), '-p', pids.join(','), '-o', file], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    async stop() {
      child.kill('SIGINT');
      await exited;
    },
  };
}

/** One process's samples: per symbol (all its threads), and its main thread's and other threads' totals. */
export interface ProcessProfile {
  symbols: Map<string, number>;
  main: number;
  others: number;
}

/** The samples of each of `pids` in a perf.data file (`parseProfiles`). */
export async function readProfiles(file: string, pids: number[]): Promise<Map<number, ProcessProfile>> {
  const { status, stdout, stderr } = await runToEnd('perf', ['script', '-i', file, '-F', 'pid,tid,ip,sym']);
  if (status !== 0) throw new Error(`perf script failed (${status}): ${stderr}`);
  return parseProfiles(stdout, pids);
}

/**
 * The samples of each of `pids` in `perf script -F pid,tid,ip,sym` output. A JavaScript function's tiers
 * (V8 marks optimized code `*`, baseline `^`, interpreted `~`) count as one symbol.
 */
export function parseProfiles(script: string, pids: number[]): Map<number, ProcessProfile> {
  const profiles = new Map(pids.map((pid) => [pid, { symbols: new Map<string, number>(), main: 0, others: 0 }]));
  for (const line of script.split('\n')) {
    const m = /^\s*(\d+)\/(\d+)\s+[0-9a-f]+\s+(.*)$/.exec(line);
    const profile = m ? profiles.get(Number(m[1])) : undefined;
    if (!m || !profile) continue;
    if (m[1] === m[2]) profile.main++;
    else profile.others++;
    const symbol = m[3].trim().replace(/^JS:[*^~]/, 'JS:');
    profile.symbols.set(symbol, (profile.symbols.get(symbol) ?? 0) + 1);
  }
  return profiles;
}

/** The µs of CPU that `samples` stand for, per request. */
const usPerRequest = (samples: number, requests: number) => Math.round(((samples * 1e6) / PERF_HZ / Math.max(1, requests)) * 10) / 10;

/**
 * The log-on side against the log-off one, per answered request: every thread's CPU, and the CPU in
 * symbols only one side ran (the log's own work; for the control, which logs nothing either, what chance
 * alone puts there: this measure's floor).
 */
type Side = 'on' | 'off' | 'control';

export function compareProfiles(profiles: Record<Side, ProcessProfile>, requests: Record<Side, number>) {
  const sides = Object.keys(profiles) as Side[];
  const total = (p: ProcessProfile) => p.main + p.others;
  const onlyIn = (side: Side) =>
    [...profiles[side].symbols].filter(([symbol]) => sides.every((other) => other === side || !profiles[other].symbols.has(symbol)));
  const only = (side: Side) => onlyIn(side).reduce((n, [, samples]) => n + samples, 0);
  const perRequest = (side: Side, samples: number) => usPerRequest(samples, requests[side]);
  return {
    hz: PERF_HZ,
    cpu_us_per_request: Object.fromEntries(
      sides.map((side) => [
        side,
        { all: perRequest(side, total(profiles[side])), main: perRequest(side, profiles[side].main), others: perRequest(side, profiles[side].others) },
      ]),
    ) as Record<Side, { all: number; main: number; others: number }>,
    /** In symbols no other side ran. */
    only_us_per_request: Object.fromEntries(sides.map((side) => [side, perRequest(side, only(side))])) as Record<Side, number>,
    /** The log-on side's busiest such symbols. */
    only_on_top: onlyIn('on')
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([symbol, samples]) => ({ symbol, us_per_request: perRequest('on', samples) })),
  };
}

/** Removes the JIT maps the processes wrote. */
export async function removePerfMaps(pids: number[]): Promise<void> {
  await Promise.all(pids.map((pid) => rm(path.join(PERF_MAP_DIR, `perf-${pid}.map`), { force: true })));
}
