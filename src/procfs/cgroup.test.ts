import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import {
  CgroupGoneError, CgroupReader, containerIdFromCgroupPath, findMemoryCgroup, parseMountinfo, parseProcCgroup,
  type CgroupLocation,
} from './cgroup';
import { InputError } from '../errors';

// Compiled to dist/procfs/: the fixtures stay in the source tree.
const FIX = path.resolve(__dirname, '../../fixtures/procfs');
const fixture = (name: string): string => path.join(FIX, name);

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** A writable copy of a fixture tree, removed after the test. */
function copyFixture(t: { after: (fn: () => void) => void }, name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `memhunt-${name}-`));
  fs.cpSync(fixture(name), dir, { recursive: true });
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function openReader(t: { after: (fn: () => void) => void }, loc: CgroupLocation | null): CgroupReader {
  assert.ok(loc, 'expected a cgroup location');
  const r = new CgroupReader(loc);
  t.after(() => r.close());
  return r;
}

describe('parseProcCgroup', () => {
  test('v2, v1, co-mounted and named hierarchies', () => {
    const lines = parseProcCgroup('12:pids:/a\n7:cpu,memory:/x/y\n1:name=systemd:/s\n0::/k8s/pod\n');
    assert.deepEqual(lines, [
      { hierarchyId: 12, controllers: ['pids'], path: '/a' },
      { hierarchyId: 7, controllers: ['cpu', 'memory'], path: '/x/y' },
      { hierarchyId: 1, controllers: ['name=systemd'], path: '/s' },
      { hierarchyId: 0, controllers: [], path: '/k8s/pod' },
    ]);
  });

  test('a path with colons stays whole (JDK-8272124)', () => {
    assert.deepEqual(parseProcCgroup('4:memory:/system.slice/a:b:c.scope'), [
      { hierarchyId: 4, controllers: ['memory'], path: '/system.slice/a:b:c.scope' },
    ]);
  });
});

describe('parseMountinfo', () => {
  test('fields after the variable optional fields, octal escapes decoded', () => {
    const text = [
      '32 22 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate',
      '44 33 0:39 / /sys/fs/cgroup/memory rw,relatime shared:21 master:3 - cgroup cgroup rw,memory',
      '60 1 0:50 /sub\\040dir /mnt/my\\040cgroups rw - cgroup cgroup rw,cpu,memory',
      '61 1 0:51 / /mnt/x rw - tmpfs tmpfs rw',
    ].join('\n');
    const m = parseMountinfo(text);
    assert.equal(m.length, 4);
    assert.deepEqual(m[0], { root: '/', mountPoint: '/sys/fs/cgroup', fstype: 'cgroup2', source: 'cgroup2', superOptions: ['rw', 'nsdelegate'] });
    assert.equal(m[1]!.fstype, 'cgroup');
    assert.deepEqual(m[1]!.superOptions, ['rw', 'memory']);
    assert.equal(m[2]!.root, '/sub dir');
    assert.equal(m[2]!.mountPoint, '/mnt/my cgroups');
  });
});

describe('containerIdFromCgroupPath', () => {
  const id = '9c58dabe45783b87224b93b06ee7c2b34378c571bb043e011404426ea0161bcf';
  const inner = '788d5d050e0733a9ba6eaa7f1ff371346df374c6f6d7eaa0de7cc78d6826b8a8';
  test('the runtimes\' naming schemes', () => {
    assert.equal(containerIdFromCgroupPath(`/docker/${id}`), id);
    assert.equal(containerIdFromCgroupPath(`/system.slice/docker-${id}.scope`), id);
    assert.equal(containerIdFromCgroupPath(`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod72788cf8_3bdd.slice/cri-containerd-${id}.scope`), id);
    assert.equal(containerIdFromCgroupPath(`/kubepods/burstable/pod72788cf8-3bdd-4af2-b036-4531dacc25cd/${id}`), id);
    assert.equal(containerIdFromCgroupPath(`/kubepods.slice/kubepods-pod1.slice/crio-${id}.scope`), id);
    assert.equal(containerIdFromCgroupPath(`/machine.slice/libpod-${id}.scope/container`), id);
    assert.equal(containerIdFromCgroupPath(`/docker/${id}/docker/${inner}`), inner, 'the innermost of nested containers');
  });
  test('null for anything else', () => {
    assert.equal(containerIdFromCgroupPath('/'), null);
    assert.equal(containerIdFromCgroupPath('/user.slice/user-1000.slice/session-3.scope'), null);
    assert.equal(containerIdFromCgroupPath('/process_api/f782e855e2e07d2c9aa4d94f231102ee'), null, '32 hex is not a container id');
    assert.equal(containerIdFromCgroupPath(`/kubepods.slice/crio-conmon-${id}.scope`), null, 'CRI-O monitor, not the container');
    assert.equal(containerIdFromCgroupPath(`/docker/${id.toUpperCase()}`), null);
  });
});

