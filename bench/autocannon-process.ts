// autocannon in a process of its own, for benchmarks whose own process serves something (bench:predict-log's
// runner holds the stacks' S3 servers): the load generator's event loop then never waits behind that work,
// and its CPU time is its own. Prints one JSON line: autocannon's result and this process's CPU time.
//   node bench/autocannon-process.ts '<autocannon options as JSON>' | @<file holding them>
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

// Options too long for a command line (many request bodies) come in a file.
const arg = process.argv[2] ?? '{}';
const { bodies, ...options } = JSON.parse(arg.startsWith('@') ? readFileSync(arg.slice(1), 'utf8') : arg) as autocannon.Options & { bodies?: string[] };
// `bodies`: each request takes the next one, whichever connection sends it (autocannon's own
// `requests` list starts every connection at its first entry: they would all send the same rows).
if (bodies && bodies.length > 0) {
  let next = 0;
  options.requests = [{ setupRequest: (request) => ({ ...request, body: bodies[next++ % bodies.length] }) }];
}
const cpu0 = process.cpuUsage();
const result = await autocannon(options);
const cpu = process.cpuUsage(cpu0);
// The result without the options it echoes (the request bodies).
console.log(JSON.stringify({ result: { ...result, opts: undefined }, cpu_us: cpu.user + cpu.system }));
