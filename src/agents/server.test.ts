/**
 * The host side of the agent protocol against fake peers written in Node: the server alone (fake
 * agents and clients in this file), then whole runs whose target is a fake agent program
 * (fixtures/agents/host-fake-agent.js), read back and shown by `memhunt heap` and `memhunt refs`.
 * The real Python agent is tested end to end in host-python.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import * as zlib from 'node:zlib';
import Ajv from 'ajv';
import { readMemhuntRecording } from '../recording/reader';
import { runCommand } from '../sampler/session';
import { CLI, FIXTURES, REPO, runCli, tempDir } from '../test-support';
import { askHost, findAgentTarget } from './client';
import { censusGrowth, closeNames, heapByProcess, pickFromGrowth } from './heap';
import { AGENT_PROTOCOL_VERSION, clientReplyProblem, type AgentHello, type CensusResult } from './protocol';
import { refsChains, refsToDot } from './refs';
import { dotToSvg, svgToPng } from './refs-render';
import { agentEnvironment, pythonRuntimeDirs } from './runtime';
import { AgentRequestError, AgentServer, type ConnectedAgent } from './server';
import type { HeapCensusEvent, RecordingEvent } from '../model/recording';

const FAKE = path.join(FIXTURES, 'agents', 'host-fake-agent.js');

/** A fake agent inside the test: hello, then answers requests with handler. */
class FakePeer {
  readonly socket: net.Socket;
  readonly received: Array<Record<string, unknown>> = [];
  private buf = '';
  private waiters: Array<() => void> = [];

