// Helpers shared by the benchmarks: raw float64 files exchanged with child processes, child processes' output,
// the predict event, and the peak RSS of the current process.
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

/** The median (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Repeated measurements' extent as reported: "min–max". */
export const spread = (xs: number[]): string => `${Math.min(...xs)}–${Math.max(...xs)}`;

/** Repeated measurements as reported: their median (rounded to `decimals`) and spread. */
export function medianAndRange(xs: number[], decimals: number): { median: number; range: string } {
  const scale = 10 ** decimals;
  return { median: Math.round(median(xs) * scale) / scale, range: spread(xs) };
}

export function writeF64(path: string, a: Float64Array): void {
  writeFileSync(path, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

export function readF64(path: string): Float64Array {
  const b = readFileSync(path);
  const out = new Float64Array(b.byteLength / 8);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** Installs Debian packages a benchmark's peer or tool needs (refreshing the package lists once if needed); false when it cannot. */
export function aptInstall(packages: string[]): boolean {
  console.log(`Installing ${packages.join(', ')} (Debian packages)…`);
  const args = ['install', '-y', '-o', 'DPkg::Lock::Timeout=600', ...packages];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (spawnSync('apt-get', args, { stdio: 'inherit', env }).status === 0) return true;
  spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
  return spawnSync('apt-get', args, { stdio: 'inherit', env }).status === 0;
}

/**
 * Runs a command to its end and returns its exit status and output, without blocking this process's event
 * loop (which may be serving what the command measures).
 */
export async function runToEnd(
  command: string,
  args: string[],
  options: SpawnOptions = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { status, stdout, stderr };
}

/**
 * Peak RSS of this process in MB. Linux's VmHWM belongs to the current address space, whereas
 * getrusage's maxrss survives execve and would include the parent's RSS at fork time.
 */
export function peakRssMb(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

/** What API Gateway hands the predict function for `POST /predict` (payload format 2.0; the router matches routeKey and method). */
export function predictEvent(body: string) {
  return {
    version: '2.0',
    routeKey: 'POST /predict',
    rawPath: '/predict',
    headers: { 'content-type': 'application/json' },
    requestContext: { http: { method: 'POST', path: '/predict' } },
    body,
    isBase64Encoded: false,
  };
}
