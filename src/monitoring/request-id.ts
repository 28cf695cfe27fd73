// Request ids that say where their log records are: a UUID (version 8, RFC 9562's custom layout)
// made of the writing process's id and its request number. Feedback finds the log object by the
// writer and number (prediction_log_flushes), so nothing is written per prediction to MySQL.
//
//   sssssss s-ssss-8sss-Vrrr-wwwwwwwwwwww   s: request number (60 bits, hex)   V: variant (8–b)
//                                            r: random                        w: writer id (48 bits)
import { randomBytes, randomFillSync } from 'node:crypto';

const SHAPE = /^([0-9a-f]{8})-([0-9a-f]{4})-8([0-9a-f]{3})-[89ab][0-9a-f]{3}-([0-9a-f]{12})$/;

export const newWriterId = (): string => randomBytes(6).toString('hex');

/**
 * The random part, drawn from a pool refilled every 4096 ids: one call into the CSPRNG per request
 * cost more than the rest of the request's logging.
 */
const pool = new Uint16Array(4096);
let drawn = pool.length;
function random16(): number {
  if (drawn === pool.length) {
    randomFillSync(pool);
    drawn = 0;
  }
  return pool[drawn++];
}

export function formatRequestId(writerId: string, seq: number): string {
  const s = seq.toString(16).padStart(15, '0');
  // Variant bits 10xx, then 14 random bits.
  const r = ((random16() & 0x3fff) | 0x8000).toString(16);
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-8${s.slice(12, 15)}-${r}-${writerId}`;
}

/** The writer and request number of an id this scheme made; null for any other string. */
export function parseRequestId(id: string): { writerId: string; seq: number } | null {
  const m = SHAPE.exec(id);
  if (!m) return null;
  return { writerId: m[4], seq: requestNumberAt(id) };
}

/**
 * The request number in the places formatRequestId writes it, the id's shape not checked (NaN or a wrong
 * number for other strings): for a caller that knows the id is one it made.
 */
export function requestNumberAt(id: string): number {
  return Number.parseInt(id.slice(0, 8), 16) * 2 ** 28 + Number.parseInt(id.slice(9, 13) + id.slice(15, 18), 16);
}
