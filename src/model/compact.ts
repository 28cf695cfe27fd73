// The binary model file: a JSON header and the trees as flat little-endian typed arrays.
// Layout and field meanings are in docs/MODEL-FORMAT.md; in short:
//
//   bytes 0–7    magic "MLOPSTRE"
//   bytes 8–11   u32 format version (2; version 1 files, without defaultLeft, still load)
//   bytes 12–15  u32 header length H
//   16 .. 16+H   header, UTF-8 JSON: { version, meta, trees, inputSchemaSha256, payloadSha256, sections }
//   then         sections, each at an offset (from the payload start) that is a multiple of 8
//
// Loading is a header parse, a hash check and typed-array views on the bytes: no per-node work.
import { createHash } from 'node:crypto';
import os from 'node:os';
import { featureColumns, type DatasetSpec } from '../dataset/spec.ts';
import type { CompactTrees } from '../forest/compact.ts';

export const COMPACT_MAGIC = 'MLOPSTRE';
export const COMPACT_VERSION = 2;
/** Versions this code reads: 1 had no defaultLeft section (a missing value went right at every split). */
const READABLE_VERSIONS = [1, 2];

type Dtype = 'u8' | 'u16' | 'u32' | 'f64';
type TypedArray = Uint8Array | Uint16Array | Uint32Array | Float64Array;
const TYPES = { u8: Uint8Array, u16: Uint16Array, u32: Uint32Array, f64: Float64Array } as const;

const dtypeOf = (a: TypedArray): Dtype => (a instanceof Uint8Array ? 'u8' : a instanceof Uint16Array ? 'u16' : a instanceof Uint32Array ? 'u32' : 'f64');

/** The arrays of CompactTrees, in file order, with the types each may have. */
const SECTIONS = {
  treeStart: ['u32'],
  treeOutput: ['u32'],
  base: ['f64'],
  feature: ['u8', 'u16'],
  bin: ['u8', 'u16', 'u32'],
  child: ['u32'],
  splitStart: ['u32'],
  splitValues: ['f64'],
  leafValues: ['f64'],
  defaultLeft: ['u8'],
} as const satisfies Record<string, readonly Dtype[]>;
type SectionName = keyof typeof SECTIONS;
/** Sections a file may leave out (CompactTrees' optional arrays). */
const OPTIONAL: ReadonlySet<SectionName> = new Set(['defaultLeft']);

interface SectionEntry {
  name: SectionName;
  dtype: Dtype;
  offset: number;
  length: number;
}

interface Header {
  version: number;
  /** Everything about the model but its trees (dataset, spec, params, importances…): plain JSON. */
  meta: Record<string, unknown>;
  trees: Pick<CompactTrees, 'task' | 'combine' | 'nFeatures' | 'nOutputs' | 'leafWidth'>;
  /** sha256 of the input schema (the spec's feature columns and the encoded feature names) the trees expect. */
  inputSchemaSha256: string;
  /** sha256 of every byte after the header. */
  payloadSha256: string;
  sections: SectionEntry[];
}

/**
 * The input schema a model expects, hashed: the feature columns (names, types, ranges, categories,
 * patterns, whether missing values are allowed), the spec's transforms and the encoded feature names.
 */
export function inputSchemaSha256(spec: DatasetSpec, featureNames: readonly string[]): string {
  const columns = featureColumns(spec).map(({ description: _d, ...column }) => column);
  return createHash('sha256')
    .update(JSON.stringify({ columns, transforms: spec.transforms ?? null, featureNames }))
    .digest('hex');
}

export class CompactFormatError extends Error {}

const align8 = (n: number): number => (n + 7) & ~7;

/** Writes the file. `meta` must be JSON; the same inputs give the same bytes. */
export function encodeCompact(trees: CompactTrees, meta: Record<string, unknown>, inputSchema: string): Uint8Array {
  if (os.endianness() !== 'LE') throw new CompactFormatError('the model format is little-endian; this machine is not');
  const sections: SectionEntry[] = [];
  let size = 0;
  for (const name of Object.keys(SECTIONS) as SectionName[]) {
    const array = trees[name];
    if (array === undefined) continue;
    sections.push({ name, dtype: dtypeOf(array), offset: size, length: array.length });
    size = align8(size + array.byteLength);
  }
  const payload = new Uint8Array(size);
  for (const s of sections) {
    const array = trees[s.name] as TypedArray;
    payload.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), s.offset);
  }
  const header: Header = {
    version: COMPACT_VERSION,
    meta,
    trees: { task: trees.task, combine: trees.combine, nFeatures: trees.nFeatures, nOutputs: trees.nOutputs, leafWidth: trees.leafWidth },
    inputSchemaSha256: inputSchema,
    payloadSha256: createHash('sha256').update(payload).digest('hex'),
    sections,
  };
  const json = Buffer.from(JSON.stringify(header));
  const headerEnd = align8(16 + json.length);
  const out = new Uint8Array(headerEnd + payload.length);
  out.set(Buffer.from(COMPACT_MAGIC, 'latin1'), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, COMPACT_VERSION, true);
  view.setUint32(12, headerEnd - 16, true);
  out.set(json, 16);
  // Padding after the JSON is spaces, so the header is valid JSON to its end.
  out.fill(0x20, 16 + json.length, headerEnd);
  out.set(payload, headerEnd);
  return out;
}