  constructor(socketPath: string, private readonly handler: (m: Record<string, unknown>, p: FakePeer) => void = () => {}) {
    this.socket = net.createConnection(socketPath);
    this.socket.on('data', (d) => {
      this.buf += d.toString();
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const m = JSON.parse(this.buf.slice(0, nl)) as Record<string, unknown>;
        this.buf = this.buf.slice(nl + 1);
        this.received.push(m);
        this.handler(m, this);
        for (const w of this.waiters.splice(0)) w();
      }
    });
    this.socket.on('error', () => {});
  }

  send(m: object): void {
    this.socket.write(JSON.stringify(m) + '\n');
  }

  hello(pid: number, protocol = AGENT_PROTOCOL_VERSION): void {
    const h: AgentHello = {
      type: 'hello', role: 'agent', protocol, pid, ppid: 1, runtime: 'python', runtimeVersion: '3.12.1', executable: '/usr/bin/python3',
      argv: ['app.py'], features: ['census', 'trace', 'refs', 'break'],
    };
    this.send(h);
  }

  async next(pred: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    for (;;) {
      const hit = this.received.find(pred);
      if (hit) return hit;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  closed(): Promise<void> {
    return new Promise((r) => (this.socket.destroyed ? r() : this.socket.once('close', () => r())));
  }
}

const CENSUS: CensusResult = { wallMs: 0, durationMs: 1, collected: true, objects: 10, totalBytes: 1000, rows: [['dict', 5, 600], ['str', 5, 400]], notes: [] };

async function withServer(fn: (s: AgentServer, log: { connected: ConnectedAgent[]; problems: string[]; events: unknown[]; client: unknown[] }) => Promise<void>): Promise<void> {
  const dir = tempDir('memhunt-agent-');
  const log = { connected: [] as ConnectedAgent[], problems: [] as string[], events: [] as unknown[], client: [] as unknown[] };
  const s = await AgentServer.listen(path.join(dir, 'agent.sock'), {
    agentConnected: (a) => log.connected.push(a),
    problem: (t) => log.problems.push(t),
    event: (_a, e) => log.events.push(e),
    clientResult: (_a, req, r) => log.client.push({ req, r }),
  });
  try {
    await fn(s, log);
  } finally {
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('an agent is registered by pid, answers requests by id, and its events reach the hooks', async () => {
  await withServer(async (s, log) => {
    const peer = new FakePeer(s.socketPath, (m, p) => {
      if (m.type === 'census') p.send({ type: 'reply', id: m.id, ok: true, result: { ...CENSUS, collected: m.collect } });
      if (m.type === 'refs') p.send({ type: 'reply', id: m.id, ok: false, error: 'no live objects of type "Nope"\nTraceback: …' });
    });
    peer.hello(101);
    peer.send({ type: 'section', kind: 'begin', label: 'load', wallMs: Date.now() });
    await until(() => log.connected.length === 1 && log.events.length === 1);
    assert.equal(s.agent(101)?.runtimeVersion, '3.12.1');
    const [a, b] = await Promise.all([
      s.request<'census'>(101, { type: 'census', collect: true, top: 5 }),
      s.request<'census'>(101, { type: 'census', collect: false, top: 5 }),
    ]);
    assert.equal(a.collected, true);
    assert.equal(b.collected, false);
    const ids = peer.received.filter((m) => m.type === 'census').map((m) => m.id);
    assert.equal(new Set(ids).size, 2, 'each request has its own id');
    await assert.rejects(s.request<'refs'>(101, { type: 'refs', typeName: 'Nope', samples: 1, maxDepth: 3 }), (e: AgentRequestError) => {
      assert.equal(e.reason, 'error');
      assert.equal(e.message, 'pid 101: no live objects of type "Nope"', 'the first line of the agent\'s error');
      return true;
    });
    await assert.rejects(s.request<'ping'>(999, { type: 'ping' }), /no agent is connected for pid 999/);
    // Bad messages are reported, never thrown.
    peer.socket.write('not json\n');
    peer.send({ type: 'section', kind: 'sideways', label: 'x' });
    peer.send({ type: 'frobnicate', id: 7 });
    await until(() => log.problems.length === 3);
    const refused = await peer.next((m) => m.id === 7);
    assert.equal(refused.ok, false);
  });
});

test('a process that dies mid-census, a silent agent and a malformed result each give a clear error', async () => {
  await withServer(async (s) => {
    const dying = new FakePeer(s.socketPath, (m, p) => {
      if (m.type === 'census') p.socket.destroy();
    });
    dying.hello(201);
    const silent = new FakePeer(s.socketPath);
    silent.hello(202);
    const broken = new FakePeer(s.socketPath, (m, p) => p.send({ type: 'reply', id: m.id, ok: true, result: { rows: 'lots' } }));
    broken.hello(203);
    await until(() => s.agents().length === 3);
    await assert.rejects(s.request<'census'>(201, { type: 'census', collect: false, top: 5 }), (e: AgentRequestError) => e.reason === 'gone' && /pid 201 ended .* before answering census/.test(e.message));
    await assert.rejects(s.request<'census'>(202, { type: 'census', collect: false, top: 5 }, 100), (e: AgentRequestError) => e.reason === 'timeout' && /did not answer census within/.test(e.message));
    await assert.rejects(s.request<'census'>(203, { type: 'census', collect: false, top: 5 }), (e: AgentRequestError) => e.reason === 'malformed');
    await until(() => s.agent(201) === undefined);
  });
});

test('the socket checks every message against the schema: a malformed hello is refused, a malformed reply fails its request at once, a malformed event is reported; the server goes on', async () => {
  await withServer(async (s, log) => {
    const bad = new FakePeer(s.socketPath);
    bad.send({ type: 'hello', role: 'agent', protocol: 1, pid: 401, ppid: 1, runtime: 'python', runtimeVersion: 3.12, executable: '', argv: [], features: [] });
    await bad.closed();
    assert.match(log.problems.join('\n'), /the agent of pid 401 sent a malformed hello \(runtimeVersion must be a string\); refused/);
    const peer = new FakePeer(s.socketPath, (m, p) => {
      // A reply without `ok`: the request fails now (not at its timeout), and memhunt goes on.
      if (m.type === 'census') p.send({ type: 'reply', id: m.id, result: CENSUS });
      if (m.type === 'ping') p.send({ type: 'reply', id: m.id, ok: true, result: {} });
    });
    peer.hello(402);
    await until(() => s.agents().length === 1);
    await assert.rejects(s.request<'census'>(402, { type: 'census', collect: false, top: 5 }, 60_000), (e: AgentRequestError) => e.reason === 'malformed' && /malformed reply \(lacks "ok"\)/.test(e.message));
    peer.send({ type: 'snapshot', label: 'x', census: { ...CENSUS, rows: [['dict', '5', 600]] }, trace: null });
    peer.send({ type: 'isolated', label: 'f', childPid: 'x', peakRssBytes: 1, durationMs: 1, ok: true });
    await until(() => log.problems.length >= 4);
    assert.match(log.problems.join('\n'), /a malformed "snapshot" event \(census\.rows\[0\]\[1\] must be a number\)/);
    assert.match(log.problems.join('\n'), /a malformed "isolated" event \(childPid must be an integer\)/);
    assert.equal(log.events.length, 0, 'nothing malformed reached the session');
    assert.deepEqual(await s.request<'ping'>(402, { type: 'ping' }), {});
  });
});

test('clientReplyProblem: what a client checks a reply with (a malformed one is one error line)', () => {
  assert.equal(clientReplyProblem({ type: 'reply', id: 1, ok: true, result: CENSUS }, 'client-census'), null);
  assert.equal(clientReplyProblem({ type: 'reply', id: 1, ok: false, error: 'no agent' }, 'client-census'), null);
  assert.equal(clientReplyProblem({ type: 'reply', id: 1, ok: true, result: { rows: 'lots' } }, 'client-census'), 'a malformed census result from the memhunt run (lacks "collected")');
  assert.equal(clientReplyProblem({ type: 'reply', id: '1', ok: true }, 'client-refs'), 'a malformed reply from the memhunt run (id must be an integer)');
  assert.equal(clientReplyProblem({ type: 'reply', id: 1, ok: true, result: { typeName: 'X', count: 1, reachedRoot: true, nodes: [], edges: [] } }, 'client-refs'), null);
  assert.equal(clientReplyProblem({ type: 'reply', id: 1, ok: false }, 'client-refs'), 'a malformed reply from the memhunt run (an error without a message)');
});

test('a newer protocol major is refused with a reply the agent can show, and reported', async () => {
  await withServer(async (s, log) => {
    const peer = new FakePeer(s.socketPath);
    peer.hello(301, AGENT_PROTOCOL_VERSION + 1);
    const r = await peer.next((m) => m.type === 'reply');
    assert.equal(r.id, 0);
    assert.match(String(r.error), /protocol 2, newer than this memhunt's \(1\).*upgrade memhunt/);
    await peer.closed();
    assert.equal(s.agents().length, 0);
    assert.equal(log.problems.length, 1);
  });
});

test('a client census is forwarded to the agent of that pid, handed to the session and replied', async () => {
  await withServer(async (s, log) => {
    const agent = new FakePeer(s.socketPath, (m, p) => p.send({ type: 'reply', id: m.id, ok: true, result: { ...CENSUS, collected: m.collect } }));
    agent.hello(process.pid);
    await until(() => s.agents().length === 1);
    const target = { pid: process.pid, socketPath: s.socketPath, recordingPath: null };
    const c = await askHost<CensusResult>(target, { type: 'client-census', pid: process.pid, collect: true, top: 10 }, 5000);
    assert.equal(c.collected, true);
    assert.equal(c.rows[0]![0], 'dict');
    assert.equal(log.client.length, 1);
    await assert.rejects(askHost(target, { type: 'client-census', pid: 4, collect: false, top: 10 }, 5000), /no agent is connected for pid 4/);
    await assert.rejects(askHost({ ...target, socketPath: '/nonexistent/agent.sock' }, { type: 'client-census', pid: 4, collect: false, top: 1 }, 5000), /has ended \(its socket .* is gone\)/);
  });
});

test('the injection environment puts inject before and lib after an existing PYTHONPATH, never an empty entry; memhunt\'s terminal when it has one', () => {
  const d = pythonRuntimeDirs('/pkg');
  assert.deepEqual(d, { inject: '/pkg/runtimes/python/inject', lib: '/pkg/runtimes/python/lib' });
  const env = agentEnvironment({ PYTHONPATH: '/site/x' }, '/tmp/s/agent.sock', { trace: true, traceFrames: 1 }, '/pkg', null);
  // The program's own directories come before the public memhunt package: its own memhunt module wins.
  assert.equal(env.PYTHONPATH, '/pkg/runtimes/python/inject:/site/x:/pkg/runtimes/python/lib');
  assert.equal(env.MEMHUNT_TTY, undefined);
  assert.equal(agentEnvironment({}, 's', { trace: false, traceFrames: 1 }, '/pkg', '/dev/pts/3').MEMHUNT_TTY, '/dev/pts/3');
  assert.equal(env.MEMHUNT_AGENT_SOCKET, '/tmp/s/agent.sock');
  assert.deepEqual(JSON.parse(env.MEMHUNT_AGENT_OPTIONS!), { trace: true, traceFrames: 1 });
  assert.equal(agentEnvironment({ PYTHONPATH: '' }, 's', { trace: false, traceFrames: 1 }, '/pkg', null).PYTHONPATH, '/pkg/runtimes/python/inject:/pkg/runtimes/python/lib');
  // Resolved from dist/agents/: the package root holds package.json.
  assert.ok(fs.existsSync(path.join(path.dirname(path.dirname(pythonRuntimeDirs().lib)), '..', 'package.json')));
});

function census(t: number, rows: Array<[string, number, number]>): HeapCensusEvent {
  return { kind: 'census', tMs: t, pid: 1, label: `#${t}`, trigger: 'every', collected: true, objects: 0, totalBytes: rows.reduce((s, r) => s + r[2], 0), rows, durationMs: 1, notes: [] };
}

test('growth between censuses: new types, deltas sorted by score, a program type preferred over dict', () => {
  const a = census(1, [['dict', 100, 10_000], ['str', 50, 5000]]);
  const b = census(2, [['dict', 1100, 110_000], ['leaky.Leaky', 1000, 56_000], ['str', 50, 5000]]);
  const g = censusGrowth(a, b);
  assert.deepEqual(g.types.map((t) => [t.typeName, t.bytesDelta, t.countDelta, t.isNew]), [['dict', 100_000, 1000, false], ['leaky.Leaky', 56_000, 1000, true]]);
  assert.equal(pickFromGrowth(g), 'leaky.Leaky');
  // A truncated earlier census: a type missing from it is "unlisted", not new.
  const c = census(3, [['dict', 2100, 210_000], ['(other)', 10, 100]]);
  const d = census(4, [['dict', 2100, 210_000], ['bytes', 5, 20_000], ['(other)', 10, 100]]);
  const g2 = censusGrowth(c, d);
  assert.equal(g2.types[0]!.wasUnlisted, true);
  assert.equal(pickFromGrowth(censusGrowth(b, b)), null);
  const events: RecordingEvent[] = [b, a, { kind: 'mark', tMs: 0, pid: null, label: 'x' }];
  const [p] = heapByProcess(events);
  assert.equal(p!.censuses[0]!.tMs, 1, 'sorted by time');
  assert.equal(p!.growth.length, 1);
  assert.deepEqual(closeNames('Leaky', ['leaky.Leaky', 'dict', 'LeakyBucket', 'Lock']), ['leaky.Leaky', 'LeakyBucket']);
  assert.deepEqual(closeNames('DataFrme', ['pandas.core.frame.DataFrame', 'dict']), ['pandas.core.frame.DataFrame']);
});

const GRAPH = {
  pid: 7, typeName: 'leaky.Leaky', count: 3000, reachedRoot: true,
  nodes: [
    { id: 'm', type: 'module', label: '__main__', kind: 'module' as const, bytes: 0 },
    { id: 'g', type: 'list', label: 'CACHE', kind: 'global' as const, bytes: 0 },
    { id: 'l', type: 'list', label: 'list of 3000 items', kind: 'object' as const, bytes: 24_000 },
    { id: 's', type: 'leaky.Leaky', label: '<Leaky "a\\b">', kind: 'sample' as const, bytes: 56 },
  ],
  edges: [{ from: 'm', to: 'g', label: 'CACHE' }, { from: 'g', to: 'l', label: '' }, { from: 'l', to: 's', label: '[41]' }],
};

test('a refs graph becomes DOT with escaped labels, text chains, SVG (viz.js) and PNG (resvg)', async () => {
  const dot = refsToDot(GRAPH);
  assert.match(dot, /label="\[41\]"/);
  assert.match(dot, /<Leaky \\"a\\\\b\\">/, 'quotes and backslashes escaped');
  assert.match(dot, /global CACHE/);
  assert.deepEqual(refsChains(GRAPH), ['leaky.Leaky <Leaky "a\\b">', '  held by list of 3000 items as [41]', '  held by global CACHE of module __main__']);
  const svg = await dotToSvg(dot);
  assert.match(svg, /^<\?xml[\s\S]*<svg[\s\S]*CACHE[\s\S]*\[41\]/);
  const png = svgToPng(svg);
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
});

const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(fs.readFileSync(path.join(REPO, 'docs', 'recording-format.schema.json'), 'utf8')));

/** Every record of the file against docs/recording-format.schema.json; returns the record types seen. */
function checkSchema(file: string): Set<string> {
  const types = new Set<string>();
  for (const line of zlib.gunzipSync(fs.readFileSync(file)).toString('utf8').trim().split('\n')) {
    const r = JSON.parse(line) as { type: string };
    assert.ok(validate(r), `${line.slice(0, 200)}: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
    types.add(r.type);
  }
  return types;
}

/** Starts `memhunt run` on the fake agent; resolves with the recording once it ends. */
async function fakeRun(args: string[], fakeArgs: string[]) {
  const out = path.join(tempDir(), 'run.mh');
  const r = await runCli(['run', '-q', '--interval', '20ms', '-o', out, ...args, '--', process.execPath, FAKE, ...fakeArgs]);
  return { out, r, rec: await readMemhuntRecording(out) };
}

test('run records agents, sections with their pid, program snapshots, isolated runs and agent errors', async () => {
  const { out, r, rec } = await fakeRun([], ['600', 'events']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /fake agent: connected/);
  const agent = rec.events.find((e) => e.kind === 'agent');
  assert.ok(agent && agent.kind === 'agent' && agent.runtimeVersion === '3.99.0');
  const pid = agent.pid;
  const section = rec.events.find((e) => e.kind === 'section');
  assert.ok(section && section.kind === 'section' && section.label === 'load data' && section.pid === pid && section.endMs !== null);
  assert.ok(rec.events.some((e) => e.kind === 'census' && e.trigger === 'program' && e.label === 'after load'));
  assert.ok(rec.events.some((e) => e.kind === 'isolated' && e.childPid === 4242 && e.peakRssBytes === 52428800));
  assert.ok(rec.events.some((e) => e.kind === 'note' && e.pid === pid && /agent error: census: something broke/.test(e.text)));
  const types = checkSchema(out);
  for (const t of ['agent', 'marker', 'census', 'isolated', 'note']) assert.ok(types.has(t), t);
});

test('--heap-every records census growth, --trace-allocations sites, refs of the growing type; heap and refs show them', async () => {
  const { out, r, rec } = await fakeRun(['--heap-every', '150ms', '--trace-allocations'], ['1000', 'until-censuses=3']);
  assert.equal(r.code, 0, r.stderr);
  const censuses = rec.events.filter((e) => e.kind === 'census');
  assert.ok(censuses.length >= 3, `${censuses.length} censuses`);
  assert.ok(censuses.every((c) => c.kind === 'census' && c.trigger === 'every' && c.collected));
  assert.ok(rec.events.filter((e) => e.kind === 'trace').length >= 3);
  const refs = rec.events.filter((e) => e.kind === 'refs');
  assert.equal(refs.length, 1, 'refs once per growing type');
  assert.ok(refs[0]!.kind === 'refs' && refs[0]!.typeName === 'leaky.Leaky');
  const types = checkSchema(out);
  for (const t of ['census', 'trace', 'refs']) assert.ok(types.has(t), t);

  const heap = await runCli(['heap', out]);
  assert.equal(heap.code, 0, heap.stderr);
  assert.match(heap.stdout, /growth .*: \+2,000 objects, \+/);
  assert.match(heap.stdout, /\+54\.7 KiB\s+\+1,000\s+.*leaky\.Leaky/);
  assert.match(heap.stdout, /\+156 KiB\s+\/app\/leaky\.py:12 {2}CACHE\.append\(Leaky\(\)\)/);
  assert.match(heap.stdout, /native \(RSS − traced\)/);
  const json = JSON.parse((await runCli(['heap', out, '--json'])).stdout);
  assert.equal(json.processes[0].growth[0].types[0].typeName, 'dict');

  const svg = path.join(path.dirname(out), 'refs.svg');
  const refsCli = await runCli(['refs', out, '--type', 'Leaky', '-o', svg]);
  assert.equal(refsCli.code, 0, refsCli.stderr);
  assert.match(refsCli.stdout, /held by global CACHE/);
  assert.match(fs.readFileSync(svg, 'utf8'), /CACHE/);
  const bad = await runCli(['refs', out, '--type', 'Lekay']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^memhunt: no objects of type "Lekay" .*close names: leaky\.Leaky/);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
});

test('--on-threshold snapshot and --break-at ask the agent, and say what the debugger does to memory', async () => {
  // Node starts at ~45 MiB here; the fake agent then grows ~100 MiB/s, after it has connected.
  const { r, rec } = await fakeRun(['--on-threshold', '100MiB:snapshot', '--break-at', '120MiB', '--trace-allocations'], ['1500', 'until-break']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /stopping pid \d+ .*in pdb/);
  assert.doesNotMatch(r.stderr, /stay referenced/, 'the agent prints the warning, at the (Pdb) prompt; memhunt does not repeat it');
  assert.match(r.stdout, /fake agent: break \(memhunt: memory reached/);
  const snap = rec.events.find((e) => e.kind === 'threshold' && e.action === 'snapshot');
  assert.ok(snap && snap.kind === 'threshold' && /heap census and allocation sites of pid \d+ requested/.test(snap.note ?? ''), JSON.stringify(snap));
  assert.ok(rec.events.some((e) => e.kind === 'census' && e.trigger === 'threshold' && e.label === '--on-threshold 100MiB:snapshot'));
  assert.ok(rec.events.some((e) => e.kind === 'trace' && e.trigger === 'threshold'));
  const brk = rec.events.find((e) => e.kind === 'threshold' && e.action === 'break');
  assert.ok(brk && brk.kind === 'threshold' && /pdb requested in pid/.test(brk.note ?? ''));
  assert.ok(rec.events.some((e) => e.kind === 'note' && /entered pdb/.test(e.text)));
  // The time in pdb is a pause (the agent says when the program runs on), left out of the verdict.
  const pause = rec.events.find((e) => e.kind === 'pause');
  assert.ok(pause && pause.kind === 'pause' && pause.cause === 'break' && pause.endMs - pause.tMs >= 250 && pause.endMs - pause.tMs < 10_000, JSON.stringify(pause));
});

test('--break-at where the agent cannot break: one line saying why, never "stopping"; the summary says no break happened', async () => {
  const { r, rec } = await fakeRun(['--break-at', '120MiB'], ['1500', 'until-break', 'no-terminal']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /stopping/);
  assert.match(r.stderr, /no debugger break in pid \d+ .*: stdin of pid \d+ is not a terminal/);
  assert.doesNotMatch(r.stdout, /fake agent: break \(/);
  assert.ok(!rec.events.some((e) => e.kind === 'pause'));
  assert.ok(rec.events.some((e) => e.kind === 'note' && /^break failed: /.test(e.text)));
});

test('a process that dies mid-census leaves a note, and the recording is whole', async () => {
  const { r, rec } = await fakeRun(['--heap-every', '100ms'], ['2000', 'die-in-census', 'until-censuses=2']);
  assert.equal(r.code, 7, r.stderr);
  assert.equal(rec.events.filter((e) => e.kind === 'census').length, 1);
  assert.ok(rec.events.some((e) => e.kind === 'note' && /census \(every 100 ms #\d+\) failed: pid \d+ ended .*before answering census/.test(e.text)), JSON.stringify(rec.events.filter((e) => e.kind === 'note')));
  assert.equal(rec.end?.reason, 'exited');
  assert.equal(rec.truncated, false);
});

test('snapshot <pid>: a census of a running injected process, recorded; a process without the agent: exit 2', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'live.mh');
  const child = spawn(process.execPath, [CLI, 'run', '-q', '-o', out, '--', process.execPath, FAKE, '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const agentPid = await new Promise<number>((resolve, reject) => {
      let text = '';
      child.stdout!.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.includes('fake agent: connected')) {
          // The fake agent is the run's only grandchild-free child: find it by its parent.
          const kids = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
          resolve(kids[0]!);
        }
      });
      child.on('exit', () => reject(new Error('run ended early')));
    });
    assert.equal(findAgentTarget(agentPid).recordingPath, out);
    const r = await runCli(['snapshot', String(agentPid), '--top', '3']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^pid ${agentPid}: [\\d,]+ objects`));
    assert.match(r.stdout, /leaky\.Leaky/);
    const j = await runCli(['snapshot', String(agentPid), '--json', '--collect']);
    assert.equal(JSON.parse(j.stdout).collected, true);
    const live = await runCli(['refs', String(agentPid), '--type', 'Leaky', '-o', path.join(dir, 'live.png')]);
    assert.equal(live.code, 0, live.stderr);
    assert.match(live.stdout, /held by global CACHE/);
    assert.ok(fs.statSync(path.join(dir, 'live.png')).size > 1000);
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => child.on('close', r));
  }
  const rec = await readMemhuntRecording(out);
  // Two snapshots, and the census refs took to resolve the short name "Leaky".
  assert.deepEqual(rec.events.filter((e) => e.kind === 'census' && e.trigger === 'client').map((e) => e.kind === 'census' && e.label), ['memhunt snapshot', 'memhunt snapshot', 'memhunt refs: type names']);
  assert.equal(rec.events.filter((e) => e.kind === 'refs' && e.trigger === 'client').length, 1);

  const plain = await runCli(['snapshot', String(process.pid)]);
  assert.equal(plain.code, 2);
  assert.equal(plain.stderr, `memhunt: pid ${process.pid} was not started under memhunt run with the agent\n`);
  const none = await runCli(['snapshot', '999999999']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no process with pid 999999999/);
  const pp = await runCli(['python-path']);
  assert.equal(pp.stdout.trim(), path.join(REPO, 'runtimes', 'python', 'lib'));
});

