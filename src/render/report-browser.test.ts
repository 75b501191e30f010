/**
 * `memhunt report` end to end: a real Python program recorded by the real CLI with every kind of
 * event it can make here (sections and marks through the memhunt API and the markers FIFO, a
 * threshold, heap censuses, allocation snapshots, back-reference graphs), the page written by the
 * CLI, then opened in Debian's chromium through playwright-core with networking off: every panel is
 * there, and the links do what they say (click, then look).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { spawn, spawnSync } from 'node:child_process';
import { readMemhuntRecording } from '../recording/reader';
import { REPO, runCli, tempDir } from '../test-support';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/**
 * Grows by ~60 MiB of app.Record objects over three sections, with marks, then takes a census of its
 * own. The growth must last well beyond that census and the pause after it (once censuses got
 * faster, a shorter growth read as "levelled off": bounded growth).
 */
const PROGRAM = `
import os, subprocess, sys, time, memhunt

# A child that holds 30 MiB for a while: a second process with a line of its own.
child = subprocess.Popen([sys.executable, "-c", "import time; x = bytearray(30 << 20); x[::4096] = b'1' * len(x[::4096]); time.sleep(120)"])

def marker(line):
    p = os.environ.get("MEMHUNT_MARKERS")
    if p:
        fd = os.open(p, os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, f"{os.getpid()} {line}\\n".encode())
        os.close(fd)

class Record:
    def __init__(self, i):
        self.payload = bytearray(20000)
        self.i = i

CACHE = []
with memhunt.section("load <b>model</b>"):
    base = [bytearray(1 << 20) for _ in range(10)]
    time.sleep(0.3)
for epoch in range(3):
    with memhunt.section(f"epoch {epoch + 1}"):
        for i in range(1000):
            CACHE.append(Record(i))
            if i % 50 == 0:
                time.sleep(0.03)
        time.sleep(0.2)
    marker(f"mark checkpoint {epoch + 1}")
memhunt.snapshot("end")
time.sleep(0.3)
child.terminate()
child.wait()
`;

async function visible(page: Page, selector: string): Promise<boolean> {
  return (await page.evaluate(`(() => {
    const el = document.querySelector(${JSON.stringify(selector)});
    if (!el) return false;
    const r = el.getBoundingClientRect();
    return r.height > 0 && r.bottom > 0 && r.top < window.innerHeight;
  })()`)) as boolean;
}

/** Where the chart draws the first peak marker, in page coordinates. */
async function peakMarker(page: Page): Promise<{ x: number; y: number }> {
  return (await page.evaluate(`(() => {
    const u = window.memhuntChart;
    const p = JSON.parse(document.getElementById('memhunt-data').textContent).peaks[0];
    const r = u.over.getBoundingClientRect();
    return { x: r.left + u.valToPos(p.tMs, 'x'), y: r.top + u.valToPos(p.bytes, 'y') };
  })()`)) as { x: number; y: number };
}

