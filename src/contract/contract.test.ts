/**
 * The data contract is declared twice on purpose, once for the compiler (TypeScript: spec.ts,
 * protocol.ts, shapes.ts) and once for data at run time (the JSON Schema), and the two must not
 * drift: this test reads the types with the TypeScript compiler and checks that every shape names
 * the same fields as its schema definition, required where the type requires them; and that the
 * generated validators are those of the schema as it is now.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import ts from 'typescript';
import { REPO } from '../test-support';
import { contractProblem } from './validate';

/** TypeScript declaration -> schema definition. */
const SHAPES: Record<string, string> = {
  // src/contract/shapes.ts
  CensusBody: 'censusBody', TraceBody: 'traceBody', RefsBody: 'refsBody', IsolatedBody: 'isolatedBody',
  AllocationSite: 'allocationSite', PackageShare: 'packageShare', RefsNode: 'refsNode', RefsEdge: 'refsEdge', AllocBody: 'allocBody', AllocStats: 'allocStats',
  LargeObject: 'largeObject', DuplicateHolder: 'duplicateHolder', DuplicateGroup: 'duplicateGroup', DuplicatesBody: 'duplicatesBody',
  // src/recording/spec.ts
  HeaderRecord: 'headerRecord', SummaryRecord: 'summaryRecord', ProcRecord: 'procRecord', SampleRecord: 'sRecord', PssRecord: 'pssRecord', ExitRecord: 'exitRecord',
  MarkerRecord: 'markerRecord', LimitRecord: 'limitRecord', OomRecord: 'oomRecord', PauseRecord: 'pauseRecord', CgroupLimitRecord: 'cglimitRecord',
  ThresholdRecord: 'thresholdRecord', ActionResultRecord: 'actionRecord', AgentRecord: 'agentRecord', CensusRecord: 'censusRecord',
  TraceRecord: 'traceRecord', RefsRecord: 'refsRecord', IsolatedRecord: 'isolatedRecord', NoteRecord: 'noteRecord', EndRecord: 'endRecord', AllocRecord: 'allocRecord', WorkerRecord: 'workerRecord', WorkerKillRecord: 'workerkillRecord', TeardownRecord: 'teardownRecord',
  // src/agents/protocol.ts
  AgentHello: 'agentHello', ClientHello: 'clientHello', Reply: 'reply', CensusResult: 'censusResult', TraceSnapshotResult: 'traceSnapshotResult',
  SectionEvent: 'sectionEvent', SnapshotEvent: 'snapshotEvent', IsolatedEvent: 'isolatedEvent', AgentErrorEvent: 'agentErrorEvent', BreakEndEvent: 'breakEndEvent', TraceFinalEvent: 'traceFinalEvent', BreakResult: 'breakResult', AllocEvent: 'allocEvent', DaskEvent: 'daskEvent', ExitingEvent: 'exitingEvent',
  ClientCensusRequest: 'clientCensusRequest', ClientRefsRequest: 'clientRefsRequest',
};

interface Def {
  $ref?: string;
  allOf?: Def[];
  properties?: Record<string, unknown>;
  required?: string[];
}

const schema = JSON.parse(fs.readFileSync(path.join(REPO, 'docs', 'recording-format.schema.json'), 'utf8')) as { definitions: Record<string, Def> };

/** Fields of a definition (allOf and $ref followed), and which are required. */
function schemaFields(def: Def): { all: Set<string>; required: Set<string> } {
  if (def.$ref) return schemaFields(schema.definitions[def.$ref.replace('#/definitions/', '')]!);
  const all = new Set(Object.keys(def.properties ?? {}));
  const required = new Set(def.required ?? []);
  for (const part of def.allOf ?? []) {
    const f = schemaFields(part);
    for (const k of f.all) all.add(k);
    for (const k of f.required) required.add(k);
  }
  return { all, required };
}

/** Fields of every interface (inherited ones included) and type alias of an object type in the contract's files. */
function typeFields(): Map<string, { all: Set<string>; required: Set<string> }> {
  const files = ['src/contract/shapes.ts', 'src/recording/spec.ts', 'src/agents/protocol.ts'].map((f) => path.join(REPO, f));
  const program = ts.createProgram(files, { strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, noEmit: true });
  const checker = program.getTypeChecker();
  const out = new Map<string, { all: Set<string>; required: Set<string> }>();
  for (const file of files) {
    const sf = program.getSourceFile(file)!;
    ts.forEachChild(sf, (node) => {
      if (!ts.isInterfaceDeclaration(node) && !ts.isTypeAliasDeclaration(node)) return;
      const type = checker.getTypeAtLocation(node.name);
      const all = new Set<string>();
      const required = new Set<string>();
      for (const p of checker.getPropertiesOfType(type)) {
        all.add(p.name);
        if (!(p.flags & ts.SymbolFlags.Optional)) required.add(p.name);
      }
      if (all.size > 0) out.set(node.name.text, { all, required });
    });
  }
  return out;
}

