/**
 * Issue 16 leftover: the scale chart (peak against size, the fit, the projection with its
 * interval, the limit) in the HTML report page: `memhunt scale --report` and `memhunt report` of a
 * scale series' recordings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli, tempDir } from '../test-support';
import { PY, scale, script, LIST_PY } from './scale-testkit';

test('scale --report and report of a scale series: the scale chart and its report at the top of the page', async () => {
  const dir = tempDir('memhunt-scale-report-');
  const prog = script(dir, 'floats.py', LIST_PY);
  const runs = path.join(dir, 'runs');
  const page = path.join(dir, 'scale.html');
  const { json } = await scale(['--sizes', '100000,200000,400000', '--full', '1600000', '--limit', '2GiB', '--dir', runs, '--report', page, '--', PY, prog, '{}']);
  assert.equal(json.model.kind, 'linear', JSON.stringify(json.model));
  const html = fs.readFileSync(page, 'utf8');
  const section = /<section class="scale" id="scale">([\s\S]*?)<\/section>/.exec(html);
  assert.ok(section, 'the page has the scale section');
  assert.match(section[1]!, /<svg[\s\S]*<\/svg>/, 'the chart is drawn');
  assert.match(section[1]!, /projected/i);
  assert.match(section[1]!, /1[.,]?6\d* ?M|1,600,000|1600000/, 'the full size is named');
  assert.ok(html.indexOf('id="scale"') < html.indexOf('class="recording"'), 'the scale chart comes before the runs');
  // Each run is on the page as memhunt report shows it.
  assert.equal(html.match(/<section class="recording"/g)?.length, 3);

  // memhunt report of the recordings (a folder) finds the series and fits it.
  const page2 = path.join(dir, 'again.html');
  const r = await runCli(['report', runs, '-o', page2, '--full', '1600000']);
  assert.equal(r.code, 0, r.stderr);
  const html2 = fs.readFileSync(page2, 'utf8');
  assert.match(html2, /<section class="scale" id="scale">[\s\S]*<svg[\s\S]*<\/svg>/);
  // Not a series (one recording): no scale section, and --full is refused.
  const one = fs.readdirSync(runs).map((f) => path.join(runs, f))[0]!;
  const single = await runCli(['report', one, '-o', path.join(dir, 'one.html')]);
  assert.equal(single.code, 0, single.stderr);
  assert.doesNotMatch(fs.readFileSync(path.join(dir, 'one.html'), 'utf8'), /id="scale"/);
  const bad = await runCli(['report', one, '-o', path.join(dir, 'bad.html'), '--full', '1600000']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--full projects a scale series/);
  assert.ok(!fs.existsSync(path.join(dir, 'bad.html')));
});
