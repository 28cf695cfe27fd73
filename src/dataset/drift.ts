// Drift between two versions of a dataset: the population stability index (PSI) of each feature,
// the current version's values against the previous version's distribution.
//
//   PSI = Σ over bins (a_i − e_i) · ln(a_i / e_i)
//
// where e_i and a_i are the reference ("expected") and current ("actual") shares of bin i. Numeric
// features use the reference profile's histogram bins (values outside its range fall into the
// outer bins); categorical features use their categories. A share of 0 is replaced by
// PSI_EPSILON so that a bin empty on one side gives a large but finite term. Rule of thumb:
// < 0.1 stable, 0.1–0.2 some shift, > 0.2 a significant shift (the default threshold).
import { binCounts, numericValues, type ColumnProfile, type DatasetProfile } from './profile.ts';
import { featureColumns, type DatasetSpec } from './spec.ts';
import type { TypedRow } from './validate.ts';

export const DEFAULT_PSI_THRESHOLD = 0.2;
export const PSI_EPSILON = 1e-4;

export interface FeatureDrift {
  name: string;
  type: ColumnProfile['type'];
  /** null when it cannot be computed: no reference for the column, a changed type, or no values on a side. */
  psi: number | null;
  drifted: boolean;
  /** Bin labels with reference and current shares, to see where the shift is. */
  bins: { bin: string; expected: number; actual: number }[];
}

export interface DriftReport {
  dataset: string;
  /** The version compared with; null for a dataset's first version. */
  baselineVersion: number | null;
  baselineContentHash: string | null;
  threshold: number;
  /**
   * True when a feature's PSI is above the threshold, and also when there is no previous version
   * (nothing says the data is unchanged, so the first version is always "drifted" and trains).
   */
  drifted: boolean;
  /** Largest PSI over the features (0 without a baseline). */
  maxPsi: number;
  /** Features whose PSI is above the threshold, highest first. */
  flagged: string[];
  reason: string;
  features: FeatureDrift[];
}

/** The small part of a report that travels in step outputs and MySQL. */
export interface DriftSummary {
  drifted: boolean;
  maxPsi: number;
  flagged: string[];
  baselineVersion: number | null;
  threshold: number;
}

export const driftSummary = (r: DriftReport): DriftSummary => ({
  drifted: r.drifted,
  maxPsi: r.maxPsi,
  flagged: r.flagged,
  baselineVersion: r.baselineVersion,
  threshold: r.threshold,
});

/** PSI from bin counts of the reference (`expected`) and current (`actual`) data; null if a side is empty. */
export function psi(expected: readonly number[], actual: readonly number[], epsilon = PSI_EPSILON): number | null {
  if (expected.length !== actual.length) throw new RangeError(`psi: ${expected.length} reference bins, ${actual.length} current bins`);
  const e = shares(expected, epsilon);
  const a = shares(actual, epsilon);
  if (e === null || a === null) return null;
  let sum = 0;
  for (let i = 0; i < e.length; i++) sum += (a[i] - e[i]) * Math.log(a[i] / e[i]);
  return sum;
}

function shares(counts: readonly number[], epsilon: number): number[] | null {
  const total = counts.reduce((s, c) => s + c, 0);
  if (total === 0) return null;
  return counts.map((c) => Math.max(c / total, epsilon));
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;
const fmt = (x: number) => String(round(x));

type Value = number | string | null | undefined;

/** PSI of one column's current values against its reference profile. */
export function featureDrift(
  reference: ColumnProfile | undefined,
  type: ColumnProfile['type'],
  name: string,
  values: readonly Value[],
  threshold: number,
): FeatureDrift {
  const none: FeatureDrift = { name, type, psi: null, drifted: false, bins: [] };
  if (reference === undefined || (reference.type === 'categorical') !== (type === 'categorical')) return none;
  let labels: string[];
  let expected: number[];
  let actual: number[];
  if (reference.type === 'categorical') {
    const current: Record<string, number> = {};
    for (const v of values) if (v !== null && v !== undefined && v !== '') current[String(v)] = (current[String(v)] ?? 0) + 1;
    labels = [...new Set([...Object.keys(reference.categories), ...Object.keys(current)])];
    expected = labels.map((l) => reference.categories[l] ?? 0);
    actual = labels.map((l) => current[l] ?? 0);
  } else {
    const { edges, counts } = reference.histogram;
    if (counts.length === 0) return none;
    expected = counts;
    actual = binCounts(edges, numericValues(values).numbers);
    const n = counts.length;
    labels = counts.map((_, i) =>
      n === 1 ? '(-∞, ∞)' : i === 0 ? `(-∞, ${fmt(edges[1])})` : i === n - 1 ? `[${fmt(edges[i])}, ∞)` : `[${fmt(edges[i])}, ${fmt(edges[i + 1])})`,
    );
  }
  const value = psi(expected, actual);
  if (value === null) return none;
  const te = expected.reduce((s, c) => s + c, 0);
  const ta = actual.reduce((s, c) => s + c, 0);
  return {
    name,
    type,
    psi: round(value),
    drifted: value > threshold,
    bins: labels.map((bin, i) => ({ bin, expected: round(expected[i] / te), actual: round(actual[i] / ta) })),
  };
}

/**
 * Compares the current rows of a dataset with the profile of its previous version, feature by
 * feature (the target is not a feature). `baseline` is null for a first version.
 */
export function driftReport(
  spec: DatasetSpec,
  rows: readonly Readonly<TypedRow>[],
  baseline: { version: number; contentHash: string; profile: DatasetProfile } | null,
  options: { threshold?: number } = {},
): DriftReport {
  const threshold = options.threshold ?? DEFAULT_PSI_THRESHOLD;
  const base = { dataset: spec.name, threshold };
  if (baseline === null) {
    return {
      ...base,
      baselineVersion: null,
      baselineContentHash: null,
      drifted: true,
      maxPsi: 0,
      flagged: [],
      reason: 'first version of the dataset: no previous version to compare with',
      features: [],
    };
  }
  const byName = new Map(baseline.profile.columns.map((c) => [c.name, c]));
  const features = featureColumns(spec).map((col) =>
    featureDrift(
      byName.get(col.name),
      col.type === 'text' ? 'categorical' : col.type,
      col.name,
      rows.map((r) => r[col.name]),
      threshold,
    ),
  );
  const flaggedFeatures = features.filter((f) => f.drifted).sort((x, y) => (y.psi ?? 0) - (x.psi ?? 0));
  const maxPsi = features.reduce((m, f) => Math.max(m, f.psi ?? 0), 0);
  const compared = features.filter((f) => f.psi !== null).length;
  const reason =
    flaggedFeatures.length > 0
      ? `${flaggedFeatures.length} of ${compared} features have PSI above ${threshold} against version ${baseline.version}: ${flaggedFeatures.map((f) => `${f.name} ${f.psi}`).join(', ')}`
      : `no feature has PSI above ${threshold} against version ${baseline.version} (max ${round(maxPsi)} over ${compared} features)`;
  return {
    ...base,
    baselineVersion: baseline.version,
    baselineContentHash: baseline.contentHash,
    drifted: flaggedFeatures.length > 0,
    maxPsi: round(maxPsi),
    flagged: flaggedFeatures.map((f) => f.name),
    reason,
    features,
  };
}
