/**
 * The state machine as a drawable graph: the ASL's states (Map/Parallel states with their nested
 * states inside them) and transitions, laid out top to bottom in layers. Pure: the console draws
 * the result as SVG and colours each node by the status of its state in one execution.
 */

export interface AslState {
  Type: string;
  Next?: string;
  Default?: string;
  End?: boolean;
  Choices?: { Next?: string }[];
  Catch?: { ErrorEquals?: string[]; Next: string }[];
  ItemProcessor?: AslMachine;
  Iterator?: AslMachine;
  Branches?: AslMachine[];
  Comment?: string;
}

export interface AslMachine {
  StartAt: string;
  States: Record<string, AslState>;
}

export type EdgeKind = 'next' | 'choice' | 'default' | 'catch';

export interface GraphNode {
  /** Unique in the graph: nested states are `Map/State`. */
  id: string;
  /** The state's name (what execution events carry). */
  name: string;
  type: string;
  /** Id of the Map/Parallel node this one is drawn in, or null at top level. */
  parent: string | null;
  layer: number;
  column: number;
  x: number;
  y: number;
  width: number;
  height: number;
  /** Task/Map/… comment, shown as a tooltip. */
  comment?: string;
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: EdgeKind;
  /** Goes back up (a loop): drawn around the left side. */
  back: boolean;
  /** Choice rule / caught errors, short. */
  label?: string;
}

