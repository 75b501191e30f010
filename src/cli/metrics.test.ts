/**
 * Live metrics (issue 14) against the real servers from Debian: Prometheus scrapes memhunt's
 * --metrics-port and a Pushgateway that memhunt pushes to; a PromQL query through Prometheus' HTTP
 * API returns the peak the recording holds. An unreachable Pushgateway costs one warning, never
 * the job or its recording.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { runCli, tempDir } from '../test-support';
import { readMemhuntRecording } from '../recording/reader';
import { summarize } from '../analysis/summary';
import { promLabels } from './metrics';

const PROMETHEUS = '/usr/bin/prometheus';
const PUSHGATEWAY = '/usr/bin/prometheus-pushgateway';
const PY = '/usr/bin/python3';
const MiB = 1024 * 1024;
const missing = [PROMETHEUS, PUSHGATEWAY].filter((p) => !fs.existsSync(p));
const skip = missing.length && !process.env.CI ? `${missing.join(', ')} not installed (apt-get install prometheus prometheus-pushgateway)` : false;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Polls until fn returns a value (not undefined), or throws after the loose safety bound. */
async function until<T>(what: string, fn: () => Promise<T | undefined>, boundMs = 90_000): Promise<T> {
  const end = Date.now() + boundMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const r = await fetch(url);
  return { status: r.status, text: await r.text() };
}

async function promQuery(base: string, q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const r = await get(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
  const doc = JSON.parse(r.text) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  if (doc.status !== 'success') throw new Error(r.text);
  return doc.data.result;
}

function startServer(cmd: string, args: string[], dir: string, name: string): ChildProcess {
  const log = fs.openSync(path.join(dir, `${name}.log`), 'w');
  const child = spawn(cmd, args, { stdio: ['ignore', log, log], cwd: dir });
  fs.closeSync(log);
  return child;
}

test('Prometheus scrapes memhunt and its Pushgateway; PromQL returns the recording\'s peak', { skip, timeout: 240_000 }, async () => {
  const dir = tempDir('memhunt-prom-');
  const [mPort, gwPort, promPort] = [await freePort(), await freePort(), await freePort()];
  const gw = startServer(PUSHGATEWAY, [`--web.listen-address=127.0.0.1:${gwPort}`], dir, 'pushgateway');
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), [
    'global: {scrape_interval: 1s, evaluation_interval: 1s}',
    'scrape_configs:',
    `  - {job_name: direct, static_configs: [{targets: ['127.0.0.1:${mPort}']}]}`,
    `  - {job_name: pushgateway, honor_labels: true, static_configs: [{targets: ['127.0.0.1:${gwPort}']}]}`,
    '',
  ].join('\n'));
  const prom = startServer(PROMETHEUS, [
    `--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`, '--web.enable-lifecycle',
  ], dir, 'prometheus');
  const promBase = `http://127.0.0.1:${promPort}`;
  try {
    await until('the Pushgateway', async () => ((await get(`http://127.0.0.1:${gwPort}/-/ready`)).status === 200 ? true : undefined));
    await until('Prometheus', async () => ((await get(`${promBase}/-/ready`)).status === 200 ? true : undefined));
    const release = path.join(dir, 'release');
    const file = path.join(dir, 'run.mh');
    // Holds 150 MiB until the test has seen Prometheus scrape it, then frees it and exits.
    const program = `import os, time\nx = bytearray(150 << 20)\nwhile not os.path.exists(${JSON.stringify(release)}): time.sleep(0.05)\ndel x\ntime.sleep(0.2)\n`;
    const run = runCli(['run', '-q', '-o', file, '--metrics-port', String(mPort), '--pushgateway', `http://127.0.0.1:${gwPort}`, '--push-every', '1s',
      '--label', 'name=trainer-1', '--', PY, '-c', program], { timeoutMs: 180_000, env: { ...process.env, AWS_BATCH_JOB_ID: 'job-7' } });
    // The endpoint itself, as Prometheus reads it.
    const text = await until('memhunt\'s /metrics', async () => {
      const r = await get(`http://127.0.0.1:${mPort}/metrics`);
      return r.status === 200 && /memhunt_tree_bytes\{[^}]*\} (\d+)/.exec(r.text) && Number(/memhunt_tree_bytes\{[^}]*\} (\d+)/.exec(r.text)![1]) > 150 * MiB ? r.text : undefined;
    });
    assert.match(text, /# TYPE memhunt_tree_peak_bytes gauge/);
    assert.match(text, /memhunt_process_rss_bytes\{pid="\d+",comm="python3",.*name="trainer-1"/);
    assert.match(text, /platform="aws-batch"/);
    // Prometheus scraped it while the job ran.
    const live = await until('a scrape of memhunt by Prometheus', async () => {
      const r = await promQuery(promBase, 'max_over_time(memhunt_tree_bytes{job="direct"}[5m])');
      return r.length && Number(r[0]!.value[1]) > 150 * MiB ? r : undefined;
    });
    assert.equal(live[0]!.metric.name, 'trainer-1');
    fs.writeFileSync(release, '');
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /could not push/);
    const peak = summarize(await readMemhuntRecording(file)).peakBytes;
    // The last push holds the run's peak; Prometheus gets it from the Pushgateway.
    const pushed = await until('the final push in Prometheus', async () => {
      const q = await promQuery(promBase, 'memhunt_tree_peak_bytes{job="memhunt",instance="trainer-1"}');
      return q.length && Math.abs(Number(q[0]!.value[1]) - peak) <= 1024 ? q : undefined;
    });
    assert.ok(Math.abs(Number(pushed[0]!.value[1]) - peak) <= 1024, `PromQL ${pushed[0]!.value[1]} vs the recording's peak ${peak}`);
    assert.ok(peak > 150 * MiB);
  } finally {
    prom.kill('SIGTERM');
    gw.kill('SIGTERM');
  }
});

