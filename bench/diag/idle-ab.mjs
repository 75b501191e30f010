// Diagnostic (not a benchmark): two or more builds of memhunt recording the same idle workload side
// by side, to compare their own CPU in the same conditions (BENCHMARKS.md, "Idle cost of a long run").
//   node bench/diag/idle-ab.mjs SECONDS ROUNDS name=path/to/dist/cli/main.js[,extra args] name=...
// Each round starts every build at once, each on its own bench/workloads/tree.py (5 processes,
// SECONDS long, SECONDS >= 18), and reads the CPU ticks (all threads) of each memhunt process at
// 2 s, 16 s (where the default schedule reaches 100 ms) and 1.5 s before the end: the share of one
// core from 2 s and from 16 s to then, and VmHWM. Extra args go to `memhunt run`; `--node:FLAG`
// goes to node (e.g. --node:--cpu-prof). Medians over the rounds at the end.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const TREE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'workloads', 'tree.py');
const [secs, rounds, ...specs] = process.argv.slice(2);
const S = Number(secs);
const vs = specs.map((s) => { const name = s.slice(0, s.indexOf('=')); const [main, ...extra] = s.slice(s.indexOf('=') + 1).split(','); return { name, main, extra, a: [], b: [], w: [], hwm: [] }; });
const ticks = (pid) => { try { const t = fs.readFileSync(`/proc/${pid}/stat`, 'latin1'); const r = t.slice(t.lastIndexOf(')') + 2).split(' '); return Number(r[11]) + Number(r[12]); } catch { return null; } };
const hwm = (pid) => { try { return Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'))[1]); } catch { return null; } };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
console.log(`start ${new Date().toISOString()} load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
for (let r = 0; r < Number(rounds); r++) {
  const kids = vs.map((v) => {
    const out = path.join(os.tmpdir(), `memhunt-ab-${process.pid}-${v.name}.mh`); try { fs.rmSync(out); } catch {}
    const nodeArgs = v.extra.filter((x) => x.startsWith('--node:')).map((x) => x.slice(7));
    const c = spawn(process.execPath, [...nodeArgs, v.main, 'run', ...v.extra.filter((x) => !x.startsWith('--node:')), '-o', out, '-q', '--', '/usr/bin/python3', TREE, String(S)], { stdio: ['ignore', 'ignore', 'pipe'] });
    c.exited = new Promise((res) => c.on('exit', (code) => res(code)));
    c.err = ''; c.stderr.on('data', (d) => { c.err += d; });
    c.out = out;
    return c;
  });
  const t0 = performance.now();
  await sleep(2000); const s2 = kids.map((c) => ticks(c.pid)); const t2 = performance.now();
  await sleep(14000); const s16 = kids.map((c) => ticks(c.pid)); const t16 = performance.now();
  await sleep((S - 16 - 1.5) * 1000); const se = kids.map((c) => ticks(c.pid)); const te = performance.now();
  const h = kids.map((c) => hwm(c.pid));
  const codes = await Promise.all(kids.map((c) => c.exited));
  for (const c of kids) fs.rmSync(c.out, { force: true });
  const line = [];
  vs.forEach((v, i) => {
    const a = (se[i] - s2[i]) / ((te - t2) / 1000); const b = (se[i] - s16[i]) / ((te - t16) / 1000);
    v.a.push(a); v.b.push(b); v.hwm.push(h[i] / 1024);
    line.push(`${v.name} ${a.toFixed(2)}/${b.toFixed(2)}%${codes[i] ? ` EXIT ${codes[i]} ${kids[i].err}` : ''}`);
  });
  console.log(`r${r} (2s..end / 16s..end) ${line.join('  ')}  load ${os.loadavg()[0].toFixed(2)}`);
}
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
for (const v of vs) console.log(`${v.name.padEnd(8)} median 2s..end ${med(v.a).toFixed(2)}%  16s..end ${med(v.b).toFixed(2)}%  hwm ${med(v.hwm).toFixed(1)} MiB`);
console.log(`end ${new Date().toISOString()} load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
