/**
 * Node configuration as one declarative table per node kind (STYLE.md F,
 * after Kafka's ConfigDef): each key carries its unit, type, default, bounds or
 * allowed values, a doc line, its env name (FJORD_*) and its flag. This module
 * is the machinery every node kind shares: `loadNodeConfig` applies
 * defaults < config file < env < flags, rejects unknown keys and bad values
 * with INVALID_CONFIG naming the key and where it came from, runs the node's
 * cross-checks, and deep-freezes the result; `cliOptionsFor` and
 * `configTableMarkdownFor` generate the yargs options and README table from
 * the same table.
 */
import { readFileSync } from 'node:fs';
import { FjordError } from './errors.js';

export interface PeerAddress {
  readonly id: number;
  readonly host: string;
  readonly port: number;
}

interface Common {
  readonly doc: string;
  readonly env: string;
  readonly flag: string;
}
export interface IntConfigDef extends Common {
  readonly type: 'int';
  /** null: required. */
  readonly default: number | null;
  readonly min: number;
  readonly max: number;
}
export interface BooleanConfigDef extends Common {
  readonly type: 'boolean';
  readonly default: boolean;
}
export interface StringConfigDef extends Common {
  readonly type: 'string';
  readonly default: string | null;
  readonly maxLength: number;
}
export interface EnumConfigDef extends Common {
  readonly type: 'enum';
  readonly values: readonly string[];
  readonly default: string;
}
/** "host:port" ("[::1]:7001" for IPv6); '' where the doc allows it. */
export interface AddressConfigDef extends Common {
  readonly type: 'address';
  readonly default: string;
}
/** "1=host:port,2=host:port,..." */
export interface PeersConfigDef extends Common {
  readonly type: 'peers';
  readonly default: string | null;
}
export type ConfigDef = IntConfigDef | BooleanConfigDef | StringConfigDef | EnumConfigDef | AddressConfigDef | PeersConfigDef;
export type ConfigTable = Readonly<Record<string, ConfigDef>>;

export type ConfigValueOf<D> = D extends { readonly type: 'int' }
  ? number
  : D extends { readonly type: 'boolean' }
    ? boolean
    : D extends { readonly type: 'peers' }
      ? readonly PeerAddress[]
      : D extends { readonly type: 'enum'; readonly values: readonly (infer V)[] }
        ? V
        : string;

export type ConfigValues<T extends ConfigTable> = { readonly [K in keyof T]: ConfigValueOf<T[K]> };

export interface ConfigSources {
  /** Parsed config file (see readConfigFile): config keys, native or string values. */
  readonly file?: Readonly<Record<string, unknown>>;
  /** Usually process.env; only the table's env names are read (other FJORD_* names are ignored: the namespace is shared). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Parsed command-line flags, keyed by config key or flag name without dashes. */
  readonly flags?: Readonly<Record<string, unknown>>;
}

function invalid(message: string, details: Record<string, unknown>): FjordError {
  return new FjordError('INVALID_CONFIG', message, details);
}

/** Resolves and validates a configuration against its table; throws INVALID_CONFIG. */
export function loadNodeConfig<T extends ConfigTable>(
  table: T,
  sources: ConfigSources,
  crossCheck: (config: ConfigValues<T>) => ConfigValues<T> = (c) => c,
): ConfigValues<T> {
  const keys = Object.keys(table);
  const isKey = (key: string): boolean => Object.prototype.hasOwnProperty.call(table, key);
  const flagToKey = new Map<string, string>(keys.map((k) => [(table[k] as ConfigDef).flag.replace(/^--/, ''), k]));
  const raw = new Map<string, { value: unknown; source: string }>();
  for (const [key, value] of Object.entries(sources.file ?? {})) {
    if (!isKey(key)) throw invalid(`unknown key "${key}" in the config file; known: ${keys.join(', ')}`, { key, source: 'file' });
    raw.set(key, { value, source: 'file' });
  }
  const env = sources.env ?? {};
  for (const key of keys) {
    const name = (table[key] as ConfigDef).env;
    const value = env[name];
    if (value !== undefined) raw.set(key, { value, source: `env ${name}` });
  }
  for (const [name, value] of Object.entries(sources.flags ?? {})) {
    const key = isKey(name) ? name : flagToKey.get(name);
    if (key === undefined) throw invalid(`unknown flag "--${name}"`, { key: name, source: 'flags' });
    if (value !== undefined) raw.set(key, { value, source: (table[key] as ConfigDef).flag });
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const def = table[key] as ConfigDef;
    const given = raw.get(key);
    if (given === undefined) {
      if (def.default === null) throw invalid(`${key} is required (${def.flag} or ${def.env})`, { key });
      out[key] = def.type === 'peers' ? parseConfigValue(key, def, def.default, 'default') : def.default;
      continue;
    }
    out[key] = parseConfigValue(key, def, given.value, given.source);
  }
  return deepFreeze(crossCheck(out as ConfigValues<T>));
}

