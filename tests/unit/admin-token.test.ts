import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { localAdminToken, findAdminToken } from '../../src/embedded/admin-token.ts';

test("npm start's admin token: generated once into a 0600 file, then reused; ADMIN_TOKEN wins; the CLI finds either", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'admin-token-'));
  try {
    const file = path.join(dir, '.local', 'admin-token');
    assert.equal(await findAdminToken(undefined, file), undefined, 'nothing stored yet');
    const generated = await localAdminToken(undefined, file);
    assert.equal(generated.source, 'generated');
    assert.match(generated.token, /^[0-9a-f]{48}$/);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await readFile(file, 'utf8')).trim(), generated.token);
    assert.deepEqual(await localAdminToken(undefined, file), { ...generated, source: 'file' });
    assert.equal(await findAdminToken(undefined, file), generated.token);

    const given = 'given-admin-token-0123456789';
    assert.deepEqual(await localAdminToken(given, file), { token: given, source: 'environment', file });
    assert.equal(await findAdminToken(given, file), given);
    await assert.rejects(localAdminToken('short', file), /ADMIN_TOKEN is too short/);

    // A file loosened by hand is tightened again when read.
    await chmod(file, 0o644);
    assert.equal((await stat(file)).mode & 0o777, 0o644);
    await localAdminToken(undefined, file);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
