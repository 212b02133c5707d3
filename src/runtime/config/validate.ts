// Checks a parsed config.json against schema/config.schema.json (compiled by
// ajv at build time into config-validator.js, so ajv never loads at run time),
// then the rules a schema cannot say. Errors name the JSON path and the
// problem in plain words: "config.json: /process/args must be a non-empty array".
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError } from '../errors';
import type { Spec } from './types';

/** The fields of an ajv error object that we read. */
interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  propertyName?: string;
}

interface CompiledValidator {
  (data: unknown): boolean;
  errors?: SchemaError[] | null;
}

/** At most this many problems are reported; the rest are counted. */
const MAX_REPORTED = 5;

let compiled: CompiledValidator | undefined;

function compiledValidator(): CompiledValidator {
  if (compiled) return compiled;
  // Built next to this file in dist/, and required as one of our own modules:
  // under bin/ccrun it comes from the command's bundle (create, run)
  // or with its own code cache entry, like any other (src/cli/code-cache.ts).
  // Loading it apart, as before, cost create and run ~300 KB of young heap
  // (its 109 KB source read, then copied again inside a wrapper), enough for
  // one more scavenge. Tests that run this file from src/ use the built copy.
  if (fs.existsSync(path.join(__dirname, 'config-validator.js'))) {
    compiled = require('./config-validator.js') as CompiledValidator;
    return compiled;
  }
  const built = path.resolve(__dirname, '../../../dist/runtime/config/config-validator.js');
  if (!fs.existsSync(built)) throw new Error('the config.json validator is not built: run "npm run build:ts" (scripts/build-validators.js)');
  compiled = require(built) as CompiledValidator;
  return compiled;
}

/**
 * Validates a parsed config.json. Throws ConfigError listing the first few
 * problems, one per line, each prefixed with `file`.
 */
export function validateConfig(raw: unknown, file = 'config.json'): Spec {
  const problems = configProblems(raw);
  if (problems.length) {
    const shown = problems.slice(0, MAX_REPORTED).map((p) => `${file}: ${p}`);
    const hidden = problems.length - shown.length;
    if (hidden > 0) shown.push(`${file}: ... and ${hidden} more problem${hidden === 1 ? '' : 's'}`);
    throw new ConfigError(shown.join('\n'));
  }
  return raw as Spec;
}

/** Every problem found, in plain words, without the file prefix. */
export function configProblems(raw: unknown): string[] {
  const validate = compiledValidator();
  if (!validate(raw)) return describeSchemaErrors(validate.errors ?? [], raw);
  return semanticProblems(raw as Spec);
}

function describeSchemaErrors(errors: SchemaError[], raw: unknown): string[] {
  // A value of the wrong type also fails every check made for the right type;
  // only the type error is worth reading.
  const wrongType = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  const lines: string[] = [];
  for (const e of errors) {
    if (e.keyword !== 'type' && wrongType.has(e.instancePath)) continue;
    const line = describeSchemaError(e, raw);
    if (line !== undefined && !lines.includes(line)) lines.push(line);
  }
  return lines;
}

function where(pointer: string): string {
  return pointer === '' ? 'the document' : pointer;
}

/** Plain-words descriptions of the patterns used in the schema. */
const PATTERN_WORDS: Record<string, string> = {
  '^/': 'must be an absolute path',
  '[\\s\\S]': 'must not be empty',
  '^[^=]+=': 'must look like NAME=value',
  '^[0-9, -]*$': 'must be a CPU list such as 0-3,7',
  '^[rwm]*$': 'must be made of the letters r, w and m',
  '^SCMP_ARCH_[A-Z0-9_]+$': 'must be a seccomp architecture name such as SCMP_ARCH_X86_64',
};

