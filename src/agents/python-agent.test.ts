/**
 * The Python agent (runtimes/python/) in real interpreters, the oldest and newest present here
 * (pyenv 3.8 and 3.13; python3, 3.11 with numpy, for the census's own tests), driven over the real
 * protocol by test-peer.ts (a minimal host). Programs are fixtures/agents/*.py: leaky.py leaks
 * leakymod.Payload objects through the module global leakymod.CACHE on the line marked LEAK.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CensusResult, RefsResult, SnapshotEvent, TraceSnapshotResult, IsolatedEvent, SectionEvent } from './protocol';
import { TestPeer, PYTHON_INJECT_DIR, PYTHON_LIB_DIR, type AgentConnection } from './test-peer';
import { FIXTURES, REPO, tempDir } from '../test-support';

const AGENT_FIXTURES = path.join(FIXTURES, 'agents');
const LEAKY = path.join(AGENT_FIXTURES, 'leaky.py');
const LEAKYMOD = path.join(AGENT_FIXTURES, 'leakymod.py');
const LEAK_LINE = fs.readFileSync(LEAKYMOD, 'utf8').split('\n').findIndex((l) => l.includes('# LEAK')) + 1;

const pyenv = (v: string) => `/root/.pyenv/versions/${v}/bin/python3`;
/** Oldest and newest supported Pythons present; the system's python3 when neither is. */
const PYTHONS: Array<[string, string]> = (() => {
  const found = [['3.8', pyenv('3.8.18')], ['3.13', pyenv('3.13.0')]].filter(([, p]) => fs.existsSync(p!)) as Array<[string, string]>;
  return found.length ? found : [['python3', 'python3']];
})();
const OLD_PYTHONS = [['3.6', pyenv('3.6.15')], ['3.7', pyenv('3.7.16')]].filter(([, p]) => fs.existsSync(p!)) as Array<[string, string]>;
const HAS_SCRIPT = spawnSync('script', ['--version']).status === 0;

/** process.env without anything memhunt (or a Python setup) would set, so the tests do not depend
 * on where they run; no __pycache__ is written into the repository. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('MEMHUNT_') || k.startsWith('PYTHON')) delete env[k];
  env.PYTHONDONTWRITEBYTECODE = '1';
  return env;
}

interface Running {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  /** Resolves with the match of the first stdout line matching re (already printed or to come). */
  line: (re: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
  write: (text: string) => void;
  exit: () => Promise<number | null>;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd = AGENT_FIXTURES): Running {
  const child = spawn(cmd, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.slice()) w();
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => {
    children.delete(child);
    for (const w of waiters.slice()) w();
    resolve(code);
  }));
  return {
    child,
    out: () => out,
    err: () => err,
    line: (re, timeoutMs = 20_000) => new Promise((resolve, reject) => {
      const check = () => {
        const m = re.exec(out);
        if (m) {
          clearTimeout(timer);
          waiters.splice(waiters.indexOf(check), 1);
          resolve(m);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer);
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`exited before printing ${re}: stdout ${JSON.stringify(out)} stderr ${JSON.stringify(err)}`));
        }
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(check), 1);
        reject(new Error(`timed out waiting for ${re}: stdout ${JSON.stringify(out)} stderr ${JSON.stringify(err)}`));
      }, timeoutMs);
      waiters.push(check);
      check();
    }),
    write: (text) => child.stdin!.write(text),
    exit: () => exited,
  };
}

function rowsOf(c: CensusResult): Map<string, [number, number]> {
  return new Map(c.rows.map(([t, n, b]) => [t, [n, b]]));
}

async function ok<T>(agent: AgentConnection, body: Record<string, unknown>): Promise<T> {
  const r = await agent.request<T>(body);
  assert.equal(r.ok, true, `${JSON.stringify(body)} -> ${r.error}`);
  return r.result as T;
}

