// The local HTTP API as a process of its own, started by the embedded stack (stack.ts) with the
// functions' environment: its event loop answers requests only, not the runner's S3 server or Step
// Functions endpoint. Prints `listening <port>` when ready; SIGTERM lets the containers write out
// their buffers (gateway.close) before it exits.
//
//   node src/embedded/http-api/main.ts <port> <containers per function>
import { startHttpApiGateway } from './gateway.ts';
import { localService } from './service.ts';

const [port = '0', containers = '2'] = process.argv.slice(2);
const gateway = await startHttpApiGateway({
  service: localService(process.env),
  env: process.env,
  port: Number(port),
  containersPerFunction: Number(containers),
  output: (text) => process.stderr.write(text),
});
process.stdout.write(`listening ${gateway.port}\n`);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void gateway.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
