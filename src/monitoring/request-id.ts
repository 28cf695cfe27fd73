// Request ids that say where their log records are: a UUID (version 8, RFC 9562's custom layout)
// made of the writing process's id and its request number. Feedback finds the log object by the
// writer and number (prediction_log_flushes), so nothing is written per prediction to MySQL.
//
//   sssssss s-ssss-8sss-Vrrr-wwwwwwwwwwww   s: request number (60 bits, hex)   V: variant (8–b)
//                                            r: random                        w: writer id (48 bits)
import { randomBytes } from 'node:crypto';

const SHAPE = /^([0-9a-f]{8})-([0-9a-f]{4})-8([0-9a-f]{3})-[89ab][0-9a-f]{3}-([0-9a-f]{12})$/;

export const newWriterId = (): string => randomBytes(6).toString('hex');

export function formatRequestId(writerId: string, seq: number): string {
  const s = seq.toString(16).padStart(15, '0');
  const r = randomBytes(2).toString('hex');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-8${s.slice(12, 15)}-${'89ab'[parseInt(r[0], 16) & 3]}${r.slice(1, 4)}-${writerId}`;
}

/** The writer and request number of an id this scheme made; null for any other string. */
export function parseRequestId(id: string): { writerId: string; seq: number } | null {
  const m = SHAPE.exec(id);
  if (!m) return null;
  return { writerId: m[4], seq: parseInt(`${m[1]}${m[2]}${m[3]}`, 16) };
}