test('leaky program: census growth names the type, trace growth the line, refs reach the global', async () => {
  await Promise.all(PYTHONS.map(async ([name, python]) => {
    const peer = await TestPeer.start();
    const p = run(python, [LEAKY], peer.pythonEnv({ trace: true, traceFrames: 1 }, cleanEnv()));
    try {
      const pid = Number((await p.line(/^ready (\d+)$/m))[1]);
      const agent = await peer.waitForAgent((h) => h.pid === pid);
      const h = agent.hello;
      assert.equal(h.protocol, 1);
      assert.equal(h.runtime, 'python');
      assert.equal(h.ppid, process.pid, `${name}: ppid`);
      assert.match(h.runtimeVersion, /^3\.\d+\.\d+/);
      assert.ok(h.argv.some((a) => a.endsWith('leaky.py')), `${name}: argv ${h.argv}`);
      assert.ok(['census', 'trace', 'refs', 'break', 'isolated'].every((f) => h.features.includes(f)), `${name}: features ${h.features}`);

      const before = await ok<CensusResult>(agent, { type: 'census', collect: false, top: 60 });
      await ok<TraceSnapshotResult>(agent, { type: 'trace-snapshot', top: 10 });
      p.write('leak 20000\n');
      await p.line(/^leaked 20000$/m);

      // Back-references of the fastest-growing type since the previous census reach the global.
      const refs = await ok<RefsResult>(agent, { type: 'refs', typeName: null, samples: 3, maxDepth: 6 });
      assert.equal(refs.typeName, 'leakymod.Payload', `${name}: the fastest-growing type`);
      assert.ok(refs.count >= 20000);
      assert.equal(refs.reachedRoot, true, `${name}: ${JSON.stringify(refs)}`);
      assert.equal(refs.nodes.filter((n) => n.kind === 'sample').length, 3);
      const mod = refs.nodes.find((n) => n.kind === 'module' && n.label === 'leakymod');
      assert.ok(mod, `${name}: nodes ${JSON.stringify(refs.nodes)}`);
      const global = refs.edges.find((e) => e.from === mod.id && e.label === 'CACHE');
      assert.ok(global, `${name}: edges ${JSON.stringify(refs.edges)}`);
      const list = refs.nodes.find((n) => n.id === global.to)!;
      assert.equal(list.type, 'list');
      assert.ok(refs.edges.filter((e) => e.from === list.id).every((e) => /^\[\d+\]$/.test(e.label)));
      assert.ok(refs.nodes.every((n) => n.label.length <= 80));
      // By name too, and a clear error for a type that is not alive.
      const named = await ok<RefsResult>(agent, { type: 'refs', typeName: 'Payload', samples: 1, maxDepth: 4 });
      assert.equal(named.typeName, 'leakymod.Payload');
      const missing = await agent.request({ type: 'refs', typeName: 'Paylod', samples: 1, maxDepth: 4 });
      assert.equal(missing.ok, false);
      assert.match(missing.error!, /^no object of type Paylod is alive; types that are: .*leakymod\.Payload/);

      const after = await ok<CensusResult>(agent, { type: 'census', collect: true, top: 60 });
      assert.equal(after.collected, true);
      assert.ok(after.objects > 20000 && after.totalBytes > 0 && after.durationMs >= 0);

      // Census growth: leakymod.Payload grew by exactly the 20000 leaked, more than any other type.
      const b = rowsOf(before);
      const growth = [...rowsOf(after)].map(([t, [n, bytes]]) => [t, n - (b.get(t)?.[0] ?? 0), bytes - (b.get(t)?.[1] ?? 0)] as const)
        .sort((x, y) => y[1] - x[1]);
      assert.equal(growth[0]![0], 'leakymod.Payload', `${name}: growth ${JSON.stringify(growth.slice(0, 4))}`);
      assert.equal(growth[0]![1], 20000, `${name}: Payload count delta`);

      // Allocation sites: the top growing line is the LEAK line of leakymod.py.
      const trace = await ok<TraceSnapshotResult>(agent, { type: 'trace-snapshot', top: 10 });
      const top = trace.byGrowth[0]!;
      assert.equal(path.basename(top.file), 'leakymod.py', `${name}: ${JSON.stringify(trace.byGrowth.slice(0, 3))}`);
      assert.equal(top.line, LEAK_LINE);
      assert.equal(top.code, 'CACHE.append(Payload(i))  # LEAK');
      assert.equal(top.package, 'leakymod');
      assert.ok(top.bytesDelta! > 20000 * 40, `${name}: ${top.bytesDelta} bytes`);
      assert.ok(trace.tracedBytes > 0 && trace.tracedPeakBytes >= trace.tracedBytes && trace.rssBytes > trace.tracedBytes);
      const pkg = trace.byPackage.find((x) => x.package === 'leakymod');
      assert.ok(pkg && pkg.bytesDelta! > 20000 * 40, `${name}: byPackage ${JSON.stringify(trace.byPackage.slice(0, 4))}`);
      assert.ok(trace.bySize.every((s) => !s.file.includes(path.join('runtimes', 'python'))), `${name}: the agent's own allocations are left out`);

      // Sections and snapshots from the program.
      p.write('section phase-1\nsnapshot after-leak\n');
      await p.line(/^snapshot done$/m);
      const begin = await agent.waitForEvent((e) => e.type === 'section' && e.kind === 'begin') as SectionEvent;
      const end = await agent.waitForEvent((e) => e.type === 'section' && e.kind === 'end') as SectionEvent;
      assert.equal(begin.label, 'phase-1');
      assert.ok(end.wallMs >= begin.wallMs);
      const snap = await agent.waitForEvent((e) => e.type === 'snapshot') as SnapshotEvent;
      assert.equal(snap.label, 'after-leak');
      assert.ok(rowsOf(snap.census).get('leakymod.Payload')![0] >= 20010);
      assert.ok(snap.trace && snap.trace.bySize.length > 0, `${name}: tracing is on, so the snapshot has allocation sites`);

      // Bad requests get an error reply (or an agent-error event) and the agent goes on.
      const unknown = await agent.request({ type: 'frobnicate' });
      assert.equal(unknown.ok, false);
      assert.match(unknown.error!, /unknown request type 'frobnicate'/);
      const badTop = await agent.request({ type: 'census', collect: false, top: -1 });
      assert.match(badTop.error!, /'top' must be an integer/);
      agent.sendRaw('this is not json\n');
      await agent.waitForEvent((e) => e.type === 'agent-error' && /not JSON/.test(e.message));
      await ok(agent, { type: 'ping' });

      p.write('exit\n');
      assert.equal(await p.exit(), 0, p.err());
      await agent.waitClosed();
      assert.deepEqual(peer.problems, []);
    } finally {
      p.child.kill('SIGKILL');
      await peer.close();
    }
  }));
});

