import { afterEach } from 'vitest';

interface Closable {
  close(): unknown;
}

/**
 * Registers an afterEach that closes, newest first, everything handed to the
 * returned `track` during the test, also when the test failed (clusters,
 * clients), so tests need no nullable variables and hand-written teardown.
 */
export function closeAfterEach(): <T extends Closable>(resource: T) => T {
  const open: Closable[] = [];
  afterEach(async () => {
    for (const resource of open.splice(0).reverse()) await resource.close();
  });
  return <T extends Closable>(resource: T): T => {
    open.push(resource);
    return resource;
  };
}