export interface GraphLayout {
  width: number;
  height: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export const NODE_WIDTH = 176;
export const NODE_HEIGHT = 38;
const GAP_X = 48;
const GAP_Y = 30;
const PAD = 14;
const HEADER = 30;

interface Transition {
  to: string;
  kind: EdgeKind;
  label?: string;
}

/** Every transition out of a state, primary ones (Next/Default/Choices) first, then Catch. */
export function transitionsOf(state: AslState): Transition[] {
  const out: Transition[] = [];
  if (state.Next) out.push({ to: state.Next, kind: 'next' });
  if (state.Default) out.push({ to: state.Default, kind: 'default', label: 'default' });
  (state.Choices ?? []).forEach((c, i) => {
    if (c.Next) out.push({ to: c.Next, kind: 'choice', label: `rule ${i + 1}` });
  });
  for (const c of state.Catch ?? []) out.push({ to: c.Next, kind: 'catch', label: (c.ErrorEquals ?? []).join(', ') });
  return out;
}

const nestedOf = (state: AslState): AslMachine[] => (state.ItemProcessor ? [state.ItemProcessor] : state.Iterator ? [state.Iterator] : (state.Branches ?? []));

interface Sized {
  width: number;
  height: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

function layoutLevel(machine: AslMachine, prefix: string, parent: string | null): Sized {
  const names = Object.keys(machine.States);
  const known = new Set(names);
  const out = new Map(names.map((n) => [n, transitionsOf(machine.States[n]).filter((t) => known.has(t.to))]));

  // Depth-first from StartAt (then any unreachable state) to tell loops (back edges) from forward edges.
  const back = new Set<string>();
  const order: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (n: string) => {
    state.set(n, 'open');
    order.push(n);
    for (const t of out.get(n) ?? []) {
      const s = state.get(t.to);
      if (s === 'open') back.add(`${n}\u0000${t.to}`);
      else if (s === undefined) visit(t.to);
    }
    state.set(n, 'done');
  };
  if (known.has(machine.StartAt)) visit(machine.StartAt);
  for (const n of names) if (!state.has(n)) visit(n);
  const isBack = (from: string, to: string) => back.has(`${from}\u0000${to}`);

  // Layer: longest forward path from the start. Height: longest forward path to an end (the main line is the longest).
  const layer = new Map<string, number>(order.map((n) => [n, 0]));
  for (let changed = true, guard = 0; changed && guard < names.length + 1; guard++) {
    changed = false;
    for (const n of order)
      for (const t of out.get(n) ?? []) {
        if (isBack(n, t.to)) continue;
        const l = (layer.get(n) ?? 0) + 1;
        if (l > (layer.get(t.to) ?? 0)) {
          layer.set(t.to, l);
          changed = true;
        }
      }
  }
  const height = new Map<string, number>();
  const heightOf = (n: string): number => {
    const known = height.get(n);
    if (known !== undefined) return known;
    height.set(n, 0);
    const h = Math.max(0, ...(out.get(n) ?? []).filter((t) => !isBack(n, t.to)).map((t) => heightOf(t.to) + 1));
    height.set(n, h);
    return h;
  };
  for (const n of order) heightOf(n);

  // Nested machines first: a Map node is as large as what it holds.
  const inner = new Map<string, Sized>();
  for (const n of names) {
    const nested = nestedOf(machine.States[n]);
    if (nested.length === 0) continue;
    const id = `${prefix}${n}`;
    const parts = nested.map((m, i) => layoutLevel(m, nested.length > 1 ? `${id}/${i}/` : `${id}/`, id));
    // Parallel branches side by side.
    let x = 0;
    const nodes: GraphNode[] = [];
    const edges: GraphEdge[] = [];
    for (const p of parts) {
      for (const node of p.nodes) nodes.push({ ...node, x: node.x + x });
      edges.push(...p.edges);
      x += p.width + GAP_X;
    }
    inner.set(n, { width: Math.max(NODE_WIDTH, x - GAP_X), height: Math.max(...parts.map((p) => p.height)), nodes, edges });
  }
  const sizeOf = (n: string) => {
    const i = inner.get(n);
    return i ? { width: i.width + 2 * PAD, height: i.height + HEADER + PAD } : { width: NODE_WIDTH, height: NODE_HEIGHT };
  };

  // Columns: a state stays in the column of the state that leads to it (the main line in column 0);
  // what a Catch leads to goes one column right. Within a layer, the state with the longest way to go first.
  const column = new Map<string, number>();
  const byLayer = new Map<number, string[]>();
  for (const n of order) byLayer.set(layer.get(n) ?? 0, [...(byLayer.get(layer.get(n) ?? 0) ?? []), n]);
  const layers = [...byLayer.keys()].sort((a, b) => a - b);
  const into = new Map<string, { from: string; kind: EdgeKind }[]>();
  for (const n of order) for (const t of out.get(n) ?? []) if (!isBack(n, t.to)) into.set(t.to, [...(into.get(t.to) ?? []), { from: n, kind: t.kind }]);
  for (const l of layers) {
    const taken = new Set<number>();
    const members = [...(byLayer.get(l) ?? [])].sort((a, b) => (height.get(b) ?? 0) - (height.get(a) ?? 0) || order.indexOf(a) - order.indexOf(b));
    for (const n of members) {
      const preds = into.get(n) ?? [];
      const primary = preds.filter((p) => p.kind !== 'catch').map((p) => column.get(p.from) ?? 0);
      const caught = preds.filter((p) => p.kind === 'catch').map((p) => (column.get(p.from) ?? 0) + 1);
      let c = primary.length > 0 ? Math.min(...primary) : caught.length > 0 ? Math.min(...caught) : 0;
      while (taken.has(c)) c++;
      taken.add(c);
      column.set(n, c);
    }
  }

  const columns = Math.max(0, ...column.values()) + 1;
  const colWidth = Array.from({ length: columns }, (_, c) => Math.max(NODE_WIDTH, ...names.filter((n) => column.get(n) === c).map((n) => sizeOf(n).width)));
  const colX = colWidth.map((_, c) => colWidth.slice(0, c).reduce((s, w) => s + w + GAP_X, 0));
  const rowHeight = layers.map((l) => Math.max(...(byLayer.get(l) ?? []).map((n) => sizeOf(n).height)));
  const rowY = rowHeight.map((_, i) => rowHeight.slice(0, i).reduce((s, h) => s + h + GAP_Y, 0));

  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  for (const n of order) {
    const c = column.get(n) ?? 0;
    const li = layers.indexOf(layer.get(n) ?? 0);
    const size = sizeOf(n);
    const x = colX[c] + (colWidth[c] - size.width) / 2;
    const y = rowY[li];
    const id = `${prefix}${n}`;
    const s = machine.States[n];
    nodes.push({
      id,
      name: n,
      type: s.Type,
      parent,
      layer: li,
      column: c,
      x,
      y,
      width: size.width,
      height: size.height,
      ...(s.Comment ? { comment: s.Comment } : {}),
    });
    const i = inner.get(n);
    if (i) {
      for (const child of i.nodes) nodes.push({ ...child, x: child.x + x + PAD, y: child.y + y + HEADER });
      edges.push(...i.edges);
    }
    for (const t of out.get(n) ?? []) {
      edges.push({ from: id, to: `${prefix}${t.to}`, kind: t.kind, back: isBack(n, t.to), ...(t.label ? { label: t.label } : {}) });
    }
  }
  const width = colX[columns - 1] + colWidth[columns - 1];
  const totalHeight = rowY[rowY.length - 1] + rowHeight[rowHeight.length - 1];
  return { width, height: totalHeight, nodes, edges };
}

/** Lays the machine out; coordinates are in pixels from the top left, with a margin for loop edges. */
export function layoutAsl(machine: AslMachine, margin = 40): GraphLayout {
  const level = layoutLevel(machine, '', null);
  return {
    width: level.width + 2 * margin,
    height: level.height + 2 * margin,
    nodes: level.nodes.map((n) => ({ ...n, x: n.x + margin, y: n.y + margin })),
    edges: level.edges,
  };
}
