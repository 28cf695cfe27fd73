// The prediction log: every logged prediction row as one JSON object, written to S3 as JSON Lines
// under predictions/<model>/date=YYYY-MM-DD/ (keys.predictionLog), one object per flush.
//
// Off the request path: `add` only appends to an in-memory buffer (its memory bounded: a full
// buffer drops the record and counts it); the buffer is written out when it holds
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
import { keys } from '../storage/keys.ts';
import { formatRequestId, newWriterId, parseRequestId } from './request-id.ts';

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
  /** JSON Lines, one per record. */
  body: string;
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
 * A buffered record: its JSON line (made on the request path) and the few facts the flush groups
 * by. Only the string is kept, not the record's objects (the request's rows, probabilities): a
 * request's garbage dies young instead of being copied through the GC's generations while it waits.
 */
interface Entry {
  line: string;
  model: string;
  day: string;
  requestId: string;
  champion: boolean;
  /** What it counts against the buffer's bound. */
  bytes: number;
}

/** Memory counted per record beyond its JSON line (the entry object, its array slot). */
const ENTRY_OVERHEAD = 96;

export class PredictionLog {
  private readonly writer: LogWriter;
  private readonly options: PredictionLogOptions;
  private readonly now: () => number;
  private readonly random: () => number;
  /** Names this writer's objects and request ids, so two containers never collide. */
  readonly writerId = newWriterId();
  private nextSeq = 0;
  private entries: Entry[] = [];
  private oldestAt = 0;
  /** Batches whose write failed, retried first at the next flush. */
  private pending: LogBatch[] = [];
  private bytes = 0;
  private seq = 0;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly droppedByModel = new Map<string, number>();
  private readonly counts = { logged: 0, sampledOut: 0, dropped: 0, written: 0, writeErrors: 0 };

  constructor(writer: LogWriter, options: PredictionLogOptions) {
    this.writer = writer;
    this.options = options;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    if (options.background) {
      this.timer = setInterval(
        () => {
          if (this.due()) void this.flush();
        },
        Math.max(50, Math.min(options.flushMs, 1000)),
      );
      this.timer.unref();
    }
  }

  /** A new request id (request-id.ts): it names this log and the request's number, so feedback can find its records. */
  requestId(): string {
    return formatRequestId(this.writerId, this.nextSeq++);
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
        line = JSON.stringify(record);
      } catch {
        this.drop(record.model); // not serializable (never from a validated request)
        continue;
      }
      const bytes = line.length + ENTRY_OVERHEAD;
      if (this.bytes + bytes > this.options.bufferBytes) {
        this.drop(record.model);
        continue;
      }
      if (this.entries.length === 0) this.oldestAt = this.now();
      this.entries.push({ line, model: record.model, day: record.ts.slice(0, 10), requestId: record.request_id, champion: record.alias === 'champion', bytes });
      this.bytes += bytes;
      this.counts.logged++;
    }
    // One flush at a time is enough: what arrives meanwhile goes with the next (the timer, or the next add).
    if (this.options.background && this.bytes >= this.options.flushBytes && !this.flushing) void this.flush();
  }

  private drop(model: string): void {
    this.counts.dropped++;
    this.droppedByModel.set(model, (this.droppedByModel.get(model) ?? 0) + 1);
  }

  /** Something to write, and the size or age threshold is reached. */
  due(): boolean {
    if (this.pending.length > 0) return true;
    if (this.entries.length === 0) return false;
    return this.bytes >= this.options.flushBytes || this.now() - this.oldestAt >= this.options.flushMs;
  }

  /** For a handler that may be frozen after it returns: flushes (and waits) only when due. */
  async afterInvocation(): Promise<void> {
    if (this.due()) await this.flush();
  }

  /** Writes everything buffered; never throws (failures are counted and kept for the next flush). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.entries.length === 0 && this.pending.length === 0) return;
    this.flushing = this.writeOut();
    try {
      await this.flushing;
    } finally {
      this.flushing = undefined;
    }
  }

  private async writeOut(): Promise<void> {
    const taken = this.entries;
    this.entries = [];
    const batches = this.pending;
    this.pending = [];
    if (taken.length > 0) {
      await this.enrich(taken);
      batches.push(...this.batch(taken));
    }
    for (const batch of batches) {
      try {
        await this.writer.write(batch);
        this.bytes -= batch.bufferBytes;
        this.counts.written += batch.count;
      } catch (error) {
        this.counts.writeErrors++;
        this.pending.push(batch);
        this.warn({ event: 'prediction_log_write_failed', key: batch.key, records: batch.count, message: (error as Error).message });
      }
    }
  }

  /** Shadow scoring (or any enrichment) of the champion entries of the models it applies to: parsed, enriched, written back. */
  private async enrich(entries: Entry[]): Promise<void> {
    const enrich = this.options.enrich;
    if (!enrich) return;
    const byModel = new Map<string, Entry[]>();
    for (const e of entries) {
      if (!e.champion) continue;
      const list = byModel.get(e.model);
      if (list) list.push(e);
      else byModel.set(e.model, [e]);
    }
    for (const [model, list] of byModel) {
      try {
        if (!(await enrich.applies(model))) continue;
        const records = list.map((e) => JSON.parse(e.line) as PredictionRecord);
        await enrich.apply(records);
        // The line grows by the challenger part; the buffer's count keeps the size it was added with.
        records.forEach((r, i) => {
          list[i].line = JSON.stringify(r);
        });
      } catch (error) {
        this.warn({ event: 'prediction_log_enrich_failed', model, message: (error as Error).message });
      }
    }
  }

  /** Groups entries by model and UTC day into batches with their object keys. */
  private batch(entries: readonly Entry[]): LogBatch[] {
    const groups = new Map<string, Entry[]>();
    for (const e of entries) {
      const k = `${e.model}\u0000${e.day}`;
      const g = groups.get(k);
      if (g) g.push(e);
      else groups.set(k, [e]);
    }
    const stamp = new Date(this.now()).toISOString().replace(/[-:.]/g, '');
    const out: LogBatch[] = [];
    for (const [k, group] of groups) {
      const [model, date] = k.split('\u0000');
      const dropped = this.droppedByModel.get(model) ?? 0;
      this.droppedByModel.delete(model);
      let seqFirst: number | null = null;
      let seqLast: number | null = null;
      for (const e of group) {
        const id = parseRequestId(e.requestId);
        if (!id || id.writerId !== this.writerId) continue;
        if (seqFirst === null || id.seq < seqFirst) seqFirst = id.seq;
        if (seqLast === null || id.seq > seqLast) seqLast = id.seq;
      }
      out.push({
        model,
        date,
        dropped,
        writerId: this.writerId,
        seqFirst,
        seqLast,
        bufferBytes: group.reduce((n, e) => n + e.bytes, 0),
        key: keys.predictionLog(model, date, `${stamp}-${this.writerId}-${++this.seq}.jsonl`),
        count: group.length,
        body: `${group.map((e) => e.line).join('\n')}\n`,
      });
    }
    return out;
  }

  private warn(event: Record<string, unknown>): void {
    try {
      this.options.warn?.(event);
    } catch {
      // a logger that throws must not break the log
    }
  }

  stats(): PredictionLogStats {
    return { ...this.counts, bufferedRecords: this.entries.length + this.pending.reduce((n, b) => n + b.count, 0), bufferedBytes: this.bytes };
  }

  /** Stops the timer and writes everything out (a failed batch is tried once more). */
  async close(): Promise<PredictionLogStats> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.flush();
    if (this.pending.length > 0) await this.flush();
    return this.stats();
  }
}
