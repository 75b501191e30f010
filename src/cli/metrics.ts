/**
 * Live metrics of a run for Prometheus (issue 14): `--metrics-port PORT` serves the tree's numbers
 * in the Prometheus text format (prom-client), `--pushgateway URL` pushes them every
 * `--push-every` and once at the end, labelled with where the run ran. Both only read the last
 * sample; neither can stop or slow the job: an unreachable Pushgateway is one warning, then
 * retries with back-off, and the recording is never touched.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import type { Pushgateway, Registry } from 'prom-client';
import { InputError } from '../errors';
import { fileTag } from '../model/identity';
import type { SampleSummary } from '../sampler/sampler';

/** Processes exported one by one (the largest); the rest are in the tree total. */
const TOP_PROCESSES = 5;
const KiB = 1024;
/** The final push waits at most this long: a dead gateway never holds the exit. */
const FINAL_PUSH_TIMEOUT_MS = 3000;

export interface MetricsOptions {
  port: number | null;
  /** Loopback unless the user asks: a scrape endpoint on every interface is a decision, not a default. */
  host: string;
  pushgateway: URL | null;
  pushEveryMs: number;
  metric: string;
  /** Header labels (platform ids, --label): constant labels of every series, Prometheus-safe names. */
  labels: Record<string, string>;
  notice: (text: string) => void;
}

/** `--metrics-port` as a port number (0 picks a free one), refused otherwise. */
export function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new InputError(`--metrics-port ${text}: give a TCP port, 0 to 65535 (0: any free port, printed at the start)`);
  return Number(text);
}

/** `--pushgateway` as an http(s) URL, refused otherwise. */
export function parsePushgateway(text: string): URL {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new InputError(`--pushgateway ${text}: not a URL; give e.g. http://pushgateway:9091`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InputError(`--pushgateway ${text}: only http:// and https:// URLs`);
  return u;
}

/** Label names Prometheus accepts ([a-zA-Z_][a-zA-Z0-9_]*), values as they are. */
export function promLabels(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) {
    let name = k.replace(/[^a-zA-Z0-9_]/g, '_');
    if (!/^[a-zA-Z_]/.test(name)) name = `_${name}`;
    if (name.startsWith('__')) name = name.replace(/^_+/, 'l_');
    out[name] = v;
  }
  return out;
}

function commOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

export class LiveMetrics {
  private last: SampleSummary | null = null;
  private peakBytes = 0;
  private server: http.Server | null = null;
  private gateway: Pushgateway<'text/plain; version=0.0.4; charset=utf-8'> | null = null;
  private pushTimer: NodeJS.Timeout | null = null;
  private pushFailures = 0;
  private nextPushAt = 0;
  private pushing: Promise<unknown> | null = null;
  private readonly registry: Registry;
  private readonly groupings: Record<string, string>;
  private ended = false;

  private constructor(private readonly o: MetricsOptions) {
    // prom-client is loaded only when a run asks for metrics (~15 ms).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const prom = require('prom-client') as typeof import('prom-client');
    this.registry = new prom.Registry();
    const constLabels = promLabels(o.labels);
    this.registry.setDefaultLabels(constLabels);
    this.groupings = { instance: fileTag(o.labels.name ?? constLabels.podName ?? constLabels.yarnContainerId ?? constLabels.awsBatchJobId ?? os.hostname()) || 'memhunt' };
    const reg = [this.registry];
    const lastSample = () => this.last;
    const gauge = (name: string, help: string, value: (s: SampleSummary) => number | null) =>
      new prom.Gauge({
        name, help, registers: reg,
        collect() {
          const s = lastSample();
          const v = s ? value(s) : null;
          if (v !== null && Number.isFinite(v)) this.set(v);
        },
      });
    gauge('memhunt_tree_bytes', `The process tree's total memory now, in the run's metric (${o.metric}).`, (s) => s.metricBytes ?? s.totalRssBytes);
    gauge('memhunt_tree_rss_bytes', 'The sum of RSS over the process tree now (shared pages counted once per process).', (s) => s.totalRssBytes);
    gauge('memhunt_tree_peak_bytes', `The highest tree total sampled so far, in the run's metric (${o.metric}).`, () => this.peakBytes);
    gauge('memhunt_processes', 'Processes in the tree now.', (s) => s.processes);
    gauge('memhunt_cgroup_usage_bytes', "The container's memory cgroup usage (everything charged to it).", (s) => s.cgroupUsageBytes);
    gauge('memhunt_cgroup_working_set_bytes', "The container's working set (usage minus inactive file): what Kubernetes evicts on.", (s) => s.cgroupWorkingSetBytes);
    gauge('memhunt_limit_bytes', 'The limit that applies: --limit, else the cgroup limit.', (s) => s.limitBytes);
    gauge('memhunt_cgroup_oom_kills', "The cgroup's OOM-kill counter (it counts kills before the run too).", (s) => s.oomKills);
    gauge('memhunt_samples', 'Samples taken so far.', (s) => s.samples);
    new prom.Gauge({
      name: 'memhunt_process_rss_bytes', help: `RSS of the ${TOP_PROCESSES} largest processes of the tree now.`, labelNames: ['pid', 'comm'], registers: reg,
      collect() {
        this.reset();
        const s = lastSample();
        if (!s) return;
        const top = [...s.rows].sort((a, b) => b[1]! - a[1]!).slice(0, TOP_PROCESSES);
        for (const r of top) this.set({ pid: String(r[0]), comm: commOf(r[0]!) }, r[1]! * KiB);
      },
    });
    if (o.pushgateway) {
      this.gateway = new prom.Pushgateway(o.pushgateway.toString(), { timeout: 5000 }, this.registry);
    }
  }

