import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ArtifactHashMismatch, StorageUnavailable } from '../../src/errors.ts';
import { ArtifactStore } from '../../src/storage/s3.ts';

// ArtifactStore's reads against a stand-in for S3's GetObject: the body lands in one buffer of its
// Content-Length whatever the chunks, is hashed on the way, and the client asks S3 for no checksum
// of its own (the registry's sha256 is checked instead).

const object = randomBytes(3 * 1024 * 1024 + 17);
const objectSha = createHash('sha256').update(object).digest('hex');

describe('ArtifactStore reads', () => {
  let server: http.Server;
  let store: ArtifactStore;
  const requests: http.IncomingHttpHeaders[] = [];
  before(async () => {
    server = http.createServer((req, res) => {
      requests.push(req.headers);
      const key = req.url?.split('?')[0];
      if (key === '/bucket/chunked.bin') {
        // No Content-Length: the body comes in chunks of unknown total.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        for (let at = 0; at < object.length; at += 100_000) res.write(object.subarray(at, at + 100_000));
        res.end();
        return;
      }
      if (key === '/bucket/short.bin') {
        // The connection drops before the promised length.
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': object.length });
        res.write(object.subarray(0, 1_000_000), () => res.destroy());
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': object.length });
      // Odd-sized writes, so the chunks do not line up with anything.
      for (let at = 0; at < object.length; at += 65_537) res.write(object.subarray(at, at + 65_537));
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    store = new ArtifactStore({
      bucket: 'bucket',
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
  });
  after(async () => {
    store.client.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  test('a verified read returns the exact bytes, in a buffer of their own (typed arrays view it without a copy)', async () => {
    const bytes = await store.getVerifiedBytes('model.bin', objectSha);
    assert.equal(bytes.byteLength, object.length);
    assert.equal(bytes.byteOffset, 0);
    assert.equal(bytes.buffer.byteLength, object.length);
    assert.ok(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).equals(object));
    assert.ok(Buffer.from(await store.getBytes('model.bin')).equals(object));
  });

  test('bytes that do not hash to the registry sha256 are refused', async () => {
    await assert.rejects(store.getVerifiedBytes('model.bin', '0'.repeat(64)), ArtifactHashMismatch);
  });

  test('a body without Content-Length is read and verified all the same', async () => {
    const bytes = await store.getVerifiedBytes('chunked.bin', objectSha);
    assert.ok(Buffer.from(bytes).equals(object));
  });

  test('a body cut short is StorageUnavailable (worth a retry), not bytes', async () => {
    await assert.rejects(store.getVerifiedBytes('short.bin', objectSha), StorageUnavailable);
  });

  test('a GET asks S3 for no checksum to validate (the sha256 is checked instead)', async () => {
    requests.length = 0;
    await store.getBytes('model.bin');
    assert.equal(requests.length, 1);
    assert.equal(requests[0]['x-amz-checksum-mode'], undefined);
  });
});
