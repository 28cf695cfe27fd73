import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { ArtifactHashMismatch, NotFound, StorageUnavailable } from '../errors.ts';

export interface S3Settings {
  bucket: string;
  region: string;
  /** For S3-compatible servers; path-style addressing is used then. */
  endpoint?: string;
  /** Explicit keys (local servers); otherwise the AWS credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export const sha256 = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

/** S3 errors that are about the server, not the request, are worth a retry. */
function asStorageError(error: unknown, what: string): Error {
  if (error instanceof NoSuchKey || (error instanceof S3ServiceException && error.name === 'NoSuchKey')) {
    return new NotFound(`S3 object not found: ${what}`);
  }
  if (error instanceof S3ServiceException && (error.$metadata.httpStatusCode ?? 500) < 500) return error;
  return new StorageUnavailable(`S3 unavailable while ${what}: ${(error as Error).message}`, { cause: error });
}

/** Artifact store: bytes, gzip and JSON objects in one bucket, with content hashes. */
export class ArtifactStore {
  readonly bucket: string;
  readonly client: S3Client;
  /** Where it points (a test hands them on to a function's environment). */
  readonly settings: S3Settings;

  constructor(settings: S3Settings) {
    this.settings = settings;
    this.bucket = settings.bucket;
    this.client = new S3Client({
      region: settings.region,
      ...(settings.endpoint ? { endpoint: settings.endpoint, forcePathStyle: true } : {}),
      ...(settings.credentials ? { credentials: settings.credentials } : {}),
      maxAttempts: 3,
      // No CRC32 of every body on the way out (the SDK's default since 3.729): artifacts carry their own
      // sha256, checked on every read, and computing both cost the serving thread on each log flush.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      // Nor on the way in: by default a GET asks S3 for the object's checksum (CRC64NVME for objects
      // stored without one) and recomputes it over the body, tens of MB for a model at a cold start.
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch {
      try {
        await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
      } catch (error) {
        const name = (error as Error).name;
        if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw asStorageError(error, `creating bucket ${this.bucket}`);
      }
    }
  }

  /** Writes bytes and returns their sha256. */
  async putBytes(key: string, body: Uint8Array, contentType = 'application/octet-stream'): Promise<string> {
    await this.put(key, body, contentType);
    return sha256(body);
  }

  /**
   * Writes an object whose hash nobody records (a prediction log part): no sha256 to compute, not even
   * the one SigV4 signs a body with (UNSIGNED-PAYLOAD, as S3 allows: TLS guards the bytes on AWS). That
   * hash of a whole log part (~1.5 ms per MB) held up the requests of the thread that flushed it.
   */
  async put(key: string, body: Uint8Array | string, contentType: string): Promise<void> {
    const command = new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType });
    command.middlewareStack.add(
      (next) => (args) => {
        const request = args.request as { headers?: Record<string, string> };
        // The signer takes a payload hash already in the headers as it is.
        if (request.headers) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
        return next(args);
      },
      { step: 'build', name: 'unsignedPayload' },
    );
    try {
      await this.client.send(command);
    } catch (error) {
      throw asStorageError(error, `writing ${key}`);
    }
  }

  async getBytes(key: string): Promise<Uint8Array> {
    return this.read(key);
  }

  /**
   * An object's bytes, hashed on the way when `hash` is given. The body is copied into one buffer of
   * its Content-Length as it arrives (a model is tens of MB: no list of chunks joined at the end, no
   * second pass to hash it), with an ArrayBuffer of its own, so typed arrays can view it without a copy.
   */
  private async read(key: string, hash?: Hash): Promise<Uint8Array> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const body = response.Body;
      if (!body) throw new NotFound(`S3 object has no body: ${key}`);
      const size = response.ContentLength;
      if (size === undefined || !(body instanceof Readable)) {
        const bytes = await body.transformToByteArray();
        hash?.update(bytes);
        return bytes;
      }
      const bytes = Buffer.allocUnsafeSlow(size);
      let at = 0;
      for await (const chunk of body as AsyncIterable<Buffer>) {
        hash?.update(chunk);
        at += chunk.copy(bytes, at);
      }
      return at < size ? bytes.subarray(0, at) : bytes;
    } catch (error) {
      if (error instanceof NotFound) throw error;
      throw asStorageError(error, `reading ${key}`);
    }
  }

  /** Reads bytes and refuses them unless they hash to `expectedSha256`. */
  async getVerifiedBytes(key: string, expectedSha256: string): Promise<Uint8Array> {
    const hash = createHash('sha256');
    const bytes = await this.read(key, hash);
    const actual = hash.digest('hex');
    if (actual !== expectedSha256) {
      throw new ArtifactHashMismatch(`Artifact ${key} has sha256 ${actual}, the registry recorded ${expectedSha256}`);
    }
    return bytes;
  }

  /** Every key under `prefix` (all pages), in S3's (lexicographic) order. */
  async listKeys(prefix: string): Promise<string[]> {
    const found: string[] = [];
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
      } catch (error) {
        throw asStorageError(error, `listing ${prefix}`);
      }
      for (const o of page.Contents ?? []) if (o.Key) found.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found;
  }

  putJson(key: string, value: unknown): Promise<string> {
    return this.putBytes(key, Buffer.from(JSON.stringify(value, null, 2)), 'application/json');
  }

  async getJson<T = unknown>(key: string): Promise<T> {
    return JSON.parse(Buffer.from(await this.getBytes(key)).toString('utf8')) as T;
  }

  putGzip(key: string, text: string, contentType: string): Promise<string> {
    return this.putBytes(key, gzipSync(text), contentType);
  }
}

export const gunzipText = (bytes: Uint8Array): string => gunzipSync(bytes).toString('utf8');