describe('fixture trees', () => {
  test('cgroup-v2: host view, smaller limit on an ancestor', (t) => {
    const root = fixture('cgroup-v2');
    const loc = findMemoryCgroup(31337, root);
    const leaf = '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod72788cf8_3bdd_4af2_b036_4531dacc25cd.slice/cri-containerd-9c58dabe45783b87224b93b06ee7c2b34378c571bb043e011404426ea0161bcf.scope';
    assert.deepEqual(loc, {
      version: 2, path: leaf, dir: path.join(root, 'sys/fs/cgroup', leaf), mountDir: path.join(root, 'sys/fs/cgroup'),
    });
    assert.equal(containerIdFromCgroupPath(loc!.path), '9c58dabe45783b87224b93b06ee7c2b34378c571bb043e011404426ea0161bcf');
    const r = openReader(t, loc);
    assert.deepEqual(r.read(), {
      usageBytes: 398458880,
      workingSetBytes: 398458880 - 62914560,
      inactiveFileBytes: 62914560,
      anonBytes: 301989888,
      fileBytes: 88080384,
      shmemBytes: 4194304,
      peakBytes: 421527552,
      oomKills: 0,
    });
    assert.equal(r.readLimit(), 512 * MiB, 'pod slice (512 MiB) is below the container\'s own 1 GiB');
  });

  test('cgroup-v2: the root cgroup has no memory accounting → null', () => {
    assert.equal(findMemoryCgroup(2, fixture('cgroup-v2')), null);
  });

  test('cgroup-v2-oom: oom_kill counted, peak at the limit', (t) => {
    const r = openReader(t, findMemoryCgroup(2718, fixture('cgroup-v2-oom')));
    assert.equal(r.location.version, 2);
    assert.equal(containerIdFromCgroupPath(r.location.path), '788d5d050e0733a9ba6eaa7f1ff371346df374c6f6d7eaa0de7cc78d6826b8a8');
    const c = r.read();
    assert.equal(c.oomKills, 1);
    assert.equal(c.peakBytes, 256 * MiB);
    assert.equal(r.readLimit(), 256 * MiB);
    assert.equal(c.usageBytes, 142606336);
    assert.equal(c.workingSetBytes, 142606336 - 4194304);
  });

  test('cgroup-v2-namespaced: 0::/ with a mount root deep in the host tree; no memory.peak', (t) => {
    const root = fixture('cgroup-v2-namespaced');
    const loc = findMemoryCgroup(1, root);
    assert.deepEqual(loc, { version: 2, path: '/', dir: path.join(root, 'sys/fs/cgroup'), mountDir: path.join(root, 'sys/fs/cgroup') });
    const r = openReader(t, loc);
    const c = r.read();
    assert.equal(c.usageBytes, 1508900864);
    assert.equal(c.workingSetBytes, 1508900864 - 301989888);
    assert.equal(c.peakBytes, null, 'Linux 5.15 has no memory.peak');
    assert.equal(c.oomKills, 0);
    assert.equal(c.shmemBytes, 64 * MiB);
    assert.equal(r.readLimit(), 2 * GiB);
  });

  test('cgroup-v1: host view, hierarchical_memory_limit below the own limit', (t) => {
    const root = fixture('cgroup-v1');
    const id = '79e5aec69e5cf3339998a75c46d9e75ec8705362601c077432ffa7028020f0cf';
    const loc = findMemoryCgroup(4711, root);
    assert.deepEqual(loc, {
      version: 1, path: `/docker/${id}`, dir: path.join(root, 'sys/fs/cgroup/memory/docker', id), mountDir: path.join(root, 'sys/fs/cgroup/memory'),
    });
    assert.equal(containerIdFromCgroupPath(loc!.path), id);
    const r = openReader(t, loc);
    assert.deepEqual(r.read(), {
      usageBytes: 734003200,
      workingSetBytes: 734003200 - 209715200,
      inactiveFileBytes: 209715200,
      anonBytes: 467664896,
      fileBytes: 262144000,
      shmemBytes: 16777216,
      peakBytes: 912261120,
      oomKills: 0,
    });
    assert.equal(r.readLimit(), 1 * GiB, 'min(limit_in_bytes 2 GiB, hierarchical_memory_limit 1 GiB)');
  });

  test('cgroup-v1-unlimited: mount root stripped, no limit, no oom_kill line', (t) => {
    const root = fixture('cgroup-v1-unlimited');
    const loc = findMemoryCgroup(1, root);
    assert.deepEqual(loc, {
      version: 1,
      path: '/docker/72788cf8c0de4f0e9a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071',
      dir: path.join(root, 'sys/fs/cgroup/memory'),
      mountDir: path.join(root, 'sys/fs/cgroup/memory'),
    });
    const r = openReader(t, loc);
    const c = r.read();
    assert.equal(c.usageBytes, 187101184);
    assert.equal(c.workingSetBytes, 187101184 - 38658048);
    assert.equal(c.peakBytes, 231882752);
    assert.equal(c.oomKills, null, 'oom_control has no oom_kill line before Linux 4.13');
    assert.equal(c.shmemBytes, null);
    assert.equal(r.readLimit(), null, '9223372036854771712 means unlimited');
  });

  test('cgroup-hybrid: v1 memory wins over the empty unified hierarchy', (t) => {
    const root = fixture('cgroup-hybrid');
    const loc = findMemoryCgroup(1234, root);
    assert.equal(loc?.version, 1);
    assert.equal(loc.path, '/process_api/f782e855e2e07d2c9aa4d94f231102ee');
    assert.equal(loc.dir, path.join(root, 'sys/fs/cgroup/memory/process_api/f782e855e2e07d2c9aa4d94f231102ee'));
    assert.equal(containerIdFromCgroupPath(loc.path), null);
    const r = openReader(t, loc);
    const c = r.read();
    assert.equal(c.usageBytes, 5324800);
    assert.equal(c.workingSetBytes, 5324800 - 1376256);
    assert.equal(c.peakBytes, 12546048);
    assert.equal(c.oomKills, 0);
    assert.equal(r.readLimit(), null);
  });

  test('no-cgroup: nothing mounted, or no cgroup file → null', () => {
    assert.equal(findMemoryCgroup(4242, fixture('no-cgroup')), null);
    assert.equal(findMemoryCgroup(4243, fixture('no-cgroup')), null);
  });

  test('an unknown pid is an InputError; no /proc at all is null', () => {
    assert.throws(() => findMemoryCgroup(999999, fixture('no-cgroup')), InputError);
    assert.throws(() => findMemoryCgroup(0, fixture('no-cgroup')), InputError);
    assert.equal(findMemoryCgroup(1, path.join(FIX, 'does-not-exist')), null);
  });
});