test('memhunt report in Chromium: every panel of a real recording, and the links work', { skip: !fs.existsSync(CHROMIUM) && !process.env.CI ? `${CHROMIUM} is not installed (apt-get install chromium)` : false, timeout: 180_000 }, async () => {
  const dir = tempDir();
  const script = path.join(dir, 'grow.py');
  fs.writeFileSync(script, PROGRAM);
  const rec = path.join(dir, 'run.mh');
  const run = await runCli(['run', '--heap-every', '0.5s', '--trace-allocations', '--refs-type', 'Record', '--on-threshold', '40MiB:mark', '-o', rec, '--', PYTHON, script], { cwd: dir, timeoutMs: 150_000 });
  assert.equal(run.code, 0, run.stderr);
  const out = path.join(dir, 'report.html');
  const made = await runCli(['report', rec, '-o', out], { cwd: dir });
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stderr, /wrote .*report\.html/);
  const html = fs.readFileSync(out, 'utf8');
  // One file: nothing is fetched (no src/href to anything but the page itself or data: URIs).
  assert.doesNotMatch(html, /(?:src|href)="(?!#|data:)/);
  assert.ok(html.includes('load &lt;b&gt;model&lt;/b&gt;'), 'a label from the program is escaped');

  let browser: Browser | null = null;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    page.setDefaultTimeout(15_000);
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      if (!r.url().startsWith('file:') && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) problems.push(`network request: ${r.url()}`);
    });
    await page.goto(`file://${out}`);
    await page.waitForFunction('window.memhuntChart !== undefined', null, { timeout: 30_000 });
    await page.waitForTimeout(200);
    await page.screenshot({ path: path.join(dir, 'report.png'), fullPage: true });

    // Every panel.
    assert.match((await page.locator('header p.verdict').textContent()) ?? '', /^verdict: leak \(/);
    assert.ok((await page.locator('#verdict-r0 ul.evidence li').count()) >= 2, 'evidence');
    assert.ok((await page.locator('#chart canvas').count()) >= 1, 'the chart');
    const sections = (await page.evaluate('JSON.parse(document.getElementById("memhunt-data").textContent).sections')) as Array<{ label: string; delta: string }>;
    assert.deepEqual(sections.map((s) => s.label), ['load <b>model</b>', 'epoch 1', 'epoch 2', 'epoch 3']);
    for (const s of sections.slice(1)) assert.match(s.delta, /^\+\d+(\.\d+)? MiB$/, `${s.label} grew: ${s.delta}`);
    assert.ok((await page.locator('details.events tr').count()) >= 4 + 3, 'sections and marks listed');
    assert.ok((await page.locator('#processes-r0 tr.proc').count()) >= 1);
    assert.ok((await page.locator('#heap-r0 table.growth tr.growth').count()) >= 1, 'growth rows');
    assert.ok((await page.locator('#heap-r0 details.censuses').count()) >= 1, 'census list');
    assert.ok((await page.locator('#allocations-r0 tr.package').count()) >= 1, 'packages');
    assert.ok((await page.locator('#allocations-r0 tr.site').count()) >= 1, 'sites');
    assert.match((await page.locator('#allocations-r0 tr.site').first().textContent()) ?? '', /grow\.py:\d+/);
    assert.ok((await page.locator('#refs-r0 details.refs img.graph').count()) >= 1, 'a reference graph');
    assert.match((await page.locator('#flame-r0').textContent()) ?? '', /no sampled allocations: record with memhunt run --allocations/);

    // The chart's labels: every section's (with its delta) is drawn, and no two labels overlap.
    const labels = (await page.evaluate('window.memhuntLabels')) as Array<{ text: string; x0: number; y0: number; x1: number; y1: number }>;
    for (const s of sections) assert.ok(labels.some((l) => l.text === `${s.label} ${s.delta}` || l.text.startsWith(s.label.slice(0, 4))), `"${s.label}" is on the chart: ${labels.map((l) => l.text).join(' | ')}`);
    assert.ok(labels.some((l) => /^peak \d+ MiB at \d+(\.\d)? s$/.test(l.text)), 'the peak label');
    for (let i = 0; i < labels.length; i++) {
      for (let j = i + 1; j < labels.length; j++) {
        const a = labels[i]!;
        const b = labels[j]!;
        assert.ok(!(a.x0 < b.x1 - 0.5 && b.x0 < a.x1 - 0.5 && a.y0 < b.y1 - 0.5 && b.y0 < a.y1 - 0.5), `"${a.text}" overlaps "${b.text}"`);
      }
    }

    // A process row brings its line forward (uPlot's focus) and is marked; again, every line is back.
    const row = page.locator('#processes-r0 tr.linked[data-series^="r0-p"]').first();
    const series = await row.getAttribute('data-series');
    assert.ok(series);
    await row.click();
    assert.equal(await page.evaluate('window.memhuntFocused'), series);
    const focus = (await page.evaluate(`window.memhuntChart.series.map((s) => s._focus)`)) as Array<boolean | null>;
    const idx = ((await page.evaluate(`JSON.parse(document.getElementById("memhunt-data").textContent).series.map((s) => s.id)`)) as string[]).indexOf(series) + 1;
    assert.equal(focus[idx], true);
    assert.ok(focus.some((f, i) => i > 0 && i !== idx && f === false), 'the other lines are dimmed');
    assert.match((await row.getAttribute('class')) ?? '', /selected/);
    await row.click();
    assert.equal(await page.evaluate('window.memhuntFocused'), null);

    // A growth row of a type with a graph opens that graph and scrolls to it.
    const growth = page.locator('#heap-r0 tr.has-refs').first();
    const target = await growth.getAttribute('data-refs');
    assert.ok(target, 'a growth row links to a graph');
    assert.equal(await page.evaluate(`document.getElementById(${JSON.stringify(target)}).open`), false);
    await growth.locator('td').first().click();
    await page.waitForFunction(`document.getElementById(${JSON.stringify(target)}).open === true`);
    assert.ok(await visible(page, `[id="${target}"] img.graph`), 'the graph is on screen');

    // The peak marker leads to the allocation sites.
    await page.evaluate('window.scrollTo(0, 0)');
    const peak = await peakMarker(page);
    await page.mouse.click(peak.x, peak.y);
    await page.waitForFunction('window.location.hash === "#allocations-r0"');
    assert.ok(await visible(page, '#allocations-r0 h3'), 'the allocation sites are on screen');

    // The nav links.
    await page.locator('header a[href="#heap-r0"]').click();
    await page.waitForFunction('window.location.hash === "#heap-r0"');
    assert.ok(await visible(page, '#heap-r0 h3'));
    assert.deepEqual(problems, []);

    // Several recordings: one chart, a table of recordings linking to a section each.
    const rec2 = path.join(dir, 'again.mh');
    fs.copyFileSync(rec, rec2);
    const both = path.join(dir, 'both.html');
    const made2 = await runCli(['report', rec, rec2, '-o', both], { cwd: dir });
    assert.equal(made2.code, 0, made2.stderr);
    await page.goto(`file://${both}`);
    await page.waitForFunction('window.memhuntChart !== undefined', null, { timeout: 30_000 });
    assert.equal(await page.locator('table.recordings tr').count(), 2);
    await page.locator('table.recordings a[href="#rec-r1"]').click();
    await page.waitForFunction('window.location.hash === "#rec-r1"');
    assert.ok(await visible(page, '#rec-r1 h2'));
    assert.equal(await page.locator('#allocations-r1 tr.package').count(), await page.locator('#allocations-r0 tr.package').count());
    assert.deepEqual(problems, []);
  } finally {
    await browser?.close();
  }
});