function describeSchemaError(e: SchemaError, raw: unknown): string | undefined {
  const at = where(e.instancePath);
  const p = e.params;
  switch (e.keyword) {
    case 'required':
      return e.instancePath === ''
        ? `missing required field "${String(p.missingProperty)}"`
        : `${at} is missing required field "${String(p.missingProperty)}"`;
    case 'type':
      return `${at} must be ${typeWords(String(p.type))}`;
    case 'enum':
      return `${at} ${enumWords(p.allowedValues as unknown[], valueAt(raw, e.instancePath))}`;
    case 'minItems':
      return Number(p.limit) === 1 ? `${at} must be a non-empty array` : `${at} must have at least ${String(p.limit)} items`;
    case 'pattern': {
      if (e.propertyName !== undefined) {
        return e.propertyName === '' ? `${at} has an empty key` : `${at} has an invalid key "${e.propertyName}"`;
      }
      if (String(p.pattern).startsWith('^(0|[1-9]')) return `${at} must be a SemVer version such as 1.2.0`;
      return `${at} ${PATTERN_WORDS[String(p.pattern)] ?? `must match the pattern ${String(p.pattern)}`}`;
    }
    case 'minimum':
      return `${at} must be at least ${String(p.limit)}`;
    case 'maximum':
      return `${at} must be at most ${String(p.limit)}`;
    case 'exclusiveMinimum':
      return `${at} must be greater than ${String(p.limit)}`;
    case 'exclusiveMaximum':
      return `${at} must be less than ${String(p.limit)}`;
    case 'if':
    case 'propertyNames':
      // Summaries of the errors reported on their own just before.
      return undefined;
    default:
      return `${at} is invalid (${e.keyword} ${JSON.stringify(p)})`;
  }
}

function typeWords(types: string): string {
  const words: Record<string, string> = {
    object: 'an object',
    array: 'an array',
    string: 'a string',
    integer: 'an integer',
    number: 'a number',
    boolean: 'true or false',
    null: 'null',
  };
  return types
    .split(',')
    .map((t) => words[t] ?? t)
    .join(' or ');
}

function enumWords(allowed: unknown[], value: unknown): string {
  const shown = JSON.stringify(value);
  if (allowed.includes('CAP_KILL')) return `must be a capability name such as CAP_KILL, not ${shown}`;
  if (allowed.includes('RLIMIT_NOFILE')) return `must be an rlimit name such as RLIMIT_NOFILE, not ${shown}`;
  if (allowed.length > 12) return `must be one of the accepted values, not ${shown}`;
  return `must be one of ${allowed.map(String).join(', ')}`;
}

/** The value at a JSON pointer (RFC 6901) in doc, or undefined. */
function valueAt(doc: unknown, pointer: string): unknown {
  let cur = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** Rules JSON Schema cannot express, checked on a config that passed it. */
function semanticProblems(spec: Spec): string[] {
  const problems: string[] = [];
  const major = Number(spec.ociVersion.split('.')[0]);
  if (major !== 1) problems.push(`/ociVersion "${spec.ociVersion}" is not supported: ccrun accepts runtime-spec 1.x`);

  const seenNs = new Set<string>();
  (spec.linux?.namespaces ?? []).forEach((ns, i) => {
    if (seenNs.has(ns.type)) problems.push(`/linux/namespaces/${i} duplicates namespace type "${ns.type}"`);
    seenNs.add(ns.type);
  });

  const seenRlimits = new Set<string>();
  (spec.process?.rlimits ?? []).forEach((rl, i) => {
    if (seenRlimits.has(rl.type)) problems.push(`/process/rlimits/${i} duplicates rlimit type "${rl.type}"`);
    seenRlimits.add(rl.type);
    if (rl.soft > rl.hard) {
      problems.push(`/process/rlimits/${i} has soft limit ${rl.soft} above its hard limit ${rl.hard}`);
    }
  });

  for (const clock of Object.keys(spec.linux?.timeOffsets ?? {})) {
    if (clock !== 'boottime' && clock !== 'monotonic') {
      problems.push(`/linux/timeOffsets/${clock} is not a clock: use "boottime" or "monotonic"`);
    }
  }
  return problems;
}
