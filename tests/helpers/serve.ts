import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { mysqlEnvironment, repoRoot } from '../../src/config.ts';
import { freePort } from '../../src/embedded/stack.ts';
import type { MysqlSettings } from '../../src/storage/mysql.ts';

export interface ServeProcess {
  child: ChildProcess;
  baseUrl: string;
  sfnUrl: string;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves once it serves (true) or ends (false). */
  ready: Promise<boolean>;
  /** Its exit code once it ended. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** `npm run serve` as a user runs it (scripts/serve.ts), on free ports, against the given MySQL, bucket and S3 folder. */
export async function startServe(mysql: MysqlSettings, bucket: string, s3Directory: string): Promise<ServeProcess> {
  const [http, lambda, s3, sfn] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [
      path.join(repoRoot, 'scripts/serve.ts'),
      '--http-port',
      String(http),
      '--lambda-port',
      String(lambda),
      '--s3-port',
      String(s3),
      '--sfn-port',
      String(sfn),
      '--s3-dir',
      s3Directory,
    ],
    {
      cwd: repoRoot,
      env: {
        ...process.env,
        ...mysqlEnvironment(mysql),
        S3_BUCKET: bucket,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<boolean>((resolve) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Serving predictions at')) resolve(true);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then(() => resolve(false));
  });
  return {
    child,
    baseUrl: `http://127.0.0.1:${http}`,
    sfnUrl: `http://127.0.0.1:${sfn}`,
    output: () => out,
    ready,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
