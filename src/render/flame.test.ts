/** Flame graphs of sampled allocations: the tree, escaping, and 100 k distinct stacks within the time targets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AllocFrame } from '../contract/shapes';
import type { WeightedStack } from '../model/allocations';
import { flameTree, renderFlameHtml, renderFlameSvg } from './flame';

const ws = (frames: AllocFrame[], bytes: number): WeightedStack => ({ stack: frames, bytes, objects: 1, pids: new Set([1]) });

test('the tree sums bytes root-first; negative stacks (growth that shrank) are left out', () => {
  const t = flameTree([
    ws([['/app/a.py', 'leaf', 3], ['/app/a.py', '<module>', 1]], 100),
    ws([['/app/a.py', 'other', 7], ['/app/a.py', '<module>', 1]], 50),
    ws([['/app/a.py', 'gone', 9], ['/app/a.py', '<module>', 1]], -40),
  ]);
  assert.equal(t.bytes, 150);
  assert.equal(t.children.length, 1);
  assert.equal(t.children[0]!.bytes, 150);
  assert.deepEqual(t.children[0]!.children.map((c) => [c.name, c.bytes]), [['leaf (app/a.py:3)', 100], ['other (app/a.py:7)', 50]]);
});

test('user text cannot end the script or inject markup', () => {
  const evil: AllocFrame[] = [['/app/</script><script>alert(1)</script>.py', '<img src=x onerror=alert(1)>', 1]];
  const html = renderFlameHtml([ws(evil, 1000)], 'run </script> title');
  assert.equal(html.match(/<\/script>/g)!.length, 1, 'only the page\'s own </script>');
  assert.doesNotMatch(html, /<img/);
  const svg = renderFlameSvg([ws(evil, 1000)], 't');
  assert.doesNotMatch(svg, /<img|<script/);
});

test('100 k distinct stacks: SVG in under 2 s, HTML in under 2 s, both bounded in size', () => {
  // As a real program's: a common trunk (main, train loop, ...), then calls that branch ten ways at
  // each of five levels, so every stack is distinct and shares its prefix with its neighbours.
  const trunk: AllocFrame[] = [];
  for (let d = 0; d < 7; d++) trunk.push([`/usr/lib/python3/dist-packages/lib${d}/core.py`, `step${d}`, 10 + d]);
  // Frames interned, as collectAllocations gives them: one array per distinct (file, function, line).
  const pool = new Map<string, AllocFrame>();
  const frame = (f: AllocFrame): AllocFrame => pool.get(f.join('\u0000')) ?? (pool.set(f.join('\u0000'), f), f);
  const stacks: WeightedStack[] = [];
  for (let i = 0; i < 100_000; i++) {
    const frames: AllocFrame[] = [];
    for (let d = 4, n = i; d >= 0; d--, n = Math.floor(n / 10)) frames.push(frame([`/app/m${d}.py`, `f${d}_${n % 10}`, 20 + (n % 10)]));
    stacks.push(ws([...frames, ...trunk.slice().reverse()], 1000 + (i % 50) * 100));
  }
  // CPU time, not wall time: on a loaded machine the wall clock measures the queue (a loose bound).
  const cpuMs = (from: NodeJS.CpuUsage) => { const u = process.cpuUsage(from); return (u.user + u.system) / 1000; };
  let t0 = process.cpuUsage();
  const svg = renderFlameSvg(stacks, '100k');
  const svgMs = cpuMs(t0);
  t0 = process.cpuUsage();
  const html = renderFlameHtml(stacks, '100k');
  const htmlMs = cpuMs(t0);
  assert.ok(svgMs < 2000, `svg ${svgMs} ms`);
  assert.ok(htmlMs < 2000, `html ${htmlMs} ms`);
  assert.ok(svg.length < 5e6 && html.length < 5e6, `${svg.length} ${html.length}`);
});