test('--no-agent injects nothing; options that need the agent are refused with it', async () => {
  const r = await runCli(['run', '-q', '--no-agent', '-o', path.join(tempDir(), 'x.mh'), '--', 'sh', '-c', 'echo "[$MEMHUNT_AGENT_SOCKET][$PYTHONPATH]"'], { env: { ...process.env, PYTHONPATH: '' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '[][]\n');
  const bad = await runCli(['run', '--no-agent', '--heap-every', '1s', '--', 'true']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--heap-every needs the in-process agent; drop --no-agent/);
  const on = await runCli(['run', '-q', '-o', path.join(tempDir(), 'y.mh'), '--', 'sh', '-c', 'echo "$PYTHONPATH"']);
  assert.equal(on.stdout.trim().split(':')[0], path.join(REPO, 'runtimes', 'python', 'inject'));
});

test('runCommand without a connected agent records why snapshot and break did nothing', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'none.mh');
  const go = path.join(dir, 'go');
  // The command runs until both threshold records are on disk (a 0.3 s command at load 20 ended
  // before its first sample).
  const running = runCommand({
    command: ['sh', '-c', `i=0; while [ ! -e '${go}' ] && [ $i -lt 6000 ]; do sleep 0.05; i=$((i+1)); done`], outputPath: out, intervalMs: 20, metric: 'rss', limitBytes: null,
    thresholds: [{ bytes: 1, action: 'snapshot', spec: '1B:snapshot' }, { bytes: 1, action: 'break', spec: '1B:break', option: '--break-at 1B' }],
  });
  for (let i = 0; i < 2400; i++) {
    const n = await readMemhuntRecording(out).then((r) => r.events.filter((e) => e.kind === 'threshold').length, () => 0);
    if (n >= 2) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  fs.writeFileSync(go, '');
  await running;
  const rec = await readMemhuntRecording(out);
  const notes = rec.events.filter((e) => e.kind === 'threshold').map((e) => (e.kind === 'threshold' ? e.note : ''));
  assert.equal(notes.length, 2);
  for (const n of notes) assert.match(n ?? '', /no in-process agent is connected/);
});
