import assert from 'node:assert/strict';
import { test } from 'node:test';
import { layoutAsl, transitionsOf, type AslMachine } from '../../src/executions/asl-graph.ts';
import { readDefinitionText } from '../../src/statemachine/definition.ts';

const overlaps = (a: { x: number; y: number; width: number; height: number }, b: typeof a) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

test('the pipeline ASL lays out as a graph: every state once, no overlaps, nested states inside their Map', async () => {
  const machine = JSON.parse(await readDefinitionText()) as AslMachine;
  const g = layoutAsl(machine);
  const top = Object.keys(machine.States);
  for (const name of top)
    assert.ok(
      g.nodes.some((n) => n.id === name),
      `node ${name}`,
    );
  assert.ok(
    g.nodes.some((n) => n.id === 'Trials/Train' && n.parent === 'Trials'),
    'Train is drawn inside Trials',
  );
  const ids = g.nodes.map((n) => n.id);
  assert.equal(new Set(ids).size, ids.length, 'ids are unique');
  for (const a of g.nodes) {
    assert.ok(a.x >= 0 && a.y >= 0 && a.x + a.width <= g.width && a.y + a.height <= g.height, `${a.id} inside the canvas`);
    for (const b of g.nodes) {
      if (a === b || a.id === b.parent || b.id === a.parent) continue;
      assert.ok(!overlaps(a, b), `${a.id} and ${b.id} do not overlap`);
    }
  }
  const map = g.nodes.find((n) => n.id === 'Trials')!;
  for (const child of g.nodes.filter((n) => n.parent === 'Trials')) {
    assert.ok(
      child.x >= map.x && child.y >= map.y && child.x + child.width <= map.x + map.width && child.y + child.height <= map.y + map.height,
      `${child.id} inside the Map`,
    );
  }
  // Every transition is an edge between drawn nodes; the batch loop goes back up.
  for (const e of g.edges) assert.ok(ids.includes(e.from) && ids.includes(e.to), `${e.from} → ${e.to}`);
  const loop = g.edges.find((e) => e.from === 'WaitForNextBatch' && e.to === 'FetchBatch')!;
  assert.equal(loop.back, true);
  assert.ok(
    g.edges
      .filter((e) => !e.back)
      .every((e) => {
        const a = g.nodes.find((n) => n.id === e.from)!;
        const b = g.nodes.find((n) => n.id === e.to)!;
        return b.y > a.y;
      }),
    'forward edges point down',
  );
  // The main line stays in the first column; catch handlers to the right of it.
  const col = (id: string) => g.nodes.find((n) => n.id === id)!.column;
  for (const id of ['ApplyDefaults', 'FetchBatch', 'Preprocess', 'Trials', 'Promote', 'Done']) assert.equal(col(id), 0, `${id} on the main line`);
  assert.ok(col('RecordFailure') > 0 && col('RecordFetchFailure') > 0);
  assert.ok(g.edges.some((e) => e.from === 'FetchBatch' && e.to === 'RecordFetchFailure' && e.kind === 'catch'));
});

test('transitions: Next, Default, Choices and Catch, primary ones first', () => {
  assert.deepEqual(
    transitionsOf({ Type: 'Choice', Default: 'B', Choices: [{ Next: 'C' }] }).map((t) => `${t.kind}:${t.to}`),
    ['default:B', 'choice:C'],
  );
  assert.deepEqual(
    transitionsOf({ Type: 'Task', Next: 'B', Catch: [{ ErrorEquals: ['States.ALL'], Next: 'F' }] }).map((t) => `${t.kind}:${t.to}`),
    ['next:B', 'catch:F'],
  );
  assert.deepEqual(transitionsOf({ Type: 'Succeed' }), []);
});

test('a small machine: a loop, a branch and a Parallel state with branches side by side', () => {
  const g = layoutAsl({
    StartAt: 'A',
    States: {
      A: { Type: 'Task', Next: 'C' },
      C: { Type: 'Choice', Choices: [{ Next: 'A' }], Default: 'P' },
      P: {
        Type: 'Parallel',
        Next: 'End',
        Branches: [
          { StartAt: 'X', States: { X: { Type: 'Pass', End: true } } },
          { StartAt: 'Y', States: { Y: { Type: 'Pass', End: true } } },
        ],
      },
      End: { Type: 'Succeed' },
    },
  });
  assert.equal(g.edges.find((e) => e.from === 'C' && e.to === 'A')?.back, true);
  const x = g.nodes.find((n) => n.name === 'X')!;
  const y = g.nodes.find((n) => n.name === 'Y')!;
  assert.equal(x.parent, 'P');
  assert.ok(y.x >= x.x + x.width, 'branches side by side');
  assert.ok(g.nodes.find((n) => n.id === 'End')!.y > g.nodes.find((n) => n.id === 'P')!.y);
});
