// The prediction log: every logged prediction row as one JSON object, written to S3 as JSON Lines
// under predictions/<model>/date=YYYY-MM-DD/ (keys.predictionLog), one object per flush,
// zstd-compressed (`.jsonl.zst`; `logObjectText` reads both that and plain `.jsonl`).
//
// Off the request path: `add` only appends to an in-memory buffer (its memory bounded: a full
// buffer drops the record and counts it; a long-lived process queues answered requests and adds them a
// few at a time, `addRequestSoon`); the buffer is written out when it holds
// `flushBytes`, when its oldest record is `flushMs` old, and on `close`. Writing it never throws
// into a request: a failed write keeps its batch (under the same memory bound) for the next flush,
// under the same object key, so a retry overwrites rather than duplicates.
//
// Two ways to drive it, because a Lambda is frozen between invocations (timers do not fire, and a
// request started but not awaited may be cut when the environment thaws or is reclaimed):
// - `background: true` (a long-lived process: serverless-offline, a container, tests): a timer
//   and the size threshold flush in the background, never awaited by a request;
// - `background: false` (AWS Lambda, LocalStack Lambda): nothing runs between invocations; the
//   handler awaits `afterInvocation()`, which flushes when the buffer is due, so no write is ever in
//   flight across a freeze. Records buffered in an environment that is then reclaimed without
//   another invocation are lost: at most `flushMs` worth (0 flushes at the end of every invocation).
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { keys } from '../storage/keys.ts';
import { formatRequestId, newWriterId, parseRequestId, requestNumberAt } from './request-id.ts';

export interface ShadowScore {
  version: number;
  prediction: number | string;
  /** Same class as the champion (regression: within 5% of the champion's number). */
  agree: boolean;
}

/** One predicted row as logged. */
export interface PredictionRecord {
  request_id: string;
  /** Position of the row in its request (0 for a one-row request) or its batch file. */
  row: number;
  /** ISO time of the prediction; its UTC day is the partition. */
  ts: string;
  model: string;
  model_version: number;
  alias: string | null;
  source: 'api' | 'batch';
  features: Readonly<Record<string, unknown>>;
  prediction: number | string;
  label?: string;
  probabilities?: Record<string, number>;
  /** Time the request took to predict (whole request; the same on each of its rows). */
  latency_ms: number;
  /** Filled in at flush time when a challenger shadows the champion (src/monitoring/shadow.ts). */
  challenger?: ShadowScore;
}

/** One object's worth of records: one model, one UTC day. */
export interface LogBatch {
  model: string;
  date: string;
  key: string;
  /** Records in it. */
  count: number;
  /**
   * The object's bytes: JSON Lines (UTF-8), one per record, compressed as `contentType` says (read them
   * with `logObjectText`). The log may reuse this memory once `write` has resolved: a writer that keeps
   * the body after that keeps a copy.
   */
  body: Uint8Array;
  /** The body's media type: application/zstd, or application/x-ndjson when written plain. */
  contentType: string;
  /** Records of this model the full buffer dropped since the last written batch. */
  dropped: number;
  /** Buffer memory the batch holds until it is written. */
  bufferBytes: number;
  /** The log that wrote it, and the range of its request numbers in it (null: no id of this log's). */
  writerId: string;
  seqFirst: number | null;
  seqLast: number | null;
}

export interface LogWriter {
  write(batch: LogBatch): Promise<void>;
}

export interface PredictionLogOptions {
  sampleRate: number;
  bufferBytes: number;
  flushBytes: number;
  flushMs: number;
  background: boolean;
  /**
   * Runs on a model's champion records before they are written, off the request path (shadow
   * scoring), when `applies` says so for the model; a failure only warns.
   */
  enrich?: { applies(model: string): Promise<boolean>; apply(records: PredictionRecord[]): Promise<void> };
  warn?: (event: Record<string, unknown>) => void;
  now?: () => number;
  random?: () => number;
}

export interface PredictionLogStats {
  logged: number;
  sampledOut: number;
  dropped: number;
  written: number;
  writeErrors: number;
  bufferedRecords: number;
  bufferedBytes: number;
}

