import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ADMIN_TOKEN_MIN_LENGTH, repoRoot } from '../config.ts';

/**
 * The admin token of the embedded runtime: rollback, manual promotion and POST /executions always
 * need it. `npm start` uses the one given (ADMIN_TOKEN), else the one stored here, else generates one
 * and stores it here (mode 0600, in the git-ignored .local/); the CLI reads it from the same place.
 */
export const ADMIN_TOKEN_FILE = path.join(repoRoot, '.local', 'admin-token');

export const generateAdminToken = (): string => randomBytes(24).toString('hex');

export interface AdminToken {
  token: string;
  /** Where it came from: the environment, the file, or generated now (and stored in the file). */
  source: 'environment' | 'file' | 'generated';
  file: string;
}

async function readTokenFile(file: string): Promise<string | undefined> {
  try {
    const token = (await readFile(file, 'utf8')).trim();
    return token.length >= ADMIN_TOKEN_MIN_LENGTH ? token : undefined;
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The token the CLI sends: the given one (ADMIN_TOKEN), else the stored one. */
export async function findAdminToken(given: string | undefined, file = ADMIN_TOKEN_FILE): Promise<string | undefined> {
  return given || (await readTokenFile(file));
}

/** The token `npm start` configures: the given one, else the stored one, else a new one stored with mode 0600. */
export async function localAdminToken(given: string | undefined, file = ADMIN_TOKEN_FILE): Promise<AdminToken> {
  if (given) {
    if (given.length < ADMIN_TOKEN_MIN_LENGTH)
      throw new Error(`ADMIN_TOKEN is too short: use at least ${ADMIN_TOKEN_MIN_LENGTH} characters (or unset it to have one generated)`);
    return { token: given, source: 'environment', file };
  }
  const stored = await readTokenFile(file);
  if (stored) {
    await chmod(file, 0o600);
    return { token: stored, source: 'file', file };
  }
  const token = generateAdminToken();
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return { token, source: 'generated', file };
}