  /**
   * Starts the endpoint (before the command starts: a port in use is exit 2, nothing runs) and the
   * push timer. Returns the port listened on (the one chosen when 0 was asked).
   */
  static async start(o: MetricsOptions): Promise<LiveMetrics> {
    const m = new LiveMetrics(o);
    if (o.port !== null) {
      const server = http.createServer((req, res) => {
        if (req.method !== 'GET' || !/^\/metrics(\?|$)/.test(req.url ?? '')) {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('memhunt serves /metrics\n');
          return;
        }
        m.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': m.registry.contentType }).end(text),
          (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e.message}\n`),
        );
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e: NodeJS.ErrnoException) =>
          reject(new InputError(`--metrics-port ${o.port}: ${e.code === 'EADDRINUSE' ? 'the port is in use' : e.code === 'EACCES' ? 'not allowed to listen there' : e.message}`)),
        );
        server.listen(o.port!, o.host, () => resolve());
      });
      server.unref();
      m.server = server;
    }
    if (m.gateway) {
      m.pushTimer = setInterval(() => m.push(false), o.pushEveryMs);
      m.pushTimer.unref();
    }
    return m;
  }

  get port(): number | null {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : null;
  }

  /** The sampler's hook: keeps the last sample (cheap: no formatting until a scrape or push). */
  update(s: SampleSummary): void {
    this.last = s;
    const v = s.metricBytes ?? s.totalRssBytes;
    if (v > this.peakBytes) this.peakBytes = v;
  }

  /** One push, skipped while backing off after failures (1, 2, 4 … intervals, at most 32). */
  private push(final: boolean): Promise<unknown> {
    if (!this.gateway || (this.pushing && !final)) return Promise.resolve();
    if (!final && Date.now() < this.nextPushAt) return Promise.resolve();
    const p = this.gateway.pushAdd({ jobName: 'memhunt', groupings: this.groupings }).then(
      () => {
        if (this.pushFailures > 0) this.o.notice(`the Pushgateway answers again (${this.o.pushgateway!.origin}); pushing every ${this.o.pushEveryMs / 1000} s`);
        this.pushFailures = 0;
        this.nextPushAt = 0;
      },
      (e: Error) => {
        this.pushFailures++;
        if (this.pushFailures === 1 || final) this.o.notice(`could not push to ${this.o.pushgateway!.origin}: ${e.message.split('\n')[0]}${final ? '' : '; retrying with back-off (the job and its recording go on)'}`);
        this.nextPushAt = Date.now() + this.o.pushEveryMs * Math.min(32, 2 ** (this.pushFailures - 1));
      },
    );
    this.pushing = p.finally(() => {
      this.pushing = null;
    });
    return this.pushing;
  }

  /** The last push (at most FINAL_PUSH_TIMEOUT_MS), then the endpoint closes. */
  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    if (this.pushTimer) clearInterval(this.pushTimer);
    if (this.gateway) {
      await this.pushing?.catch(() => {});
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.push(true),
        new Promise((resolve) => {
          timer = setTimeout(resolve, FINAL_PUSH_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    this.server?.close();
    this.server?.closeAllConnections?.();
  }
}
