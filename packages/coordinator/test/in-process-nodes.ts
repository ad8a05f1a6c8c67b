// Coordinator nodes in the test's own process: real gRPC on 127.0.0.1
// (ephemeral ports), real LevelDB under `dir`, silent logs, and a broken
// invariant thrown into the test. The caller stops them (`node.stop()`).
import { join } from 'node:path';
import pino from 'pino';
import { freePorts } from '@fjord/testkit';
import { CoordinatorNode, loadConfig } from '../src/index.js';

export async function startInProcessNodes(dir: string, count: number, flags: Readonly<Record<string, unknown>> = {}): Promise<CoordinatorNode[]> {
  const ports = await freePorts(count);
  const peers = ports.map((p, i) => `${i + 1}=127.0.0.1:${p}`).join(',');
  const nodes: CoordinatorNode[] = [];
  for (let i = 0; i < count; i++) {
    const config = loadConfig({ env: {}, flags: { id: i + 1, peers, dataDir: join(dir, `n${i + 1}`), ...flags } });
    const node = new CoordinatorNode({
      config,
      logger: pino({ level: 'silent' }),
      onFatal: (err) => {
        throw err;
      },
    });
    await node.start();
    nodes.push(node);
  }
  return nodes;
}