test('every shape names the same fields in its TypeScript type and its schema definition, required alike', () => {
  const types = typeFields();
  for (const [name, defName] of Object.entries(SHAPES)) {
    const t = types.get(name);
    const def = schema.definitions[defName];
    assert.ok(t, `${name} is declared in the TypeScript contract`);
    assert.ok(def, `${defName} is defined in the schema`);
    const s = schemaFields(def);
    assert.deepEqual([...t.all].sort(), [...s.all].sort(), `${name} (TypeScript) and ${defName} (schema) name the same fields`);
    assert.deepEqual([...t.required].sort(), [...s.required].sort(), `${name} and ${defName} require the same fields`);
  }
  // Every validated definition has its type (records, hellos, events, results, requests, reply).
  const validated = Object.keys(schema.definitions).filter((n) => n.endsWith('Record') || /(Hello|Event|Result|Request)$/.test(n) || n === 'reply');
  const covered = new Set(Object.values(SHAPES));
  assert.deepEqual(validated.filter((n) => !covered.has(n) && n !== 'refsResult' && n !== 'emptyResult'), []);
});

test('the generated validators are those of the schema as it is (npm run gen:contract after editing it)', () => {
  const r = spawnSync(process.execPath, [path.join(REPO, 'scripts', 'gen-validators.mjs'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('validation says what is wrong in one line, and drops fields the schema does not declare', () => {
  assert.equal(contractProblem('sRecord', { type: 's', t: 2 }), 'lacks "p"');
  assert.equal(contractProblem('sRecord', { type: 's', t: 2, p: [[1, 'x', 0, 0, 0, 0]] }), 'p[0][1] must be a number');
  assert.equal(contractProblem('markerRecord', { type: 'marker', t: 1, pid: null, kind: 'x', label: '' }), 'kind must be one of ("begin", "end", "mark")');
  assert.match(contractProblem('headerRecord', { type: 'header', format: 'memhunt-recording', version: '1' })!, /lacks|version/);
  const census = { wallMs: 1, durationMs: 1, collected: false, objects: 1, totalBytes: 1, rows: [['a', 1, 1]], notes: [], fromTheFuture: 1 };
  assert.equal(contractProblem('censusResult', census), null);
  assert.equal('fromTheFuture' in census, false);
  assert.equal(contractProblem('censusResult', { ...census, rows: [['a', 1]] }), 'rows[0] must NOT have fewer than 3 items');
});

test('the validators of the common records alone judge and trim every record of the fixtures as the full set does', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const common = require('./validators-records.generated') as Record<string, ((v: unknown) => boolean) & { errors?: unknown }>;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const full = require('./validators.generated') as Record<string, ((v: unknown) => boolean) & { errors?: unknown }>;
  const names = Object.keys(common);
  assert.ok(names.includes('sRecord') && names.includes('headerRecord') && !names.includes('censusRecord'));
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (e.name.endsWith('.mh')) files.push(path.join(d, e.name));
    }
  };
  walk(path.join(REPO, 'fixtures'));
  let compared = 0;
  const compare = (name: string, value: unknown) => {
    const a = structuredClone(value);
    const b = structuredClone(value);
    assert.equal(common[name]!(a), full[name]!(b), `${name}: ${JSON.stringify(value).slice(0, 80)}`);
    assert.deepEqual(a, b);
    assert.deepEqual(common[name]!.errors, full[name]!.errors);
    compared++;
  };
  for (const f of files) {
    let text: string;
    try {
      text = zlib.gunzipSync(fs.readFileSync(f), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString('utf8');
    } catch {
      continue; // a damaged fixture
    }
    for (const line of text.split('\n')) {
      let v: { type?: unknown };
      try {
        v = JSON.parse(line);
      } catch {
        continue;
      }
      const name = `${String(v?.type)}Record`;
      if (names.includes(name)) compare(name, v);
    }
  }
  // Wrong shapes and fields the schema does not declare.
  compare('sRecord', { type: 's', t: 2 });
  compare('sRecord', { type: 's', t: 2, p: [[1, 'x', 0, 0, 0, 0]], extra: 1 });
  compare('markerRecord', { type: 'marker', t: 1, pid: null, kind: 'x', label: '' });
  compare('headerRecord', { type: 'header', format: 'memhunt-recording', version: '1' });
  compare('endRecord', { type: 'end', t: 1, reason: 'exited', code: 0, signal: null, samples: 3, later: { a: 1 } });
  assert.ok(compared > 1000, `${compared} records compared`);
});