/**
 * The buffered records of one model and UTC day (one object when written): their JSON lines, made on
 * the request path and copied at once into off-heap memory (Buffer chunks), and the few facts the flush
 * needs. Nothing of a request stays on the JS heap: its strings and objects die young, where the
 * GC's cost is what survives; kept as strings, each line would be copied through the generations and
 * make every collection of a serving process (its models in the old generation) slower.
 */
interface Group {
  model: string;
  day: string;
  /** Chunks (OffHeap's), the last one being filled: `filled` bytes of each of the others, `used` of it. */
  chunks: Buffer[];
  filled: number[];
  used: number;
  records: number;
  /** Line numbers of champion records (the ones shadow scoring reads). */
  champion: number[];
  /** The range of this log's request numbers among them (null: none of its ids). */
  seqFirst: number | null;
  seqLast: number | null;
  /** What they count against the buffer's bound. */
  bytes: number;
}

/** Request ids a log remembers (`seqOf`): more than the requests a process has in flight and queued. */
const ISSUED_IDS = 1024;

/**
 * Rows of answered requests a long-lived process queues before it adds them to the buffer (`addRequestSoon`).
 * Added one request at a time, between requests, the log's code and data are cold each time: perf profiles
 * of the serving threads (bench/README-predict.md, 3 December) put the log's own code at 22–26 µs a request
 * that way, 17–20 µs added 32 rows at a time.
 */
const QUEUED_ROWS = 32;
/**
 * …and the most it holds (memory beyond the buffer's bound), should the event loop not turn meanwhile: then
 * their records are made at once.
 */
const QUEUED_ROWS_MAX = 4 * QUEUED_ROWS;

/** Memory counted per record beyond its JSON line (its bookkeeping, the unused end of a chunk). */
const ENTRY_OVERHEAD = 96;
/** Off-heap chunk size (a longer line gets a chunk of its own size). */
const CHUNK_BYTES = 64 * 1024;

/**
 * The log's off-heap memory, reused from flush to flush: the chunks lines are copied into, and the one
 * buffer a batch's body is assembled in (one write at a time). A new Buffer is an ArrayBuffer of its own,
 * and a chunk lives until its flush, long enough to be promoted to the old generation, where its bytes
 * count towards the heap's limit: in a serving container's small heap (~25 MB) a few MB of new chunks
 * and bodies brought on a full GC every 2–3 s (6 in 20 s of load, against none with the log off), each
 * a pause of 10–40 ms of the thread that answers requests. Reused, the same memory stays allocated.
 */
class OffHeap {
  private readonly free: Buffer[] = [];
  private readonly maxFree: number;
  private upload = Buffer.alloc(0);

  constructor(boundBytes: number) {
    this.maxFree = Math.ceil(boundBytes / CHUNK_BYTES);
  }

  /** Appends a line and its newline to a group's chunks. */
  append(group: Group, line: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const room = line.length * 3 + 1;
    let chunk = group.chunks[group.chunks.length - 1];
    if (!chunk || chunk.length - group.used < room) {
      if (chunk) group.filled.push(group.used);
      chunk = room <= CHUNK_BYTES ? (this.free.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES)) : Buffer.allocUnsafeSlow(room);
      group.chunks.push(chunk);
      group.used = 0;
    }
    group.used += chunk.write(line, group.used, 'utf8');
    chunk[group.used++] = 0x0a;
  }

  /**
   * A group's lines as one body, its chunks taken back: a view of the upload buffer, valid until the
   * next body (the log writes one batch at a time).
   */
  body(group: Group): Buffer {
    let size = group.used;
    for (const n of group.filled) size += n;
    if (this.upload.length < size) this.upload = Buffer.allocUnsafeSlow(size + (size >> 3));
    let at = 0;
    group.chunks.forEach((chunk, i) => {
      at += chunk.copy(this.upload, at, 0, i < group.filled.length ? group.filled[i] : group.used);
      if (chunk.length === CHUNK_BYTES && this.free.length < this.maxFree) this.free.push(chunk);
    });
    group.chunks = [];
    return this.upload.subarray(0, size);
  }

  /** Lets it all go (a closed log). */
  clear(): void {
    this.free.length = 0;
    this.upload = Buffer.alloc(0);
  }
}

