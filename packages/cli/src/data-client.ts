/**
 * What the data commands (topic, produce, consume) share: the `--bootstrap`
 * and `--request-timeout-ms` flags, argument checks that end in a UsageError
 * (exit code 2), and `withClient`, which opens one FjordClient for the
 * command and always closes it, so the process exits when the command is done.
 */
import type { Argv } from 'yargs';
import { FjordClient } from '@fjord/client';
import { FjordError, isFjordError } from '@fjord/protocol';
import { UsageError } from './command.js';

/** `fjord dev`'s broker port: a new user needs no flag. */
export const DEFAULT_BOOTSTRAP = '127.0.0.1:9092';
export const BOOTSTRAP_ENV = 'FJORD_BOOTSTRAP';
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export function withDataOptions(y: Argv): Argv {
  return y
    .option('bootstrap', {
      type: 'string',
      describe: `Broker address(es), host:port[,host:port] (env ${BOOTSTRAP_ENV})`,
      default: process.env[BOOTSTRAP_ENV] ?? DEFAULT_BOOTSTRAP,
    })
    .option('request-timeout-ms', { type: 'number', describe: 'How long one request to a broker may take', default: DEFAULT_REQUEST_TIMEOUT_MS });
}

/** "h1:p1,h2:p2" -> ["h1:p1", "h2:p2"]; each entry needs a host and a port in 1..65535. */
export function parseBootstrap(value: string): string[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (list.length === 0) throw new UsageError('--bootstrap needs at least one host:port');
  for (const address of list) {
    const m = /^(.+):(\d+)$/.exec(address);
    const port = m === null ? NaN : Number(m[2]);
    if (m === null || !Number.isSafeInteger(port) || port < 1 || port > 65_535) {
      throw new UsageError(`--bootstrap: "${address}" is not host:port`);
    }
  }
  return list;
}

/** A flag that must be a whole number >= min (yargs' `number` type lets 1.5, -3 and NaN through). */
export function intArg(args: Readonly<Record<string, unknown>>, name: string, min: number): number | undefined {
  const v = args[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new UsageError(`--${name} must be a whole number >= ${min}, not ${String(v)}`);
  return v;
}

/** A string flag that yargs may have turned into an array when it was given twice. */
export function stringArg(args: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const v = args[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new UsageError(`--${name} takes one value`);
  return v;
}

/** A repeatable string flag (`--value a --value b`). */
export function stringsArg(args: Readonly<Record<string, unknown>>, name: string): string[] {
  const v = args[name];
  if (v === undefined) return [];
  const list = Array.isArray(v) ? (v as unknown[]) : [v];
  return list.map((x) => String(x));
}

/**
 * Runs `fn` with a client for --bootstrap and closes it afterwards. A broker
 * that cannot be reached is NETWORK_EXCEPTION; its message names the address
 * and the likely cause, instead of grpc-js's resolver notes.
 */
export async function withClient<T>(args: Readonly<Record<string, unknown>>, fn: (client: FjordClient) => Promise<T>): Promise<T> {
  const bootstrapText = String(args['bootstrap'] ?? DEFAULT_BOOTSTRAP);
  const bootstrap = parseBootstrap(bootstrapText);
  const requestTimeoutMs = intArg(args, 'request-timeout-ms', 1) ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const client = new FjordClient({ bootstrap, requestTimeoutMs });
  try {
    return await fn(client);
  } catch (e) {
    if (isFjordError(e, 'NETWORK_EXCEPTION') || isFjordError(e, 'BROKER_NOT_AVAILABLE')) {
      const reason = /connect (E[A-Z]+)/.exec(e.detail)?.[1];
      throw new FjordError(
        e.code,
        `no broker answered at ${bootstrapText}${reason !== undefined ? ` (${reason})` : ''}; is \`fjord dev\` running? (--bootstrap or ${BOOTSTRAP_ENV} to point elsewhere)`,
        e.details,
        { cause: e },
      );
    }
    throw e;
  } finally {
    await client.close();
  }
}