test('multiprocessing: a spawn worker connects by itself, a fork worker when woken (the wake signal), each with its own hello', async () => {
  await Promise.all(PYTHONS.map(async ([name, python]) => {
    const peer = await TestPeer.start();
    const p = run(python, [path.join(AGENT_FIXTURES, 'workers.py')], peer.pythonEnv(undefined, cleanEnv()));
    try {
      const parentPid = Number((await p.line(/^parent (\d+)$/m))[1]);
      const forkPid = Number((await p.line(/^worker fork (\d+)$/m))[1]);
      const spawnPid = Number((await p.line(/^worker spawn (\d+)$/m))[1]);
      const parent = await peer.waitForAgent((h) => h.pid === parentPid);
      assert.equal(parent.hello.wakeSignal, 23, `${name}: the parent names the wake signal (SIGURG)`);
      const spawned = await peer.waitForAgent((h) => h.pid === spawnPid);
      // The fork worker runs nothing of the agent until asked: no connection of its own yet.
      assert.ok(!peer.agents.some((a) => a.hello.pid === forkPid), `${name}: the fork worker did not connect by itself`);
      const forked = await peer.wakeAgent(forkPid);
      assert.equal(forked.hello.wakeSignal, 23);
      assert.equal(forked.hello.ppid, parentPid, `${name}: fork child's ppid`);
      assert.equal(spawned.hello.ppid, parentPid, `${name}: spawn child's ppid`);
      // Each answers on its own connection, and the parent's connection survived the fork.
      for (const a of [parent, forked, spawned]) await ok(a, { type: 'ping' });
      const census = await ok<CensusResult>(forked, { type: 'census', collect: false, top: 40 });
      assert.ok(rowsOf(census).get('bytearray')![0] >= 100, `${name}: the fork worker's own objects`);
      assert.ok(parent.messages.every((m) => m.type !== 'hello'), 'no second hello on the parent connection');
      p.write('go\n');
      await p.line(new RegExp(`^joined ${spawnPid} 0$`, 'm'));
      assert.equal(await p.exit(), 0, p.err());
      await Promise.all([forked.waitClosed(), spawned.waitClosed(), parent.waitClosed()]);
      assert.equal(p.err(), '', `${name}: nothing on stderr (no fork warning caused by the agent's thread)`);
    } finally {
      p.child.kill('SIGKILL');
      await peer.close();
    }
  }));
});

