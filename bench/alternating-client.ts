// Clients that alternate their requests between servers (bench:predict-log's stacks: the log on, the
// log off, and a second log-off stack as the run's control), each client one request in flight at a
// time, in a process of its own. The machine's speed, which moves by tens of percent from one second
// to the next on a shared machine, moves every side's latency alike when their requests alternate,
// where rounds of seconds taken in turn see different machines. At one client a server's throughput is
// the inverse of its latency; with more clients the servers share the cores, each answering as many
// requests as the others, and the ratio of their mean latencies is the ratio of the work (time) each
// request costs its server: either way 1 - (mean latency off / mean latency on) is the throughput
// overhead, and the same figure for the two servers that both log nothing is the noise of this run.
// Each client's turns rotate which side goes first.
//   node bench/alternating-client.ts @<file holding {urls: {<side>: url, ...}, bodies, connections, seconds, windowSeconds}>
// Prints one JSON line: per window each side's requests and summed latency (ms), and each side's p50
// and p99 over the run (ms).
import { readFileSync } from 'node:fs';
import http from 'node:http';

type Side = string;
interface Options {
  urls: Record<Side, string>;
  bodies: string[];
  connections: number;
  seconds: number;
  windowSeconds: number;
}
/** One window's requests and summed latency (ms), by side. */
export type AlternatingWindow = Record<Side, { requests: number; ms: number }>;

const arg = process.argv[2] ?? '';
const options = JSON.parse(readFileSync(arg.startsWith('@') ? arg.slice(1) : arg, 'utf8')) as Options;
const sides = Object.keys(options.urls);
const agents = Object.fromEntries(sides.map((side) => [side, new http.Agent({ keepAlive: true, maxSockets: options.connections })]));

/** POSTs a body, reads the whole answer; rejects on anything but 200. */
function post(side: Side, body: string): Promise<void> {
  const url = new URL(options.urls[side]);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', agent: agents[side], headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.on('data', () => undefined);
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${side}: HTTP ${res.statusCode}`))));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const latencies: Record<Side, number[]> = Object.fromEntries(sides.map((side) => [side, []]));
const windows: AlternatingWindow[] = [];
const started = performance.now();
let next = 0;
/** One client: turns of one request to each side, the same body, until the time is up. */
async function client(first: number): Promise<void> {
  for (let turn = first; performance.now() - started < options.seconds * 1000; turn++) {
    const body = options.bodies[next++ % options.bodies.length];
    for (let k = 0; k < sides.length; k++) {
      const side = sides[(turn + k) % sides.length];
      const t = performance.now();
      await post(side, body);
      const ms = performance.now() - t;
      const w = Math.floor((t - started) / (options.windowSeconds * 1000));
      windows[w] ??= Object.fromEntries(sides.map((s) => [s, { requests: 0, ms: 0 }]));
      windows[w][side].requests++;
      windows[w][side].ms += ms;
      latencies[side].push(ms);
    }
  }
}
// The clients start evenly on each side.
await Promise.all(Array.from({ length: options.connections }, (_, c) => client(c)));
for (const a of Object.values(agents)) a.destroy();
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))] * 1000) / 1000;
};
const bySide = (q: number) => Object.fromEntries(sides.map((side) => [side, quantile(latencies[side], q)]));
console.log(JSON.stringify({ windows, p50_ms: bySide(0.5), p99_ms: bySide(0.99) }));
