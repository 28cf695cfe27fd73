// autocannon in a process of its own, for benchmarks whose own process serves something (bench:predict-log's
// runner holds the stacks' S3 servers): the load generator's event loop then never waits behind that work,
// and its CPU time is its own. Prints one JSON line: autocannon's result and this process's CPU time.
//   node bench/autocannon-process.ts '<autocannon options as JSON>'
import autocannon from 'autocannon';

const options = JSON.parse(process.argv[2] ?? '{}') as autocannon.Options;
const cpu0 = process.cpuUsage();
const result = await autocannon(options);
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ result, cpu_us: cpu.user + cpu.system }));
