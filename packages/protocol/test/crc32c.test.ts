// Goal: the native CRC32C (@node-rs/crc32, the hot path) equals the plain-JS
// oracle on random buffers of every small length and on views at odd offsets,
// and both give the standard check value for "123456789" (0xe3069283).
import { describe, expect, it } from 'vitest';
import { Rng, crc32c, crc32cJs } from '@fjord/protocol';

describe('crc32c', () => {
  it('known vectors', () => {
    const check = Buffer.from('123456789', 'ascii');
    expect(crc32c(check)).toBe(0xe3069283);
    expect(crc32cJs(check)).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    expect(crc32cJs(Buffer.alloc(0))).toBe(0);
    // RFC 3720 (iSCSI) B.4: 32 bytes of zeros, and of 0xff.
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
  });

  it('native equals the JS oracle on random buffers, lengths 0..2048 and larger', () => {
    const rng = new Rng(7);
    for (let len = 0; len <= 2048; len++) {
      const buf = rng.bytes(len);
      const native = crc32c(buf);
      if (native !== crc32cJs(buf)) expect.unreachable(`length ${len}: native ${native} != oracle ${crc32cJs(buf)}`);
    }
    for (let i = 0; i < 20; i++) {
      const buf = rng.bytes(rng.intBetween(4096, 300_000));
      expect(crc32c(buf)).toBe(crc32cJs(buf));
    }
  });

  it('works on Uint8Array views at any offset (not only whole Buffers)', () => {
    const rng = new Rng(8);
    const backing = rng.bytes(10_000);
    for (let i = 0; i < 200; i++) {
      const start = rng.int(5000);
      const end = start + rng.int(5000);
      const view = new Uint8Array(backing.buffer, backing.byteOffset + start, end - start);
      expect(crc32c(view)).toBe(crc32cJs(view));
      expect(crc32c(view)).toBe(crc32c(backing.subarray(start, end)));
    }
  });

  it('returns unsigned 32-bit values', () => {
    const rng = new Rng(9);
    let sawHighBit = false;
    for (let i = 0; i < 100; i++) {
      const c = crc32c(rng.bytes(16));
      expect(c).toBeGreaterThanOrEqual(0);
      expect(c).toBeLessThanOrEqual(0xffffffff);
      if (c >= 0x8000_0000) sawHighBit = true;
    }
    expect(sawHighBit).toBe(true);
  });
});