export function parseConfigValue(key: string, def: ConfigDef, value: unknown, source: string): unknown {
  const bad = (why: string): FjordError => invalid(`${key}=${JSON.stringify(value)} (from ${source}): ${why}`, { key, source });
  switch (def.type) {
    case 'int': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : NaN;
      if (!Number.isSafeInteger(n)) throw bad('expected an integer');
      if (n < def.min || n > def.max) throw bad(`must be in [${def.min}, ${def.max}]`);
      return n;
    }
    case 'boolean': {
      if (typeof value === 'boolean') return value;
      const text = typeof value === 'string' ? value.trim().toLowerCase() : '';
      if (text === 'true' || text === '1') return true;
      if (text === 'false' || text === '0') return false;
      throw bad('expected true or false');
    }
    case 'string': {
      if (typeof value !== 'string' || value.length === 0) throw bad('expected a non-empty string');
      if (value.length > def.maxLength) throw bad(`longer than ${def.maxLength} characters`);
      return value;
    }
    case 'enum': {
      if (typeof value !== 'string' || !def.values.includes(value)) throw bad(`expected one of ${def.values.join(', ')}`);
      return value;
    }
    case 'address': {
      if (typeof value !== 'string') throw bad('expected host:port');
      if (value === '') return value;
      if (parseAddress(value) === null) throw bad('expected host:port with a port in 1..65535');
      return value;
    }
    case 'peers': {
      const peers = typeof value === 'string' ? parsePeers(value) : null;
      if (peers === null) throw bad('expected id=host:port[,id=host:port...] with distinct ids >= 1');
      return peers;
    }
  }
}

/** "host:port" or "[v6]:port" -> parts, or null. */
export function parseAddress(text: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text.trim());
  if (m === null) return null;
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (host === '' || port < 1 || port > 65_535) return null;
  return { host, port };
}

export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** "1=h:p,2=h:p" -> peers sorted by id, or null when malformed or ids repeat. */
export function parsePeers(text: string): PeerAddress[] | null {
  const peers: PeerAddress[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(\d{1,10})\s*=\s*(\S+)\s*$/.exec(part);
    if (m === null) return null;
    const id = Number(m[1]);
    const address = parseAddress(m[2] ?? '');
    if (id < 1 || id > 0xffff_ffff || address === null) return null;
    if (peers.some((p) => p.id === id)) return null;
    peers.push({ id, ...address });
  }
  return peers.sort((a, b) => a.id - b.id);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Reads a JSON config file (an object of config keys). Errors are INVALID_CONFIG. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new FjordError('INVALID_CONFIG', `cannot read config file ${path}`, { path }, { cause: e });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new FjordError('INVALID_CONFIG', `config file ${path} is not valid JSON`, { path }, { cause: e });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new FjordError('INVALID_CONFIG', `config file ${path} must hold a JSON object`, { path });
  }
  return parsed as Record<string, unknown>;
}

export interface CliOption {
  type: 'number' | 'boolean' | 'string';
  describe: string;
  choices?: readonly string[];
}

/** CLI option descriptions generated from a table (shaped for yargs' .options(), without importing it). */
export function cliOptionsFor(table: ConfigTable): Record<string, CliOption> {
  const out: Record<string, CliOption> = {};
  for (const def of Object.values(table)) {
    const type = def.type === 'int' ? 'number' : def.type === 'boolean' ? 'boolean' : 'string';
    // No yargs defaults: a default on the command line would override the file and env.
    out[def.flag.replace(/^--/, '')] = { type, describe: `${def.doc} [env ${def.env}]`, ...(def.type === 'enum' ? { choices: def.values } : {}) };
  }
  return out;
}

function describeDefault(def: ConfigDef): string {
  if (def.default === null) return '(required)';
  if (def.default === '') return "''";
  return String(def.default);
}

function describeRange(def: ConfigDef): string {
  switch (def.type) {
    case 'int':
      return `${def.min}..${def.max}`;
    case 'enum':
      return def.values.join(', ');
    case 'boolean':
      return 'true, false';
    case 'address':
      return 'host:port';
    case 'peers':
      return 'id=host:port,...';
    case 'string':
      return `1..${def.maxLength} chars`;
  }
}

/** A README table of a config table (a test in each node package keeps its README equal to it). */
export function configTableMarkdownFor(table: ConfigTable): string {
  const rows = Object.entries(table).map(([key, def]) => {
    return `| \`${key}\` | \`${def.flag}\` | \`${def.env}\` | ${def.type} | ${describeDefault(def)} | ${describeRange(def)} | ${def.doc} |`;
  });
  return ['| key | flag | env | type | default | range | meaning |', '| --- | --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}

/** Checks a table's own consistency: every key has a doc, a FJORD_* env name and a --flag, all distinct. */
export function configTableProblems(table: ConfigTable): string[] {
  const problems: string[] = [];
  const envs = new Set<string>();
  const flags = new Set<string>();
  for (const [key, def] of Object.entries(table)) {
    if (def.doc.trim() === '') problems.push(`${key}: no doc`);
    if (!/^FJORD_[A-Z0-9_]+$/.test(def.env)) problems.push(`${key}: env name ${def.env} is not FJORD_*`);
    if (!/^--[a-z0-9-]+$/.test(def.flag)) problems.push(`${key}: flag ${def.flag} is not --kebab-case`);
    if (envs.has(def.env)) problems.push(`${key}: env name ${def.env} repeats`);
    if (flags.has(def.flag)) problems.push(`${key}: flag ${def.flag} repeats`);
    envs.add(def.env);
    flags.add(def.flag);
    if (def.type === 'int' && def.default !== null && (def.default < def.min || def.default > def.max)) problems.push(`${key}: default outside [min, max]`);
  }
  return problems;
}
