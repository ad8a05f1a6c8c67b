/**
 * CRC32C (Castagnoli), as Kafka's RecordBatch v2 uses. The hot path uses
 * @node-rs/crc32 (SSE4.2/ARMv8 hardware CRC, ~6 GB/s here); crc32cJs is a plain
 * table-driven version kept as the test oracle (TOOLCHAIN.md).
 */
import { crc32c as nativeCrc32c } from '@node-rs/crc32';

/** CRC32C of `data` as an unsigned 32-bit integer. */
export function crc32c(data: Uint8Array): number {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return nativeCrc32c(buf) >>> 0;
}

const TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** Reference implementation (slow, obviously correct). */
export function crc32cJs(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    crc = (TABLE[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}