/** Keeps the same 8 MiB twice (a bytes and a bytearray of it) and grows a list at one line, until told to stop. */
const COPIES = `
import os, sys, time
stop = sys.argv[1]
data = os.urandom(8 << 20)
copy = bytearray(data)
KEEP = []
def grow():
    KEEP.append(bytearray(2 << 20))
while not os.path.exists(stop):
    if len(KEEP) < 40:
        grow()
    time.sleep(0.05)
`;

const HAS_CC = spawnSync('cc', ['--version']).status === 0;

test('memhunt report in Chromium: sampled allocations (flame graph, your lines), the largest objects and the copies; the peak marker and the verdict lead to the flame graph', {
  skip: (!fs.existsSync(CHROMIUM) && !process.env.CI ? `${CHROMIUM} is not installed (apt-get install chromium)` : false) || (!HAS_CC && 'no C compiler for --allocations'),
  timeout: 180_000,
}, async () => {
  const dir = tempDir();
  const script = path.join(dir, 'copies.py');
  fs.writeFileSync(script, COPIES);
  const stop = path.join(dir, 'stop');
  const rec = path.join(dir, 'alloc.mh');
  // Stopped once a census has the duplicate group (however slow the machine).
  const run = spawn(process.execPath, [path.join(REPO, 'dist', 'cli', 'main.js'), 'run', '-q', '--allocations=256KiB', '--heap-every', '1s', '--largest', '3', '--duplicates', '--min-size', '4MiB', '-o', rec, '--', PYTHON, script, stop], { cwd: dir, stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => run.on('close', r));
  const deadline = Date.now() + 120_000;
  for (;;) {
    const r = await readMemhuntRecording(rec).catch(() => null);
    if (r?.events.some((e) => e.kind === 'census' && (e.duplicates?.groups.length ?? 0) >= 1)) break;
    assert.ok(Date.now() < deadline, 'a census with the copies within 120 s');
    await new Promise((r2) => setTimeout(r2, 300));
  }
  fs.writeFileSync(stop, '');
  assert.equal(await exited, 0);
  const out = path.join(dir, 'alloc.html');
  const made = await runCli(['report', rec, '-o', out], { cwd: dir });
  assert.equal(made.code, 0, made.stderr);

  let browser: Browser | null = null;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    page.setDefaultTimeout(15_000);
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(`file://${out}`);
    await page.waitForFunction('window.memhuntChart !== undefined', null, { timeout: 30_000 });
    // The flame graph of what was live at the peak, and the user's line that allocated it.
    assert.ok((await page.locator('#flame-r0 div.flame svg rect').count()) >= 3, 'flame frames');
    assert.match((await page.locator('#flame-r0 table.lines').first().textContent()) ?? '', /copies\.py[\s\S]*[\d.]+ MiBgrow/, 'the line in grow() with its bytes');
    // The largest objects and the copies.
    assert.ok((await page.locator('#heap-r0 table.largest tr').count()) >= 2, 'largest objects');
    assert.match((await page.locator('#heap-r0 details.dup summary').first().textContent()) ?? '', /2 copies/);
    // The verdict's link and the chart's peak marker lead to the flame graph (no tracemalloc snapshots here).
    await page.locator('#verdict-r0 a[href="#flame-r0"]').click();
    await page.waitForFunction('window.location.hash === "#flame-r0"');
    await page.evaluate('window.scrollTo(0, 0); history.replaceState(null, "", " ")');
    const peak = await peakMarker(page);
    await page.mouse.click(peak.x, peak.y);
    await page.waitForFunction('window.location.hash === "#flame-r0"');
    assert.ok(await visible(page, '#flame-r0 h3'), 'the flame graph is on screen');
    assert.deepEqual(problems, []);
  } finally {
    await browser?.close();
  }
});
