// Diagnostic preload (not a benchmark): times the sampler's pieces from outside, without changing
// them, and logs GC pauses. Usage:
//   MH_DIAG_OUT=/tmp/t.json node --require ./bench/diag/sampler-timing.cjs dist/cli/main.js run --interval 1ms -q -o /tmp/t.mh -- python3 bench/workloads/tree.py 10
//   node bench/diag/analyze-timing.mjs /tmp/t.json
const path = require('node:path');
const fs = require('node:fs');
const { PerformanceObserver, performance } = require('node:perf_hooks');
const D = path.resolve(__dirname, '..', '..', 'dist');
const { Sampler } = require(path.join(D, 'sampler/sampler.js'));
const { TreeTracker } = require(path.join(D, 'sampler/tree.js'));
const { RecordingWriter } = require(path.join(D, 'recording/writer.js'));
const { CgroupReader } = require(path.join(D, 'procfs/cgroup.js'));
const log = { samples: [], gc: [] };
let cur = null;
const wrap = (proto, name, key) => {
  const orig = proto[name];
  proto[name] = function (...a) {
    const t = performance.now();
    try { return orig.apply(this, a); } finally { if (cur) cur[key] = (cur[key] ?? 0) + performance.now() - t; }
  };
};
wrap(TreeTracker.prototype, 'scan', 'scan');
wrap(RecordingWriter.prototype, 'flush', 'flush');
wrap(CgroupReader.prototype, 'read', 'cg');
const so = Sampler.prototype.sampleOnce;
Sampler.prototype.sampleOnce = function () {
  const t = performance.now();
  cur = { t };
  try { return so.call(this); } finally { cur.d = performance.now() - t; log.samples.push(cur); cur = null; }
};
new PerformanceObserver((l) => { for (const e of l.getEntries()) log.gc.push({ t: e.startTime, d: e.duration, kind: e.detail?.kind }); }).observe({ entryTypes: ['gc'] });
process.on('exit', () => { const r = process.resourceUsage(); log.ru = r; fs.writeFileSync(process.env.MH_DIAG_OUT || 'sampler-timing.json', JSON.stringify(log)); });