test('fork child: connects after the fork (not before a message it sends), answers census and refs after the parent was asked; a child about to exec does not connect', async () => {
  await Promise.all(PYTHONS.map(async ([name, python]) => {
    const peer = await TestPeer.start();
    const p = run(python, [path.join(AGENT_FIXTURES, 'forkchild.py')], peer.pythonEnv(undefined, cleanEnv()));
    try {
      const parentPid = Number((await p.line(/^parent (\d+)$/m))[1]);
      const parent = await peer.waitForAgent((h) => h.pid === parentPid);
      // The census code is loaded in the parent and the agent guards forks from now on.
      await ok<CensusResult>(parent, { type: 'census', collect: false, top: 10 });
      p.write('fork\n');
      const childPid = Number((await p.line(/^child (\d+)$/m))[1]);
      const execPid = Number((await p.line(/^exec child (\d+)$/m))[1]);
      const child = await peer.waitForAgent((h) => h.pid === childPid);
      assert.equal(child.hello.ppid, parentPid, `${name}: the fork child's ppid`);
      // Sent by the child before its agent's thread connected by itself: waited for, not lost.
      await child.waitForEvent((e) => e.type === 'snapshot' && (e as SnapshotEvent).label === 'child first');
      const census = await ok<CensusResult>(child, { type: 'census', collect: false, top: 40 });
      const held = census.rows.find(([t]) => /(^|\.)Held$/.test(t));
      assert.equal(held?.[1], 100, `${name}: the fork child's own objects: ${JSON.stringify(census.rows.slice(0, 10))}`);
      const refs = await ok<RefsResult>(child, { type: 'refs', typeName: held![0], samples: 1, maxDepth: 4 });
      assert.equal(refs.count, 100, `${name}: refs in the fork child`);
      assert.equal(refs.nodes.filter((n) => n.kind === 'sample').length, 1);
      await ok(parent, { type: 'ping' });
      await p.line(/^forked$/m);
      p.write('go\n');
      await p.line(/^reaped 0$/m);
      assert.equal(await p.exit(), 0, p.err());
      await Promise.all([child.waitClosed(), parent.waitClosed()]);
      assert.ok(!peer.agents.some((a) => a.hello.pid === execPid), `${name}: the child about to exec (subprocess preexec_fn) did not connect`);
      assert.equal(peer.agents.filter((a) => a.hello.pid === childPid).length, 1, `${name}: one connection from the fork child`);
      assert.ok(parent.messages.every((m) => m.type !== 'hello'), 'no second hello on the parent connection');
      assert.equal(p.err(), '', `${name}: nothing on stderr`);
      assert.deepEqual(peer.problems, []);
    } finally {
      p.child.kill('SIGKILL');
      await peer.close();
    }
  }));
});

test('wake signal: a fork child connects only when woken; an exec\'d child is never signalled; MEMHUNT_AGENT_WAKE=0 or an inherited SIGURG disposition: children connect by themselves', async () => {
  const prog = path.join(AGENT_FIXTURES, 'forklazy.py');
  const exeOf = (pid: number) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/exe`);
    } catch {
      return '';
    }
  };
  await Promise.all(PYTHONS.map(async ([name, python]) => {
    const peer = await TestPeer.start();
    const p = run(python, [prog], peer.pythonEnv(undefined, cleanEnv()));
    try {
      const parentPid = Number((await p.line(/^parent (\d+)$/m))[1]);
      const childPid = Number((await p.line(/^child (\d+)$/m))[1]);
      const execPid = Number((await p.line(/^exec (\d+)$/m))[1]);
      const parent = await peer.waitForAgent((h) => h.pid === parentPid);
      assert.equal(parent.hello.wakeSignal, 23, name);
      await ok(parent, { type: 'ping' });
      // The exec'd child is `sleep` now: never signalled (another executable, SIGURG not caught).
      for (let i = 0; i < 2000 && !exeOf(execPid).endsWith('/sleep'); i++) await new Promise((r) => setTimeout(r, 5));
      await assert.rejects(peer.wakeAgent(execPid), /may not be sent the wake signal/, `${name}: the exec'd child`);
      assert.ok(!peer.agents.some((a) => a.hello.pid === childPid), `${name}: the fork child did not connect by itself`);
      const child = await peer.wakeAgent(childPid);
      assert.equal(child.hello.ppid, parentPid);
      const census = await ok<CensusResult>(child, { type: 'census', collect: false, top: 40 });
      assert.equal(census.rows.find(([t]) => /(^|\.)Kept$/.test(t))?.[1], 50, `${name}: the fork child's own objects`);
      await ok(parent, { type: 'ping' });
      p.write('go\n');
      await p.line(/^done 0$/m);
      assert.equal(await p.exit(), 0, p.err());
      await Promise.all([child.waitClosed(), parent.waitClosed()]);
      assert.ok(!peer.agents.some((a) => a.hello.pid === execPid), name);
      assert.equal(p.err(), '', name);
    } finally {
      p.child.kill('SIGKILL');
      await peer.close();
    }
    // Without the wake signal, the fork child connects by itself (after CHILD_CONNECT_DELAY_S).
    for (const [how, cmd, args, extra] of [
      ['MEMHUNT_AGENT_WAKE=0', python, [prog], { MEMHUNT_AGENT_WAKE: '0' }],
      // SIGURG ignored by whoever started Python (kept across exec): the agent leaves it alone.
      ['SIGURG ignored', python, ['-S', '-c', `import os, signal, sys; signal.signal(signal.SIGURG, signal.SIG_IGN); os.execv(sys.executable, [sys.executable, ${JSON.stringify(prog)}])`], {}],
    ] as Array<[string, string, string[], Record<string, string>]>) {
      const peer2 = await TestPeer.start();
      const q = run(cmd, args, { ...peer2.pythonEnv(undefined, cleanEnv()), ...extra });
      try {
        const parentPid = Number((await q.line(/^parent (\d+)$/m))[1]);
        const childPid = Number((await q.line(/^child (\d+)$/m))[1]);
        const parent = await peer2.waitForAgent((h) => h.pid === parentPid);
        assert.equal(parent.hello.wakeSignal, undefined, `${name}, ${how}: no wake signal`);
        const child = await peer2.waitForAgent((h) => h.pid === childPid);
        await ok(child, { type: 'ping' });
        q.write('go\n');
        assert.equal(await q.exit(), 0, q.err());
        assert.equal(q.err(), '', `${name}, ${how}`);
      } finally {
        q.child.kill('SIGKILL');
        await peer2.close();
      }
    }
  }));
});

