/**
 * The JSON Schema of docs/recording-format.schema.json must describe what memhunt really writes,
 * and agree with the TypeScript spec (src/recording/spec.ts) on the record types.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import Ajv from 'ajv';
import { REPO, runCli, tempDir } from '../test-support';

const schema = JSON.parse(fs.readFileSync(path.join(REPO, 'docs', 'recording-format.schema.json'), 'utf8'));
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

function records(file: string): unknown[] {
  const text = zlib.gunzipSync(fs.readFileSync(file)).toString('utf8');
  return text.trim().split('\n').map((l) => JSON.parse(l));
}

function checkAll(file: string): Set<string> {
  const types = new Set<string>();
  for (const [i, r] of records(file).entries()) {
    const ok = validate(r);
    assert.ok(ok, `${path.basename(file)} record ${i + 1} ${JSON.stringify(r).slice(0, 200)}: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
    types.add((r as { type: string }).type);
  }
  return types;
}

test('the schema and spec.ts name the same record types', () => {
  const spec = fs.readFileSync(path.join(REPO, 'src', 'recording', 'spec.ts'), 'utf8');
  const specTypes = new Set([...spec.matchAll(/^\s+type: '([a-z]+)';$/gm)].map((m) => m[1]));
  const schemaTypes = new Set(
    (schema.oneOf as Array<{ $ref: string }>).map((r) => {
      const def = schema.definitions[r.$ref.replace('#/definitions/', '')];
      const own = def.properties ?? def.allOf.find((p: { properties?: unknown }) => p.properties).properties;
      return own.type.const as string;
    }),
  );
  assert.deepEqual([...specTypes].sort(), [...schemaTypes].sort());
});

test('real recordings validate against the schema, record by record', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'schema.mh');
  const r = await runCli([
    'run', '-q', '--interval', '10ms', '--metric', 'pss', '--limit', '60MiB', '-o', out,
    '--on-threshold', '20MiB:mark', '--on-threshold', '30MiB:exec=echo hi', '--',
    'python3', '-c',
    'import os,time\nfd=os.open(os.environ["MEMHUNT_MARKERS"],os.O_WRONLY)\nos.write(fd,b"begin grow\\n")\nb=[]\nfor i in range(40):\n  b.append(bytearray(4*2**20)); time.sleep(0.01)\nos.write(fd,b"end grow\\n")\ntime.sleep(5)',
  ]);
  assert.equal(r.code, 137, r.stderr);
  const types = checkAll(out);
  for (const t of ['header', 'proc', 's', 'pss', 'exit', 'marker', 'limit', 'threshold', 'action', 'end']) assert.ok(types.has(t), `wrote a "${t}" record`);
  checkAll(path.join(REPO, 'fixtures', 'memhunt', 'v1', 'example.mh'));
});