test('an unreachable Pushgateway: one warning, the job and its recording untouched; bad metrics options refused before the command runs', { timeout: 120_000 }, async () => {
  const dir = tempDir('memhunt-prom-bad-');
  const dead = await freePort(); // nothing listens there
  const file = path.join(dir, 'run.mh');
  const r = await runCli(['run', '-q', '-o', file, '--pushgateway', `http://127.0.0.1:${dead}`, '--push-every', '1s', '--', PY, '-c',
    'import time, sys; x = bytearray(30 << 20); time.sleep(2.5); sys.exit(5)'], { timeoutMs: 90_000 });
  assert.equal(r.code, 5, 'the command\'s exit code');
  const warnings = r.stderr.split('\n').filter((l) => /could not push/.test(l));
  assert.ok(warnings.length >= 1 && warnings.length <= 2, `one warning (and one for the final push): ${r.stderr}`);
  assert.match(warnings[0]!, /retrying with back-off/);
  const rec = await readMemhuntRecording(file);
  assert.equal(rec.end?.exitCode, 5);
  assert.deepEqual(rec.warnings, []);

  const busy = net.createServer();
  await new Promise<void>((res) => busy.listen(0, '127.0.0.1', () => res()));
  const busyPort = (busy.address() as net.AddressInfo).port;
  const marker = path.join(dir, 'ran');
  try {
    for (const [args, re] of [
      [['--metrics-port', String(busyPort)], /--metrics-port \d+: the port is in use/],
      [['--metrics-port', '70000'], /--metrics-port 70000: give a TCP port/],
      [['--pushgateway', 'not a url'], /--pushgateway not a url: not a URL/],
      [['--pushgateway', 'ftp://x'], /only http/],
      [['--pushgateway', 'http://x', '--push-every', '10ms'], /--push-every 10ms: at least 1s/],
      [['--metrics-host', '0.0.0.0'], /--metrics-host goes with --metrics-port/],
    ] as const) {
      const b = await runCli(['run', '-q', '-o', path.join(dir, 'x.mh'), ...args, '--', PY, '-c', `open(${JSON.stringify(marker)}, "w")`]);
      assert.equal(b.code, 2, `${args.join(' ')}: ${b.stderr}`);
      assert.match(b.stderr, re);
      assert.equal(b.stderr.trim().split('\n').length, 1, b.stderr);
      assert.ok(!fs.existsSync(marker), `${args.join(' ')}: the command did not run`);
    }
  } finally {
    busy.close();
  }
});

test('label names made safe for Prometheus', () => {
  assert.deepEqual(promLabels({ awsBatchJobId: 'a', 'my.key-1': 'b', '9lives': 'c', __x: 'd' }), { awsBatchJobId: 'a', my_key_1: 'b', _9lives: 'c', l_x: 'd' });
});
