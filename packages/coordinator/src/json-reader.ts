/**
 * Shape checks for untrusted decoded input (Raft entry payloads, snapshots,
 * config files). Every reader throws `ShapeError` with the path of the bad
 * field; callers catch it at one place and turn it into a typed error, so no
 * input can crash the node (DESIGN.md "Errors and bad input").
 */
export class ShapeError extends Error {
  override readonly name = 'ShapeError';
}

export type JsonObject = Readonly<Record<string, unknown>>;

export function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function readObject(value: unknown, path: string, allowedKeys?: readonly string[]): JsonObject {
  if (!isPlainObject(value)) throw new ShapeError(`${path} must be an object`);
  if (allowedKeys !== undefined) {
    for (const key of Object.keys(value)) {
      if (!allowedKeys.includes(key)) throw new ShapeError(`${path}.${key} is not a known field`);
    }
  }
  return value;
}

export function readInt(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new ShapeError(`${path} must be an integer`);
  if (value < min || value > max) throw new ShapeError(`${path} must be in [${min}, ${max}], got ${value}`);
  return value;
}

export function readString(value: unknown, path: string, minLength: number, maxLength: number): string {
  if (typeof value !== 'string') throw new ShapeError(`${path} must be a string`);
  if (value.length < minLength || value.length > maxLength) {
    throw new ShapeError(`${path} must have ${minLength}..${maxLength} characters, got ${value.length}`);
  }
  return value;
}

export function readBoolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw new ShapeError(`${path} must be a boolean`);
  return value;
}

export function readArray(value: unknown, path: string, maxLength: number): readonly unknown[] {
  if (!Array.isArray(value)) throw new ShapeError(`${path} must be an array`);
  if (value.length > maxLength) throw new ShapeError(`${path} has ${value.length} elements, at most ${maxLength} allowed`);
  return value;
}

export function readIntArray(value: unknown, path: string, maxLength: number, min: number, max: number): number[] {
  return readArray(value, path, maxLength).map((v, i) => readInt(v, `${path}[${i}]`, min, max));
}

export function readStringMap(value: unknown, path: string, maxEntries: number, maxKeyLength: number, maxValueLength: number): Record<string, string> {
  const obj = readObject(value, path);
  const keys = Object.keys(obj);
  if (keys.length > maxEntries) throw new ShapeError(`${path} has ${keys.length} entries, at most ${maxEntries} allowed`);
  const out: Record<string, string> = {};
  for (const key of keys.sort()) {
    readString(key, `${path} key`, 1, maxKeyLength);
    // A "__proto__" key from JSON.parse is an own property; assigning it to a
    // plain object would replace the prototype instead.
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') throw new ShapeError(`${path} has a reserved key "${key}"`);
    out[key] = readString(obj[key], `${path}.${key}`, 0, maxValueLength);
  }
  return out;
}