test('sleep: no agent thread until memhunt asks, none again once idle (MEMHUNT_AGENT_IDLE_S), woken again for the next request', async () => {
  const prog = path.join(AGENT_FIXTURES, 'sleepy.py');
  await Promise.all(PYTHONS.map(async ([name, python]) => {
    const peer = await TestPeer.start();
    const p = run(python, [prog], { ...peer.pythonEnv(undefined, cleanEnv()), MEMHUNT_AGENT_IDLE_S: '0.3' });
    let asked = 0;
    const threads = async () => {
      asked++;
      p.write('threads\n');
      return Number((await p.line(new RegExp(`(?:[\\s\\S]*?^threads \\d+$){${asked - 1}}[\\s\\S]*?^threads (\\d+)$`, 'm')))[1]);
    };
    // The thread ends right after its notice: its count drops once the kernel has it gone.
    const threadsSettle = async (want: number) => {
      let n = await threads();
      for (let i = 0; i < 200 && n !== want; i++) {
        await new Promise((r) => setTimeout(r, 25));
        n = await threads();
      }
      return n;
    };
    try {
      await p.line(/^ready$/m);
      const agent = await peer.waitForAgent((h) => h.pid === p.child.pid);
      assert.equal(agent.hello.sleeps, true, name);
      assert.equal(agent.hello.asleep, true, name);
      assert.equal(await threads(), 1, `${name}: no agent thread before a request`);
      await ok(agent, { type: 'ping' });
      const first = await ok<CensusResult>(agent, { type: 'census', collect: false, top: 5 });
      assert.ok(first.rows.length > 0, name);
      await agent.waitAsleep(1);
      assert.equal(await threadsSettle(1), 1, `${name}: the thread ended once idle`);
      await ok(agent, { type: 'ping' });
      await ok<CensusResult>(agent, { type: 'census', collect: false, top: 5 });
      await agent.waitAsleep(2);
      assert.equal(await threadsSettle(1), 1, name);
      p.write('end\n');
      assert.equal(await p.exit(), 0, p.err());
      assert.equal(p.err(), '', name);
    } finally {
      p.child.kill('SIGKILL');
      await peer.close();
    }
  }));
});

test('import memhunt: the same program runs with an agent, without one (PYTHONPATH=lib), and fails to import with plain python', async () => {
  const prog = path.join(AGENT_FIXTURES, 'uses_memhunt.py');
  await Promise.all(PYTHONS.map(async ([name, python]) => {
    // No session: every helper calls through; isolated still runs in a child.
    const bare = run(python, [prog], { ...cleanEnv(), PYTHONPATH: PYTHON_LIB_DIR });
    assert.equal(await bare.exit(), 0, bare.err());
    assert.match(bare.out(), /^result 1000 45 20$/m);
    assert.match(bare.out(), /^caught bad input 42 \| cause has child traceback: True$/m);
    assert.match(bare.out(), /^died IsolatedError: .*exited with code 7 before returning a result$/m);
    assert.match(bare.out(), /^active False$/m);
    assert.equal(bare.err(), '', `${name}: nothing written without a session`);

    const plain = run(python, [prog], cleanEnv());
    assert.equal(await plain.exit(), 1);
    assert.match(plain.err(), /No module named 'memhunt'/);

    // With a session: the same output, plus events.
    const peer = await TestPeer.start();
    try {
      const p = run(python, [prog], peer.pythonEnv(undefined, cleanEnv()));
      assert.equal(await p.exit(), 0, p.err());
      assert.match(p.out(), /^result 1000 45 20$/m);
      assert.match(p.out(), /^active True$/m);
      const main = await peer.waitForAgent((h) => h.argv.some((a) => a.endsWith('uses_memhunt.py')));
      const sections = main.events.filter((e): e is SectionEvent => e.type === 'section').map((e) => `${e.kind} ${e.label}`);
      assert.deepEqual(sections, ['begin load', 'begin build', 'end build', 'end load', 'begin generator part', 'end generator part']);
      const snap = main.events.find((e) => e.type === 'snapshot') as SnapshotEvent;
      assert.equal(snap.label, 'after load');
      assert.equal(snap.trace, null);
      const isolated = main.events.filter((e): e is IsolatedEvent => e.type === 'isolated');
      assert.deepEqual(isolated.map((e) => [e.label, e.ok]), [['allocate_and_sum', true], ['fail', false], ['die', false]]);
      // The 20 MiB the child held, on top of a fresh interpreter.
      assert.ok(isolated[0]!.peakRssBytes > 20 * 2 ** 20, `${name}: peak ${isolated[0]!.peakRssBytes}`);
      assert.ok(isolated[0]!.durationMs > 0);
      // The isolated children are new interpreters with their own agent (a 'spawn' context).
      const child = await peer.waitForAgent((h) => h.pid === isolated[0]!.childPid);
      assert.equal(child.hello.ppid, main.pid);
    } finally {
      await peer.close();
    }
  }));
});