/**
 * A log object's bytes as written: zstd at its fastest level (~2.3 ms of CPU per MB, a tenth of the
 * bytes), in the thread pool, not on the thread that answers requests. Fewer bytes is what makes a
 * flush cheap: the PUT's copies, and a local S3 server's MD5 and file write (s3rver: ~6 ms per MB).
 */
const zstdCompress = typeof zlib.zstdCompress === 'function' ? promisify(zlib.zstdCompress) : undefined;
const ZSTD_FASTEST = { params: { [zlib.constants.ZSTD_c_compressionLevel]: 1 } };

async function encodedBody(text: Buffer): Promise<{ body: Uint8Array; extension: string; contentType: string }> {
  try {
    // A Node without zstd (before 22.15) writes plain JSON Lines.
    if (zstdCompress) return { body: await zstdCompress(text, ZSTD_FASTEST), extension: '.jsonl.zst', contentType: 'application/zstd' };
  } catch {
    // never fails a flush: written as it is
  }
  return { body: text, extension: '.jsonl', contentType: 'application/x-ndjson' };
}

/** The JSON Lines of a log object (`.jsonl.zst` or `.jsonl`: the key says which). */
export function logObjectText(key: string, bytes: Uint8Array): string {
  return (key.endsWith('.zst') ? zlib.zstdDecompressSync(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString('utf8');
}

/** A number as JSON writes it (NaN, Infinity: null). */
const jsonNumber = (x: number): string => (Number.isFinite(x) ? String(x) : 'null');

/**
 * A latency in milliseconds, rounded to the microsecond as the records are (`Math.round(x * 1000) / 1000`),
 * as JSON writes it — the same text as `jsonNumber` — from its integer digits: a fraction's shortest
 * digits cost ~0.3 µs a request, its integers far less. (Below 1e9 ms two such numbers are far more
 * than a double's spacing apart, so their plain decimal form is the shortest one that reads back.)
 */
export function millisJson(x: number): string {
  const micros = Math.round(x * 1000);
  if (!(micros >= 0 && micros < 1e12) || micros / 1000 !== x) return jsonNumber(x);
  const whole = Math.floor(micros / 1000);
  let fraction = micros - whole * 1000;
  if (fraction === 0) return String(whole);
  let digits = 3;
  while (fraction % 10 === 0) {
    fraction /= 10;
    digits--;
  }
  const text = String(fraction);
  return `${whole}.${text.length < digits ? '0'.repeat(digits - text.length) : ''}${text}`;
}

/**
 * Probabilities as JSON numbers, the few hundred distinct values a model gives (votes of n trees)
 * kept: writing a fraction's shortest digits costs as much as the rest of the line.
 */
const probabilityText = new Map<number, string>();
function probabilityJson(x: number): string {
  let text = probabilityText.get(x);
  if (text === undefined) {
    text = jsonNumber(x);
    if (probabilityText.size >= 4096) probabilityText.clear();
    probabilityText.set(x, text);
  }
  return text;
}

/** JSON of a few distinct strings seen again and again (model names, aliases, class names), kept. */
const quoted = new Map<string, string>();
function jsonKey(s: string): string {
  let q = quoted.get(s);
  if (q === undefined) {
    q = JSON.stringify(s);
    if (quoted.size < 10_000) quoted.set(s, q);
  }
  return q;
}

/**
 * A class-probability map as JSON.stringify writes it (class names such as "1".."7" are array-index
 * keys, JSON.stringify's slow path).
 */
function probabilitiesJson(p: Readonly<Record<string, number>>): string {
  let out = '{';
  for (const k in p) {
    const v = p[k];
    if (v === undefined) continue;
    out += `${out.length > 1 ? ',' : ''}${jsonKey(k)}:${probabilityJson(v)}`;
  }
  return `${out}}`;
}

/** One answered request's rows as logged: the fields its records share, given once, and each row's own. */
export interface RequestRecords {
  request_id: string;
  ts: string;
  model: string;
  model_version: number;
  alias: string | null;
  source: PredictionRecord['source'];
  latency_ms: number;
  /** Row i's features (the row as sent) and prediction: records row 0 … n − 1. */
  features: readonly unknown[];
  predictions: readonly Pick<PredictionRecord, 'prediction' | 'label' | 'probabilities'>[];
  /**
   * Each row's prediction as JSON.stringify wrote it for the answer (`{"prediction":…,"label":…,
   * "probabilities":…}`, fields in that order), when the caller has it: the log uses it instead of
   * writing the same numbers again.
   */
  predictionJson?: readonly string[];
  /** Each row's features as JSON text (the row as the client sent it, see records.ts: sentRowsJson), when the caller has it. */
  featuresJson?: readonly string[];
}

/** The records of a request, as `add` takes them (PredictionRecord's field order). */
export function requestRecords(r: RequestRecords): PredictionRecord[] {
  return r.predictions.map((p, row) => {
    const record: PredictionRecord = {
      request_id: r.request_id,
      row,
      ts: r.ts,
      model: r.model,
      model_version: r.model_version,
      alias: r.alias,
      source: r.source,
      features: r.features[row] as Record<string, unknown>,
      prediction: p.prediction,
      latency_ms: r.latency_ms,
    };
    if (p.label !== undefined) record.label = p.label;
    if (p.probabilities !== undefined) record.probabilities = p.probabilities;
    return record;
  });
}

/**
 * One record's JSON line: the same text as `JSON.stringify(record)` (fields in the same order), built
 * from the record's fixed layout, with JSON.stringify left for the free-form parts (the features).
 */
export function recordLine(r: PredictionRecord): string {
  const features = JSON.stringify(r.features) as string | undefined;
  if (features === undefined) return JSON.stringify(r); // no features at all: JSON leaves the field out
  let line = `{"request_id":${JSON.stringify(r.request_id)},"row":${jsonNumber(r.row)},${contextJson(r)},"features":${features},${predictionFieldsJson(r)},"latency_ms":${millisJson(r.latency_ms)}`;
  if (r.challenger !== undefined) line += `,"challenger":${JSON.stringify(r.challenger)}`;
  return `${line}}`;
}

/**
 * The fields a record shares with the other rows of its request, from ts to source, as JSON; the last
 * one kept (requests a millisecond apart or less share them all).
 */
const lastContext = { ts: '', model: '', model_version: Number.NaN, alias: null as string | null, source: '', json: '' };
function contextJson(r: Pick<PredictionRecord, 'ts' | 'model' | 'model_version' | 'alias' | 'source'>): string {
  const c = lastContext;
  if (r.ts === c.ts && r.model === c.model && r.model_version === c.model_version && r.alias === c.alias && r.source === c.source) return c.json;
  const json = `"ts":${JSON.stringify(r.ts)},"model":${jsonKey(r.model)},"model_version":${jsonNumber(r.model_version)},"alias":${r.alias === null ? 'null' : jsonKey(r.alias)},"source":${jsonKey(r.source)}`;
  c.ts = r.ts;
  c.model = r.model;
  c.model_version = r.model_version;
  c.alias = r.alias;
  c.source = r.source;
  c.json = json;
  return json;
}

/**
 * A row's prediction as JSON: the text JSON.stringify gives for a prediction made as the models make
 * them (fields in that order), with the probabilities' number texts kept (`probabilityJson`): class
 * names such as "1".."7" send JSON.stringify down its slow path, where it cost ~10 % of a one-row
 * request's CPU.
 */
export function predictionJson(p: Pick<PredictionRecord, 'prediction' | 'label' | 'probabilities'>): string {
  return `{${predictionFieldsJson(p)}}`;
}

/** A row's prediction, label and probabilities as JSON fields (those it has). */
function predictionFieldsJson(p: Pick<PredictionRecord, 'prediction' | 'label' | 'probabilities'>): string {
  let out = `"prediction":${typeof p.prediction === 'number' ? jsonNumber(p.prediction) : jsonKey(p.prediction)}`;
  if (p.label !== undefined) out += `,"label":${jsonKey(p.label)}`;
  if (p.probabilities !== undefined) out += `,"probabilities":${probabilitiesJson(p.probabilities)}`;
  return out;
}

export class PredictionLog {
  private readonly writer: LogWriter;
  private readonly options: PredictionLogOptions;
  private readonly now: () => number;
  private readonly random: () => number;
  /** Names this writer's objects and request ids, so two containers never collide. */
  readonly writerId = newWriterId();
  private nextSeq = 0;
  /** The buffer: one group per model and UTC day. */
  private groups = new Map<string, Group>();
  /** The group the last record went to (records come in runs of one model and day). */
  private lastGroup: Group | undefined;
  private records = 0;
  private oldestAt = 0;
  /** The last ISSUED_IDS request ids made, by number (modulo). */
  private readonly issued: string[] = new Array<string>(ISSUED_IDS).fill('');
  /** The last request id seen and its number (a request's rows share one id). */
  private lastRequestId = '';
  private lastSeq: number | null = null;
  /** Answered requests whose records are not made yet (`addRequestSoon`), and their rows. */
  private queued: (() => void)[] = [];
  private queuedRows = 0;
  private addScheduled = false;
  /** Batches whose write failed, retried first at the next flush. */
  private pending: LogBatch[] = [];
  private bytes = 0;
  private seq = 0;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly droppedByModel = new Map<string, number>();
  private readonly counts = { logged: 0, sampledOut: 0, dropped: 0, written: 0, writeErrors: 0 };
  private readonly memory: OffHeap;

  constructor(writer: LogWriter, options: PredictionLogOptions) {
    this.writer = writer;
    this.options = options;
    this.memory = new OffHeap(options.bufferBytes);
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    if (options.background) {
      this.timer = setInterval(
        () => {
          this.addQueued();
          if (this.due()) void this.flush();
        },
        Math.max(50, Math.min(options.flushMs, 1000)),
      );
      this.timer.unref();
    }
  }

  /** A new request id (request-id.ts): it names this log and the request's number, so feedback can find its records. */
  requestId(): string {
    const seq = this.nextSeq++;
    const id = formatRequestId(this.writerId, seq);
    // Its records come later (queued, `addRequestSoon`): the id is kept, so its number is read back by
    // position and checked against it, not parsed by the id's pattern (~11 % of the log's own work).
    this.issued[seq % ISSUED_IDS] = id;
    return id;
  }

  /** Whether the next request is logged (decided once per request, so its rows stay together). */
  sampled(): boolean {
    const rate = this.options.sampleRate;
    const yes = rate >= 1 || (rate > 0 && this.random() < rate);
    if (!yes) this.counts.sampledOut++;
    return yes && !this.closed;
  }

  /** Appends records to the buffer; never throws, never waits. */
  add(records: readonly PredictionRecord[]): void {
    for (const record of records) {
      let line: string;
      try {
        line = recordLine(record);
      } catch {
        this.drop(record.model); // not serializable (never from a validated request)
        continue;
      }
      this.append(this.groupOf(record.model, record.ts.slice(0, 10)), line, record.alias === 'champion', this.seqOf(record.request_id));
    }
    this.flushIfFull();
  }

  /**
   * Appends an answered request's records (the same lines `add` would write for `requestRecords(r)`),
   * with what its rows share turned into JSON once, not once a row; never throws, never waits.
   */
  addRequest(r: RequestRecords): void {
    let head: string;
    let middle: string;
    let tail: string;
    try {
      head = `{"request_id":${JSON.stringify(r.request_id)},"row":`;
      middle = `,${contextJson(r)},"features":`;
      tail = `,"latency_ms":${millisJson(r.latency_ms)}}`;
    } catch {
      for (let i = 0; i < r.predictions.length; i++) this.drop(r.model);
      return;
    }
    const group = this.groupOf(r.model, r.ts.slice(0, 10));
    const champion = r.alias === 'champion';
    const seq = this.seqOf(r.request_id);
    for (let row = 0; row < r.predictions.length; row++) {
      const p = r.predictions[row];
      let line: string;
      try {
        const features = r.featuresJson?.[row] ?? (JSON.stringify(r.features[row]) as string | undefined);
        const answered = r.predictionJson?.[row];
        if (features === undefined) line = recordLine(requestRecords(r)[row]);
        else {
          const fields = answered !== undefined && answered.length > 2 ? answered.slice(1, -1) : predictionFieldsJson(p);
          line = `${head}${row}${middle}${features},${fields}${tail}`;
        }
      } catch {
        this.drop(r.model);
        continue;
      }
      this.append(group, line, champion, seq);
    }
    this.flushIfFull();
  }

  /**
   * Adds an answered request's records (`add` calls `addRequest`), in a long-lived process later, with the
   * next requests' (QUEUED_ROWS rows at a time, in the event loop's next turn, once the answer that filled
   * the queue has gone; and whatever waits before a flush, `stats` or the timer's check), where a process
   * may be frozen after the request (background: false) at once. `add` must take what it needs (times,
   * texts) from the request when it is queued. Never throws, never waits.
   */
  addRequestSoon(rows: number, add: () => void): void {
    if (!this.options.background) {
      this.addOne(add);
      return;
    }
    this.queued.push(add);
    this.queuedRows += rows;
    if (this.queuedRows >= QUEUED_ROWS_MAX) this.addQueued();
    else if (this.queuedRows >= QUEUED_ROWS && !this.addScheduled) {
      this.addScheduled = true;
      setImmediate(() => {
        this.addScheduled = false;
        this.addQueued();
      });
    }
  }

  /** Adds the queued requests' records. */
  private addQueued(): void {
    if (this.queued.length === 0) return;
    const queued = this.queued;
    this.queued = [];
    this.queuedRows = 0;
    for (const add of queued) this.addOne(add);
  }

  private addOne(add: () => void): void {
    try {
      add();
    } catch {
      this.counts.dropped++; // its records could not be made (never from a validated request)
    }
  }

  /** One line into its group, or dropped and counted when the buffer is full. */
  private append(group: Group, line: string, champion: boolean, seq: number | null): void {
    const bytes = line.length + ENTRY_OVERHEAD;
    if (this.bytes + bytes > this.options.bufferBytes) {
      this.drop(group.model);
      return;
    }
    if (this.records === 0) this.oldestAt = this.now();
    if (champion) group.champion.push(group.records);
    this.memory.append(group, line);
    group.records++;
    group.bytes += bytes;
    if (seq !== null) {
      if (group.seqFirst === null || seq < group.seqFirst) group.seqFirst = seq;
      if (group.seqLast === null || seq > group.seqLast) group.seqLast = seq;
    }
    this.bytes += bytes;
    this.records++;
    this.counts.logged++;
  }

  /** One flush at a time is enough: what arrives meanwhile goes with the next (the timer, or the next add). */
  private flushIfFull(): void {
    if (this.options.background && this.bytes >= this.options.flushBytes && !this.flushing) void this.flush();
  }

  private groupOf(model: string, day: string): Group {
    const last = this.lastGroup;
    if (last && last.model === model && last.day === day) return last;
    const k = `${model}\u0000${day}`;
    let group = this.groups.get(k);
    if (!group) {
      group = { model, day, chunks: [], filled: [], used: 0, records: 0, champion: [], seqFirst: null, seqLast: null, bytes: 0 };
      this.groups.set(k, group);
    }
    this.lastGroup = group;
    return group;
  }

  /** This log's number of a request id (null: an id of another writer or scheme), found once per request. */
  private seqOf(requestId: string): number | null {
    if (requestId !== this.lastRequestId) {
      this.lastRequestId = requestId;
      // One of the last ISSUED_IDS ids this log made, when it is kept under the number it holds.
      const seq = requestNumberAt(requestId);
      if (this.issued[seq % ISSUED_IDS] === requestId) this.lastSeq = seq;
      else {
        const id = parseRequestId(requestId);
        this.lastSeq = id && id.writerId === this.writerId ? id.seq : null;
      }
    }
    return this.lastSeq;
  }

  private drop(model: string): void {
    this.counts.dropped++;
    this.droppedByModel.set(model, (this.droppedByModel.get(model) ?? 0) + 1);
  }

  /** Something to write, and the size or age threshold is reached. */
  due(): boolean {
    if (this.pending.length > 0) return true;
    if (this.records === 0) return false;
    return this.bytes >= this.options.flushBytes || this.now() - this.oldestAt >= this.options.flushMs;
  }

  /** For a handler that may be frozen after it returns: flushes (and waits) only when due. */
  async afterInvocation(): Promise<void> {
    if (this.due()) await this.flush();
  }

  /** Writes everything buffered; never throws (failures are counted and kept for the next flush). */
  async flush(): Promise<void> {
    this.addQueued();
    while (this.flushing) await this.flushing;
    if (this.records === 0 && this.pending.length === 0) return;
    this.flushing = this.writeOut();
    try {
      await this.flushing;
    } finally {
      this.flushing = undefined;
    }
  }

  private async writeOut(): Promise<void> {
    const taken = [...this.groups.values()];
    this.groups = new Map();
    this.lastGroup = undefined;
    this.records = 0;
    const retries = this.pending;
    this.pending = [];
    for (const batch of retries) await this.write(batch);
    // One group at a time: its body is assembled in memory the next one reuses.
    // (A group whose records were all dropped has nothing to write: its drops go with the model's next batch.)
    for (const group of taken) if (group.records > 0) await this.write(await this.batch(group));
  }

  private async write(batch: LogBatch): Promise<void> {
    try {
      await this.writer.write(batch);
      this.bytes -= batch.bufferBytes;
      this.counts.written += batch.count;
    } catch (error) {
      this.counts.writeErrors++;
      // Kept for the next flush: a copy of its body, whose memory the next batch reuses.
      this.pending.push({ ...batch, body: Buffer.from(batch.body) });
      this.warn({ event: 'prediction_log_write_failed', key: batch.key, records: batch.count, message: (error as Error).message });
    }
  }

  /**
   * Shadow scoring (or any enrichment) of a group's champion records, when it applies to the model:
   * the lines read back, the champion ones parsed, enriched and written anew. Null: the body as it is.
   */
  private async enrich(group: Group, text: Buffer): Promise<Buffer | null> {
    const enrich = this.options.enrich;
    if (!enrich || group.champion.length === 0) return null;
    try {
      if (!(await enrich.applies(group.model))) return null;
      const lines = text.toString('utf8').split('\n');
      const records = group.champion.map((i) => JSON.parse(lines[i]) as PredictionRecord);
      await enrich.apply(records);
      // The line grows by the challenger part; the buffer's count keeps the size it was added with.
      records.forEach((r, j) => {
        lines[group.champion[j]] = recordLine(r);
      });
      return Buffer.from(lines.join('\n'));
    } catch (error) {
      this.warn({ event: 'prediction_log_enrich_failed', model: group.model, message: (error as Error).message });
      return null;
    }
  }

  /** A group as one batch, with its object key. */
  private async batch(group: Group): Promise<LogBatch> {
    const plain = this.memory.body(group);
    const text = (await this.enrich(group, plain)) ?? plain;
    const { body, extension, contentType } = await encodedBody(text);
    const stamp = new Date(this.now()).toISOString().replace(/[-:.]/g, '');
    const dropped = this.droppedByModel.get(group.model) ?? 0;
    this.droppedByModel.delete(group.model);
    return {
      model: group.model,
      date: group.day,
      dropped,
      writerId: this.writerId,
      seqFirst: group.seqFirst,
      seqLast: group.seqLast,
      bufferBytes: group.bytes,
      key: keys.predictionLog(group.model, group.day, `${stamp}-${this.writerId}-${++this.seq}${extension}`),
      count: group.records,
      body,
      contentType,
    };
  }

  private warn(event: Record<string, unknown>): void {
    try {
      this.options.warn?.(event);
    } catch {
      // a logger that throws must not break the log
    }
  }

  /** The counts, with the queued requests added first. */
  stats(): PredictionLogStats {
    this.addQueued();
    return { ...this.counts, bufferedRecords: this.records + this.pending.reduce((n, b) => n + b.count, 0), bufferedBytes: this.bytes };
  }

  /** Stops the timer and writes everything out (a failed batch is tried once more). */
  async close(): Promise<PredictionLogStats> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.flush();
    if (this.pending.length > 0) await this.flush();
    this.memory.clear();
    return this.stats();
  }
}
