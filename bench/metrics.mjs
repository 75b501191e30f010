// What --metrics-port costs memhunt (issue 14 target: scraped every second, memhunt's own CPU
// rises by <= 0.2% of a core). In one run, alternating: `memhunt run` of an idle 60 s Python
// process without metrics, and with --metrics-port scraped once a second by this script (as
// Prometheus would). memhunt's own CPU (utime+stime of the memhunt process, not its children)
// over the steady part of each run (from 20 s, after the dense early sampling), as a share of a core.
//
//   node bench/metrics.mjs [--seconds 60] [--pairs 2]
//
// Results: bench/results/metrics.json and stdout.
import * as net from 'node:net';
import { MEMHUNT, SYS_PYTHON, checkPrerequisites, cpuShareBetween, fmt, machine, median, runMonitored, table, writeResult } from './lib.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SECONDS = arg('--seconds', 60);
const PAIRS = arg('--pairs', 2);
checkPrerequisites();

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

async function once(withMetrics) {
  const port = await freePort();
  const extra = withMetrics ? ['--metrics-port', String(port)] : [];
  let scrapes = 0;
  let failures = 0;
  let timer = null;
  if (withMetrics) {
    timer = setInterval(async () => {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/metrics`);
        await r.text();
        if (r.ok) scrapes++;
      } catch {
        failures++;
      }
    }, 1000);
  }
  const r = await runMonitored(process.execPath, [MEMHUNT, 'run', '-q', '-o', '/dev/null', ...extra, '--', SYS_PYTHON, '-c', `import time; time.sleep(${SECONDS})`], { pollMs: 500 });
  if (timer) clearInterval(timer);
  const from = 20_000;
  const to = r.wallMs - 1000;
  return { share: cpuShareBetween(r.cpuSeries, from, to), scrapes, failures, code: r.code };
}

const m = machine();
const rows = [];
for (let i = 0; i < PAIRS; i++) {
  const plain = await once(false);
  const scraped = await once(true);
  rows.push({ plain: plain.share, scraped: scraped.share, scrapes: scraped.scrapes, failures: scraped.failures });
  console.log(`pair ${i + 1}: without ${fmt(plain.share * 100, 3)}% of a core, with 1 Hz scrapes ${fmt(scraped.share * 100, 3)}% (${scraped.scrapes} scrapes, ${scraped.failures} failed)`);
}
const rise = median(rows.map((r) => r.scraped - r.plain));
table([
  ['run', 'memhunt CPU (share of a core, steady part)'],
  ['without --metrics-port (median)', `${fmt(median(rows.map((r) => r.plain)) * 100, 3)}%`],
  ['with --metrics-port, scraped every 1 s (median)', `${fmt(median(rows.map((r) => r.scraped)) * 100, 3)}%`],
  ['rise (median of pairs)', `${fmt(rise * 100, 3)}% (target <= 0.2%)`],
]);
writeResult('metrics', { machine: m, seconds: SECONDS, rows, risePercentOfCore: rise * 100, pass: rise <= 0.002 });
