// bench:predict-log --perf reads perf's samples per gateway and compares the sides (bench/perf-profile.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareProfiles, PERF_HZ, parseProfiles } from '../../bench/perf-profile.ts';

const sample = (pid: number, tid: number, symbol: string) => `   ${pid}/${tid}      7f1ddc155d84 ${symbol}`;

describe('bench perf profiles', () => {
  it("counts each process's samples by thread and by symbol, a JavaScript function's tiers as one", () => {
    const script = [
      sample(10, 10, 'uv__io_poll'),
      sample(10, 11, 'JS:*addRequest file:///app/dist/src/monitoring/prediction-log.js:311:15'),
      sample(10, 12, 'JS:^addRequest file:///app/dist/src/monitoring/prediction-log.js:311:15'),
      sample(10, 11, 'JS:~addRequest file:///app/dist/src/monitoring/prediction-log.js:311:15'),
      sample(20, 21, 'Builtins_LoadIC'),
      sample(30, 30, 'not ours'),
      'a line of something else',
    ].join('\n');
    const profiles = parseProfiles(script, [10, 20]);
    assert.deepEqual([...profiles.keys()], [10, 20]);
    const on = profiles.get(10)!;
    assert.deepEqual([on.main, on.others], [1, 3]);
    assert.deepEqual(Object.fromEntries(on.symbols), { uv__io_poll: 1, 'JS:addRequest file:///app/dist/src/monitoring/prediction-log.js:311:15': 3 });
    assert.deepEqual([profiles.get(20)!.main, profiles.get(20)!.others], [0, 1]);
  });

  it('gives CPU per request, and the CPU in symbols only one side ran', () => {
    const profile = (main: number, symbols: Record<string, number>) => {
      const others = Object.values(symbols).reduce((a, b) => a + b, 0);
      return { main, others, symbols: new Map(Object.entries(symbols)) };
    };
    const us = 1e6 / PERF_HZ; // µs a sample stands for
    const compared = compareProfiles(
      {
        on: profile(100, { walk: 300, addRequest: 40, zstd: 10 }),
        off: profile(100, { walk: 300, rare: 2 }),
        control: profile(100, { walk: 300 }),
      },
      { on: 1000, off: 1000, control: 500 },
    );
    assert.deepEqual(compared.cpu_us_per_request.on, { all: (450 * us) / 1000, main: (100 * us) / 1000, others: (350 * us) / 1000 });
    assert.equal(compared.cpu_us_per_request.control.all, (400 * us) / 500);
    assert.deepEqual(compared.only_us_per_request, { on: (50 * us) / 1000, off: (2 * us) / 1000, control: 0 });
    assert.deepEqual(
      compared.only_on_top.map((t) => t.symbol),
      ['addRequest', 'zstd'],
    );
  });
});
