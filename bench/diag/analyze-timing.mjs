// Summarises a bench/diag/sampler-timing.cjs log: sample durations, scan/flush/cgroup costs, GC,
// and what preceded each gap > 2 ms. Usage: node bench/diag/analyze-timing.mjs LOG.json
import fs from 'node:fs';
const log = JSON.parse(fs.readFileSync(process.argv[2] ?? 'sampler-timing.json'));
const s = log.samples; const n = s.length;
const q = (arr, p) => { const v = [...arr].sort((a, b) => a - b); return v[Math.floor(p * (v.length - 1))]; };
const ds = s.map(x => x.d);
console.log(`samples ${n}, over ${((s[n-1].t - s[0].t)/1000).toFixed(2)} s -> ${(n/((s[n-1].t-s[0].t)/1000)).toFixed(1)}/s`);
console.log(`sampleOnce µs: p50 ${(q(ds,.5)*1000).toFixed(0)} p90 ${(q(ds,.9)*1000).toFixed(0)} p99 ${(q(ds,.99)*1000).toFixed(0)} max ${(q(ds,1)*1000).toFixed(0)}; mean ${(ds.reduce((a,b)=>a+b,0)/n*1000).toFixed(1)}`);
for (const k of ['scan', 'flush', 'cg']) { const v = s.filter(x => x[k] !== undefined).map(x => x[k]); if (v.length) console.log(`  ${k}: ${v.length} calls, mean ${(v.reduce((a,b)=>a+b,0)/v.length*1000).toFixed(1)} µs, p99 ${(q(v,.99)*1000).toFixed(0)} µs, max ${(q(v,1)*1000).toFixed(0)} µs, total ${(v.reduce((a,b)=>a+b,0)).toFixed(1)} ms`); }
const gcs = log.gc; console.log(`GC: ${gcs.length} pauses, total ${gcs.reduce((a,g)=>a+g.d,0).toFixed(1)} ms, max ${Math.max(...gcs.map(g=>g.d)).toFixed(2)} ms`);
// classify gaps between sample starts
const cls = { work: 0, gc: 0, wake: 0 }; const ex = { work: 0, gc: 0, wake: 0 }; let gaps = 0;
for (let i = 1; i < n; i++) {
  const gap = s[i].t - s[i-1].t; if (gap <= 2) continue; gaps++;
  const prev = s[i-1]; const idleStart = prev.t + prev.d;
  const gcIn = gcs.filter(g => g.t >= prev.t - 0.1 && g.t < s[i].t).reduce((a, g) => a + g.d, 0);
  let c; if (prev.d > 1) c = 'work'; else if (gcIn > 0.5) c = 'gc'; else c = 'wake';
  cls[c]++; ex[c] += gap - 1;
}
console.log(`gaps >2 ms between sample starts: ${gaps}; caused by: long sample ${cls.work} (${ex.work.toFixed(1)} ms), GC ${cls.gc} (${ex.gc.toFixed(1)} ms), late wake-up/preempted ${cls.wake} (${ex.wake.toFixed(1)} ms)`);
const long = s.filter(x => x.d > 1).map(x => `${x.d.toFixed(2)}ms${x.scan ? ' scan=' + x.scan.toFixed(2) : ''}${x.flush ? ' flush=' + x.flush.toFixed(2) : ''}${x.cg ? ' cg=' + x.cg.toFixed(2) : ''}`);
console.log(`samples longer than 1 ms: ${long.length}: ${long.slice(0, 30).join(', ')}`);
if (log.ru) console.log(`resourceUsage: user ${(log.ru.userCPUTime/1e6).toFixed(3)} s, system ${(log.ru.systemCPUTime/1e6).toFixed(3)} s, maxRSS ${(log.ru.maxRSS/1024).toFixed(1)} MiB, voluntary ctx ${log.ru.voluntaryContextSwitches}, involuntary ${log.ru.involuntaryContextSwitches}`);
