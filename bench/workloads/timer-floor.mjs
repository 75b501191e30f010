// Control for bench/sampling.mjs: the sampler's timing strategy (src/sampler/sampler.ts: setTimeout
// until ~1.5 ms before a sample is due, Atomics.wait for the rest, setImmediate, no catch-up past
// one interval) with no work at all. It shows how many 1 ms slots this machine loses by itself.
//   node timer-floor.mjs [SECONDS]   prints one JSON line
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const interval = 1;
const durMs = Number(process.argv[2] ?? 10) * 1000;
const t0 = performance.now();
let nextDue = t0;
const ts = [];
function tick() {
  ts.push(performance.now() - t0);
  if (performance.now() - t0 > durMs) return done();
  nextDue += interval;
  const now = performance.now();
  if (nextDue < now - interval) nextDue = now;
  schedule();
}
function schedule() {
  const d = nextDue - performance.now();
  if (d > 2) setTimeout(fine, d - 1.5);
  else setImmediate(fine);
}
function fine() {
  const rest = nextDue - performance.now();
  if (rest > 1.6) return schedule();
  if (rest > 0.02) Atomics.wait(sleeper, 0, 0, rest);
  tick();
}
function done() {
  const n = ts.length;
  const dur = ts[n - 1] - ts[0];
  let maxGap = 0;
  for (let i = 1; i < n; i++) maxGap = Math.max(maxGap, ts[i] - ts[i - 1]);
  const cpu = process.cpuUsage();
  console.log(JSON.stringify({ samples: n, durationS: dur / 1000, samplesPerS: n / (dur / 1000), maxGapMs: maxGap, cpuShare: (cpu.user + cpu.system) / 1000 / dur }));
}
tick();
