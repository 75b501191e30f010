/**
 * Validation against the one JSON Schema of the data contract (docs/recording-format.schema.json),
 * through validators generated from it at development time (scripts/gen-validators.mjs, ajv's
 * standalone code): no ajv and no schema compilation at run time. Each entry of data checks here
 * once (the recording reader per record, the agent server per message, the clients per reply);
 * everything behind an entry trusts the shapes.
 */
import type * as Generated from './validators.generated';

/** One ajv error, as much of it as messages use. */
interface ValidationError {
  instancePath: string;
  message?: string;
  params?: Record<string, unknown>;
}

type Validator = ((data: unknown) => boolean) & { errors?: ValidationError[] | null };

/** The names of the schema's validated definitions (records, hellos, events, results, requests, reply). */
export type ContractName = keyof typeof Generated;

/**
 * The generated validators (318 KB of JavaScript), loaded on the first check rather than when
 * this module is imported: commands that validate nothing (`memhunt peak` of an mprof .dat, which
 * imports recording/spec only for a file extension) then do not compile them (~15 ms on a quiet
 * machine, several times that under load; bench/mprof.mjs). The records every recording holds
 * (header, proc, sample, marker, end, summary, …) are also generated alone (107 KB): reading a
 * recording without censuses, traces or allocations compiles only those (bench/plot.mjs).
 */
let loaded: Record<ContractName, Validator> | null = null;
let loadedCommon: Partial<Record<ContractName, Validator>> | null = null;
function validatorOf(name: ContractName): Validator {
  if (loaded === null) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loadedCommon ??= require('./validators-records.generated') as Partial<Record<ContractName, Validator>>;
    const v = loadedCommon[name];
    if (v !== undefined) return v;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require('./validators.generated') as Record<ContractName, Validator>;
  }
  return loaded[name];
}

/** Null when value has the shape of definition `name`; else one line saying what is wrong, e.g. `p[0][1] must be a number`. */
export function contractProblem(name: ContractName, value: unknown): string | null {
  const v = validatorOf(name);
  if (v(value)) return null;
  const e = v.errors?.[0];
  if (!e) return 'does not match the schema';
  return describe(e);
}

/** True when value has the shape of definition `name`. */
export function matchesContract(name: ContractName, value: unknown): boolean {
  return validatorOf(name)(value);
}

/** An ajv error as words: the field's path in JavaScript notation, then what it must be. */
function describe(e: ValidationError): string {
  const where = e.instancePath
    .split('/')
    .slice(1)
    .map((k) => (/^\d+$/.test(k) ? `[${k}]` : `.${k.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('')
    .replace(/^\./, '');
  let what = (e.message ?? 'is not valid').replace('must be equal to one of the allowed values', 'must be one of').replace('must be equal to constant', 'must be');
  const m = /^must be ([a-z,]+)$/.exec(what);
  if (m) what = `must be ${m[1]!.split(',').map((w) => `${/^[aeiou]/.test(w) ? 'an' : 'a'} ${w}`).join(' or ')}`.replace('a null', 'null');
  const p = e.params ?? {};
  if (Array.isArray(p.allowedValues)) what += ` (${p.allowedValues.map((x) => JSON.stringify(x)).join(', ')})`;
  else if ('allowedValue' in p) what += ` (${JSON.stringify(p.allowedValue)})`;
  else if (typeof p.missingProperty === 'string') what = `lacks "${p.missingProperty}"`;
  return where ? `${where} ${what}` : what;
}
