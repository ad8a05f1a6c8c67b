/**
 * Topic ids: random version-4 UUIDs (Kafka's topic ids, KIP-516), drawn from
 * an injected Rng so the proposer is reproducible under a seed. The id is
 * carried in the CreateTopic command, so every replica stores the same one.
 */
import type { Rng } from '@fjord/protocol';

export function newTopicId(rng: Rng): string {
  const bytes = rng.bytes(16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x40; // version 4
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80; // RFC 4122 variant
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
