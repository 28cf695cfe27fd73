import { createHash } from 'node:crypto';

/** A UUID derived from names, so re-running a step addresses the same run instead of adding one. */
export function deterministicUuid(...parts: (string | number)[]): string {
  const h = createHash('sha256').update(parts.join('\u001f')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