describe('trees built in the test', () => {
  test('co-mounted cpu,memory under a mount point with a space, sub-path root', (t) => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'memhunt-comount-'));
    t.after(() => fs.rmSync(root, { recursive: true, force: true }));
    fs.mkdirSync(path.join(root, 'proc/77'), { recursive: true });
    fs.mkdirSync(path.join(root, 'proc/self'), { recursive: true });
    fs.writeFileSync(path.join(root, 'proc/77/cgroup'), '3:cpu,memory:/batch/job 7\n0::/\n');
    fs.writeFileSync(path.join(root, 'proc/self/mountinfo'),
      '40 31 0:30 /batch /mnt/my\\040cgroups rw,relatime shared:4 - cgroup cgroup rw,cpu,memory\n');
    const dir = path.join(root, 'mnt/my cgroups/job 7');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'memory.usage_in_bytes'), '1048576\n');
    fs.writeFileSync(path.join(dir, 'memory.limit_in_bytes'), '4194304\n');
    fs.writeFileSync(path.join(dir, 'memory.stat'), 'cache 0\nrss 1048576\nhierarchical_memory_limit 4194304\ntotal_cache 0\ntotal_rss 1048576\ntotal_inactive_file 0\n');
    const loc = findMemoryCgroup(77, root);
    assert.deepEqual(loc, { version: 1, path: '/batch/job 7', dir, mountDir: path.join(root, 'mnt/my cgroups') });
    const r = openReader(t, loc);
    const c = r.read();
    assert.equal(c.usageBytes, MiB);
    assert.equal(c.peakBytes, null, 'no memory.max_usage_in_bytes in this tree');
    assert.equal(c.oomKills, null);
    assert.equal(r.readLimit(), 4 * MiB);
  });
});