test('a program\'s own module named memhunt is the one it imports; the agent runs beside it', async () => {
  const dir = path.join(AGENT_FIXTURES, 'own-memhunt');
  await Promise.all(PYTHONS.map(async ([name, python]) => {
    const peer = await TestPeer.start();
    const p = run(python, [path.join(dir, 'main.py')], peer.pythonEnv(undefined, cleanEnv()), dir);
    try {
      const pid = Number((await p.line(/^ready (\d+)$/m))[1]);
      assert.match(p.out(), /^the program's own memhunt\nagent running True$/m, `${name}: ${p.out()} ${p.err()}`);
      const agent = await peer.waitForAgent((h) => h.pid === pid);
      await ok(agent, { type: 'census', collect: false, top: 5 });
      p.write('\n');
      assert.equal(await p.exit(), 0, `${name}: ${p.err()}`);
      assert.equal(p.err(), '');
    } finally {
      p.child.kill('SIGKILL');
      await peer.close();
    }
  }));
});

test('fork under warnings-as-errors (pytest -W error): no warning caused by the agent\'s thread, filters left as they were; a program\'s own thread still warns', async () => {
  // Python 3.12+ warns about fork() in a multi-threaded process; 3.12 and 3.13 decide it at different points.
  const pythons = [['3.12', pyenv('3.12.1')], ['3.13', pyenv('3.13.0')]].filter(([, p]) => fs.existsSync(p!)) as Array<[string, string]>;
  const prog = path.join(AGENT_FIXTURES, 'forkwarn.py');
  await Promise.all(pythons.map(async ([name, python]) => {
    const peer = await TestPeer.start();
    try {
      const p = run(python, [prog], peer.pythonEnv(undefined, cleanEnv()));
      assert.equal(await p.exit(), 0, `${name}: ${p.out()} ${p.err()}`);
      assert.equal(p.err(), '', name);
      for (let i = 0; i < 3; i++) assert.match(p.out(), new RegExp(`^fork ${i} child status 0 filters unchanged True warnings 0$`, 'm'), `${name}: ${p.out()}`);
      assert.match(p.out(), /^4 forks in a row: children \[0, 0, 0, 0\]$/m, `${name}: ${p.out()}`);
      assert.match(p.out(), /^threads 1$/m, `${name}: the agent, never asked, has no thread`);
      await peer.waitForAgent((h) => h.pid === p.child.pid);
      // The agent's thread awake (asked something; it stays for MEMHUNT_AGENT_IDLE_S): its own
      // warning is hidden, the filters are as they were.
      const w = run(python, [prog, 'wait'], { ...peer.pythonEnv(undefined, cleanEnv()), MEMHUNT_AGENT_IDLE_S: '600' });
      await w.line(/^ready$/m);
      await ok(await peer.waitForAgent((h) => h.pid === w.child.pid), { type: 'ping' });
      w.write('go\n');
      assert.equal(await w.exit(), 0, `${name}: ${w.out()} ${w.err()}`);
      assert.equal(w.err(), '', name);
      assert.match(w.out(), /^threads 2$/m, `${name}: ${w.out()}`);
      for (let i = 0; i < 3; i++) assert.match(w.out(), new RegExp(`^fork ${i} child status 0 filters unchanged True warnings 0$`, 'm'), `${name}: ${w.out()}`);
      assert.match(w.out(), /^4 forks in a row: children \[0, 0, 0, 0\]$/m, `${name}: ${w.out()}`);
      // The program's own thread: the warning is the program's, shown as without memhunt.
      const q = run(python, [prog, 'thread'], peer.pythonEnv(undefined, cleanEnv()));
      assert.equal(await q.exit(), 0, `${name}: ${q.out()} ${q.err()}`);
      for (let i = 0; i < 3; i++) assert.match(q.out(), new RegExp(`^fork ${i} child status 0 filters unchanged True warnings 1$`, 'm'), `${name}: ${q.out()}`);
    } finally {
      await peer.close();
    }
  }));
});

test('sitecustomize chains to the next sitecustomize on sys.path, also one that fails', async () => {
  const other = tempDir('memhunt-site-');
  fs.writeFileSync(path.join(other, 'sitecustomize.py'), 'import os\nos.environ["SITE_HOOK"] = "ran"\nprint("site hook ran", flush=True)\n');
  const failing = tempDir('memhunt-site-bad-');
  fs.writeFileSync(path.join(failing, 'sitecustomize.py'), 'raise RuntimeError("broken site hook")\n');
  const code = 'import os, sys; print("hook", os.environ.get("SITE_HOOK"), sys.modules["sitecustomize"].__file__)';
  await Promise.all(PYTHONS.map(async ([name, python]) => {
    const peer = await TestPeer.start();
    try {
      const env = peer.pythonEnv(undefined, cleanEnv());
      env.PYTHONPATH = `${env.PYTHONPATH}:${other}`;
      const p = run(python, ['-c', code], env);
      assert.equal(await p.exit(), 0, p.err());
      assert.match(p.out(), new RegExp(`^site hook ran\\nhook ran ${other}/sitecustomize\\.py$`, 'm'), `${name}: ${p.out()}`);
      await peer.waitForAgent((h) => h.pid === p.child.pid);

      const envBad = peer.pythonEnv(undefined, cleanEnv());
      envBad.PYTHONPATH = `${envBad.PYTHONPATH}:${failing}`;
      const q = run(python, ['-c', 'print("still runs")'], envBad);
      assert.equal(await q.exit(), 0);
      assert.match(q.out(), /^still runs$/m);
      assert.match(q.err(), /^Error in sitecustomize; set PYTHONVERBOSE for traceback:\nRuntimeError: broken site hook$/m);
      await peer.waitForAgent((h) => h.pid === q.child.pid);

      // No next sitecustomize: ours stays the module, nothing is printed.
      const r = run(python, ['-c', 'import sys; print(sys.modules["sitecustomize"].__file__)'], peer.pythonEnv(undefined, cleanEnv()));
      assert.equal(await r.exit(), 0);
      assert.equal(r.out().trim(), path.join(PYTHON_INJECT_DIR, 'sitecustomize.py'));
      assert.equal(r.err(), '');
    } finally {
      await peer.close();
    }
  }));
});

test('Python older than 3.8: one line on stderr, no agent, the program runs', { skip: OLD_PYTHONS.length ? false : 'no Python < 3.8 here' }, async () => {
  const peer = await TestPeer.start();
  try {
    await Promise.all(OLD_PYTHONS.map(async ([name, python]) => {
      const p = run(python, ['-c', 'import memhunt; print("ran", memhunt.active(), memhunt.isolated(len, "abc"))'], peer.pythonEnv(undefined, cleanEnv()));
      assert.equal(await p.exit(), 0, p.err());
      assert.equal(p.out(), 'ran False 3\n');
      assert.match(p.err(), new RegExp(`^memhunt: Python ${name} in pid \\d+ is older than 3\\.8: no in-process agent .*\\n$`));
      assert.equal(p.err().split('\n').length, 2, 'exactly one line');
    }));
    assert.equal(peer.agents.length, 0);
  } finally {
    await peer.close();
  }
});

test('the agent never breaks the program: bad options, no memhunt listening', async () => {
  await Promise.all(PYTHONS.map(async ([name, python]) => {
    const peer = await TestPeer.start();
    try {
      const env = peer.pythonEnv(undefined, cleanEnv());
      env.MEMHUNT_AGENT_OPTIONS = '{"trace": tru';
      const p = run(python, ['-c', 'print("ok")'], env);
      assert.equal(await p.exit(), 0);
      assert.equal(p.out(), 'ok\n');
      assert.equal(p.err(), '');
      const agent = await peer.waitForAgent((h) => h.pid === p.child.pid);
      const e = await agent.waitForEvent((x) => x.type === 'agent-error');
      assert.match(e.type === 'agent-error' ? e.message : '', /MEMHUNT_AGENT_OPTIONS is not valid JSON/);
    } finally {
      await peer.close();
    }
    // memhunt gone: the socket does not exist.
    const gone = run(python, ['-c', 'import memhunt; print("ok", memhunt.active())'], {
      ...cleanEnv(), MEMHUNT_AGENT_SOCKET: path.join(tempDir(), 'gone.sock'), PYTHONPATH: `${PYTHON_INJECT_DIR}:${PYTHON_LIB_DIR}`,
    });
    assert.equal(await gone.exit(), 0, `${name}: ${gone.err()}`);
    assert.equal(gone.out(), 'ok False\n');
    assert.equal(gone.err(), '');
  }));
});

test('break: the main thread enters pdb at its current line; p and c work; the warning is printed', { skip: HAS_SCRIPT ? false : 'util-linux script is not installed' }, async () => {
  await Promise.all(PYTHONS.map(async ([name, python]) => {
    const peer = await TestPeer.start();
    // script gives the program a terminal (pdb needs one); its stdin is ours.
    const p = run('script', ['-qfec', `${python} ${path.join(AGENT_FIXTURES, 'breakme.py')}`, '/dev/null'], peer.pythonEnv(undefined, cleanEnv()));
    try {
      const pid = Number((await p.line(/ready (\d+)/))[1]);
      const agent = await peer.waitForAgent((h) => h.pid === pid);
      const reply = await agent.request({ type: 'break', reason: 'the tree crossed 1.0 GiB (--break-at)' });
      assert.equal(reply.ok, true, `${name}: ${reply.error}`);
      await p.line(/\(Pdb\) $/);
      assert.match(p.out(), /memhunt: break in pid \d+ at .*breakme\.py:\d+ in <module>\(\): the tree crossed 1\.0 GiB \(--break-at\)/);
      assert.match(p.out(), /objects you look at from pdb .* stay referenced by the debugger/);
      p.write('p some_var\n');
      await p.line(/'the value of some_var'/);
      p.write("some_var = 'changed in pdb'\n");
      p.write('c\n');
      await p.line(/resumed after the debugger/);
      assert.equal(await p.exit(), 0, `${name}: ${p.out()}`);
    } finally {
      p.child.kill('SIGKILL');
      await peer.close();
    }
  }));
});

test('requests never make the agent\'s thread import threading (3.9-3.12 would then hang at exit)', async () => {
  const pythons = [...PYTHONS, ...(fs.existsSync(pyenv('3.12.1')) ? [['3.12', pyenv('3.12.1')] as [string, string]] : [])];
  await Promise.all(pythons.map(async ([name, python]) => {
    const peer = await TestPeer.start();
    const p = run(python, [path.join(AGENT_FIXTURES, 'quiet.py')], peer.pythonEnv(undefined, cleanEnv()));
    try {
      const pid = Number((await p.line(/^ready (\d+)$/m))[1]);
      const agent = await peer.waitForAgent((h) => h.pid === pid);
      await ok(agent, { type: 'census', collect: true, top: 5 });
      await ok(agent, { type: 'trace-start', frames: 2 });
      await ok(agent, { type: 'trace-snapshot', top: 5 });
      await ok(agent, { type: 'refs', typeName: 'dict', samples: 1, maxDepth: 3 });
      assert.equal((await agent.request({ type: 'break', reason: 'x' })).ok, false); // no terminal
      p.write('\n');
      await p.line(/^threading imported before: False; main thread right: True$/m);
      assert.equal(await p.exit(), 0, `${name}: ${p.err()}`);
    } finally {
      p.child.kill('SIGKILL');
      await peer.close();
    }
  }));
});

test('break without a terminal is refused and the program goes on', async () => {
  const [, python] = PYTHONS[PYTHONS.length - 1]!;
  const peer = await TestPeer.start();
  const p = run(python, [LEAKY], peer.pythonEnv(undefined, cleanEnv()));
  try {
    const pid = Number((await p.line(/^ready (\d+)$/m))[1]);
    const agent = await peer.waitForAgent((h) => h.pid === pid);
    const r = await agent.request({ type: 'break', reason: 'test' });
    assert.equal(r.ok, false);
    assert.match(r.error!, /stdin of pid \d+ is not a terminal/);
    p.write('leak 10\nexit\n');
    assert.equal(await p.exit(), 0);
  } finally {
    p.child.kill('SIGKILL');
    await peer.close();
  }
});

test('Python-side tests (census against a brute-force reference, numpy)', async () => {
  // python3 (pyenv 3.11) has numpy; Debian's /usr/bin/python3 has pandas when python3-pandas is installed.
  const pythons: Array<[string, string]> = [...PYTHONS, ['python3', 'python3'], ...(fs.existsSync('/usr/bin/python3') ? [['debian', '/usr/bin/python3'] as [string, string]] : [])];
  // The census and duplicate search run the C helpers (memhunt_heap.c) where they build; the last
  // interpreter runs the suite once more on the pure-Python fallback (MEMHUNT_NATIVE=0).
  const runs: Array<[string, string, Record<string, string>]> = pythons.map(([n, p]) => [n, p, {}]);
  const [lastName, lastPython] = pythons[pythons.length - 1]!;
  runs.push([`${lastName} (no C helpers)`, lastPython, { MEMHUNT_NATIVE: '0' }]);
  await Promise.all(runs.map(async ([name, python, extra]) => {
    const p = run(python, ['-m', 'unittest', 'discover', '-s', path.join(REPO, 'runtimes', 'python', 'tests')], { ...cleanEnv(), PYTHONPATH: PYTHON_LIB_DIR, ...extra }, REPO);
    assert.equal(await p.exit(), 0, `${name}: ${p.err()}`);
    assert.match(p.err(), /^OK/m);
  }));
});