export const isCompact = (bytes: Uint8Array): boolean =>
  bytes.length >= 16 && Buffer.from(bytes.buffer, bytes.byteOffset, 8).toString('latin1') === COMPACT_MAGIC;

/**
 * Reads a file written by encodeCompact: checks magic, version, payload hash and section bounds, and
 * returns views on the bytes (copied once if they are not 8-byte aligned). The trees' indices are
 * checked by the compiler (validateCompact) before any walk.
 */
export function decodeCompact(bytes: Uint8Array): { trees: CompactTrees; meta: Record<string, unknown>; inputSchemaSha256: string } {
  if (!isCompact(bytes)) throw new CompactFormatError(`not a model file (no ${COMPACT_MAGIC} magic)`);
  if (os.endianness() !== 'LE') throw new CompactFormatError('the model format is little-endian; this machine is not');
  if (bytes.byteOffset % 8 !== 0) bytes = bytes.slice();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (!READABLE_VERSIONS.includes(version))
    throw new CompactFormatError(`model file version ${version}; this code reads versions ${READABLE_VERSIONS.join(', ')}`);
  const headerLength = view.getUint32(12, true);
  const headerEnd = 16 + headerLength;
  if (headerEnd > bytes.length || headerEnd % 8 !== 0) throw new CompactFormatError('header length out of range');
  let header: Header;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 16, headerLength).toString('utf8')) as Header;
  } catch (error) {
    throw new CompactFormatError(`header is not JSON: ${(error as Error).message}`);
  }
  const payload = bytes.subarray(headerEnd);
  const actual = createHash('sha256').update(payload).digest('hex');
  if (actual !== header.payloadSha256) throw new CompactFormatError(`payload sha256 ${actual} differs from the header's ${String(header.payloadSha256)}`);
  const t = header.trees;
  if (
    !t ||
    (t.task !== 'classification' && t.task !== 'regression') ||
    (t.combine !== 'mean' && t.combine !== 'sum') ||
    ![t.nFeatures, t.nOutputs, t.leafWidth].every((n) => Number.isInteger(n) && n > 0)
  ) {
    throw new CompactFormatError('header.trees is not a valid description');
  }
  const arrays: Partial<Record<SectionName, TypedArray>> = {};
  for (const s of header.sections ?? []) {
    const allowed = SECTIONS[s.name] as readonly Dtype[] | undefined;
    if (!allowed) throw new CompactFormatError(`unknown section ${String(s.name)}`);
    if (!allowed.includes(s.dtype)) throw new CompactFormatError(`section ${s.name} cannot be ${String(s.dtype)}`);
    const Type = TYPES[s.dtype];
    if (
      !Number.isInteger(s.offset) ||
      !Number.isInteger(s.length) ||
      s.offset < 0 ||
      s.length < 0 ||
      s.offset % 8 !== 0 ||
      s.offset + s.length * Type.BYTES_PER_ELEMENT > payload.length
    ) {
      throw new CompactFormatError(`section ${s.name} lies outside the file`);
    }
    arrays[s.name] = new Type(bytes.buffer as ArrayBuffer, bytes.byteOffset + headerEnd + s.offset, s.length);
  }
  if (version < 2 && arrays.defaultLeft) throw new CompactFormatError('section defaultLeft in a version 1 file');
  const missing = (Object.keys(SECTIONS) as SectionName[]).filter((n) => !arrays[n] && !OPTIONAL.has(n));
  if (missing.length > 0) throw new CompactFormatError(`sections missing: ${missing.join(', ')}`);
  const trees = { ...t, ...arrays } as CompactTrees;
  return { trees, meta: header.meta ?? {}, inputSchemaSha256: header.inputSchemaSha256 };
}