describe('CgroupReader re-reads through its open files', () => {
  test('new values written between reads are seen (v2)', (t) => {
    const root = copyFixture(t, 'cgroup-v2');
    const r = openReader(t, findMemoryCgroup(31337, root));
    const dir = r.location.dir;
    assert.equal(r.read().usageBytes, 398458880);

    // Same inodes, new contents: what the kernel does on every read of a cgroup file.
    fs.writeFileSync(path.join(dir, 'memory.current'), '536866816\n');
    fs.writeFileSync(path.join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n');
    fs.writeFileSync(path.join(dir, 'memory.peak'), '536870912\n');
    const c = r.read();
    assert.equal(c.usageBytes, 536866816);
    assert.equal(c.workingSetBytes, 536866816 - 62914560);
    assert.equal(c.oomKills, 1);
    assert.equal(c.peakBytes, 512 * MiB);

    // The pod's limit is lifted (in-place resize): the container's own 1 GiB is left.
    fs.writeFileSync(path.join(path.dirname(dir), 'memory.max'), 'max\n');
    assert.equal(r.readLimit(), GiB);
    fs.writeFileSync(path.join(dir, 'memory.max'), 'max\n');
    assert.equal(r.readLimit(), 8031035392, 'kubepods.slice (node allocatable) is what remains');
  });

  test('a shorter file after a longer one: no stale bytes are parsed', (t) => {
    const root = copyFixture(t, 'cgroup-v2');
    const r = openReader(t, findMemoryCgroup(31337, root));
    const dir = r.location.dir;
    r.read();
    fs.writeFileSync(path.join(dir, 'memory.stat'), 'anon 4096\nfile 0\n');
    fs.writeFileSync(path.join(dir, 'memory.current'), '7\n');
    const c = r.read();
    assert.equal(c.usageBytes, 7);
    assert.equal(c.anonBytes, 4096);
    assert.equal(c.inactiveFileBytes, 0, 'inactive_file from the previous, longer contents must not leak in');
    assert.equal(c.shmemBytes, null);
    assert.equal(c.workingSetBytes, 7);
  });

  test('memory.stat larger than the buffer is read whole', (t) => {
    const root = copyFixture(t, 'cgroup-v1');
    const r = openReader(t, findMemoryCgroup(4711, root));
    const filler = Array.from({ length: 2000 }, (_, i) => `filler_${i} ${i}`).join('\n');
    fs.writeFileSync(path.join(r.location.dir, 'memory.stat'), `${filler}\ntotal_inactive_file 1000\nhierarchical_memory_limit 1234567\n`);
    const c = r.read();
    assert.equal(c.inactiveFileBytes, 1000);
    assert.equal(r.readLimit(), 1234567);
  });

  test('working set is floored at 0 when inactive_file exceeds usage', (t) => {
    const root = copyFixture(t, 'cgroup-v1');
    const r = openReader(t, findMemoryCgroup(4711, root));
    fs.writeFileSync(path.join(r.location.dir, 'memory.usage_in_bytes'), '1000\n');
    assert.equal(r.read().workingSetBytes, 0);
  });
});

describe('a vanished cgroup', () => {
  test('removed before the reader opens it: CgroupGoneError; and no longer found', (t) => {
    const root = copyFixture(t, 'cgroup-v2-oom');
    const loc = findMemoryCgroup(2718, root);
    assert.ok(loc);
    fs.rmSync(loc.dir, { recursive: true });
    assert.throws(() => new CgroupReader(loc), CgroupGoneError);
    assert.equal(findMemoryCgroup(2718, root), null);
  });

  test('removed while open: reads fail with ENODEV → CgroupGoneError', (t) => {
    // A removed cgroup's open files fail every read with ENODEV (kernfs); plain fixture files
    // stay readable after unlink, so the kernel's answer is played by a mock of fs.readSync.
    const r = openReader(t, findMemoryCgroup(2718, fixture('cgroup-v2-oom')));
    r.read();
    const realFs = createRequire(__filename)('node:fs') as typeof fs;
    t.mock.method(realFs, 'readSync', () => {
      throw Object.assign(new Error('ENODEV: no such device, read'), { code: 'ENODEV', errno: -19, syscall: 'read' });
    });
    assert.throws(() => r.read(), (e: unknown) => e instanceof CgroupGoneError && e.dir === r.location.dir);
    assert.throws(() => r.readLimit(), CgroupGoneError);
  });

  test('a directory without memory files is not a cgroup with accounting', (t) => {
    const root = fixture('cgroup-v2');
    const loc: CgroupLocation = { version: 2, path: '/', dir: path.join(root, 'sys/fs/cgroup'), mountDir: path.join(root, 'sys/fs/cgroup') };
    assert.throws(() => openReader(t, loc), /no memory accounting/);
  });
});

test('close() is idempotent and reads after it throw', () => {
  const r = new CgroupReader(findMemoryCgroup(4711, fixture('cgroup-v1'))!);
  r.close();
  r.close();
  assert.throws(() => r.read(), /closed/);
});

test('this machine (read-only, any layout): null or a location with a positive usage', () => {
  if (process.platform !== 'linux') return;
  const loc = findMemoryCgroup(process.pid);
  if (loc === null) return;
  const r = new CgroupReader(loc);
  try {
    const c = r.read();
    assert.ok(c.usageBytes > 0, `usage ${c.usageBytes} in ${loc.dir}`);
    assert.ok(c.workingSetBytes >= 0 && c.workingSetBytes <= c.usageBytes);
    const limit = r.readLimit();
    assert.ok(limit === null || limit > 0);
  } finally {
    r.close();
  }
});
