/**
 * The HTML report in a real browser: Debian's chromium, driven by playwright-core (.ci/run installs
 * chromium). Opened from a file:// URL with networking off, as a user opens a report from a ticket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { tempDir } from '../test-support';
import { buildChart } from './chart';
import { renderHtml } from './html';
import { syntheticRecording } from './testkit';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const MiB = 1024 * 1024;

test('the HTML report in Chromium: draws, hovers, zooms, toggles, and runs nothing from the recording', { skip: !fs.existsSync(CHROMIUM) && !process.env.CI ? `${CHROMIUM} is not installed (apt-get install chromium)` : false, timeout: 60_000 }, async () => {
  const title = `python3 <script>window.__xss=1</script> "onerror="window.__xss=2" <img src=x onerror="window.__xss=3">`;
  const rec = syntheticRecording({ samples: 200_000, intervalMs: 50, processes: 3, sections: 3, limitBytes: 1024 * MiB, spikeAt: 123_456, spikeBytes: 900 * MiB });
  rec.meta.command = title.split(' ');
  rec.processes[1]!.command = ['<svg onload=window.__xss=4>'];
  rec.events.push({ kind: 'mark', tMs: 5000, pid: null, label: '</script><script>window.__xss=5</script>' });
  const chart = buildChart([{ rec, name: 'xss.mh' }]);
  const spikeBytes = chart.peaks[0]!.bytes;
  const file = path.join(tempDir(), 'report.html');
  fs.writeFileSync(file, renderHtml(chart, { version: 'test' }));

  let browser: Browser | null = null;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    page.on('request', (r) => {
      if (!r.url().startsWith('file:') && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) problems.push(`network request: ${r.url()}`);
    });
    await page.goto(`file://${file}`);
    // Page code is passed as strings: this project compiles without the DOM's types.
    await page.waitForFunction('window.memhuntChart !== undefined', null, { timeout: 20_000 });
    await page.waitForTimeout(200);

    // Nothing from the recording ran, and it reads back as the text it was.
    assert.equal(await page.evaluate('window.__xss'), undefined);
    assert.equal(await page.locator('h1').textContent(), chart.title);
    assert.match(chart.title, /<script>window\.__xss=1<\/script>/);
    assert.equal(await page.locator('img, svg[onload]').count(), 0);

    // The canvas is not blank: plenty of pixels that are neither white nor transparent.
    const inked = (await page.evaluate(`(() => {
      const c = document.querySelector('#chart canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200)) n++;
      return n;
    })()`)) as number;
    assert.ok(inked > 2000, `inked pixels: ${inked}`);

    // The spike is in the drawn data at its true height, and the value axis reaches it.
    const shown = (await page.evaluate(`(() => {
      const u = window.memhuntChart;
      let m = 0;
      for (const v of u.data[1]) if (v != null && v > m) m = v;
      return { max: m, yMax: u.scales.y.max };
    })()`)) as { max: number; yMax: number };
    assert.equal(shown.max, Math.round(spikeBytes / 1024) * 1024);
    assert.ok(shown.yMax >= shown.max);

    // Hover: the legend shows the time and a value per line.
    const over = await page.locator('.u-over').boundingBox();
    assert.ok(over);
    await page.mouse.move(over.x + over.width * 0.5, over.y + over.height * 0.5);
    await page.waitForTimeout(100);
    const values = await page.locator('.u-legend .u-value').allTextContents();
    assert.match(values[0]!, /^\d+:\d\d(:\d\d)?$|^\d+\.\d+ s$/, `time: ${values[0]}`);
    assert.match(values[1]!, /^\d+(\.\d+)? (MiB|GiB)$/, `total: ${values[1]}`);
    assert.equal(values.length, 1 + chart.series.length);

    // Zoom (drag over a tenth of the width) redraws with finer data within the range.
    const before = (await page.evaluate('window.memhuntChart.data[0].length')) as number;
    await page.mouse.move(over.x + over.width * 0.4, over.y + 40);
    await page.mouse.down();
    await page.mouse.move(over.x + over.width * 0.5, over.y + 60, { steps: 4 });
    await page.mouse.up();
    await page.waitForTimeout(300);
    const zoomed = (await page.evaluate(`(() => {
      const u = window.memhuntChart;
      const x = u.data[0];
      return { min: u.scales.x.min, max: u.scales.x.max, first: x[0], last: x[x.length - 1], n: x.length };
    })()`)) as { min: number; max: number; first: number; last: number; n: number };
    assert.ok(zoomed.max - zoomed.min < chart.xMaxMs * 0.2, JSON.stringify(zoomed));
    assert.ok(zoomed.first <= zoomed.min + (zoomed.max - zoomed.min) * 0.05 && zoomed.last >= zoomed.max - (zoomed.max - zoomed.min) * 0.05, `data covers the zoomed range: ${JSON.stringify(zoomed)}`);
    const density = (n: number, spanMs: number) => n / spanMs;
    assert.ok(density(zoomed.n, zoomed.max - zoomed.min) > 4 * density(before, chart.xMaxMs), `finer data after zoom: ${zoomed.n} points (was ${before})`);
    assert.ok(zoomed.n >= over.width, 'at least a point per pixel');
    await page.locator('#reset').click();

    // A legend click hides a line.
    await page.locator('.u-legend .u-series').nth(2).click();
    assert.match((await page.locator('.u-legend .u-series').nth(2).getAttribute('class')) ?? '', /u-off/);

    assert.deepEqual(problems, []);
  } finally {
    await browser?.close();
  }
});
