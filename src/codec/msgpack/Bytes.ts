/**
 * Byte arrays for encoder output. V8 keeps typed arrays of up to 64 bytes on
 * the JavaScript heap, but a larger one gets its own off-heap backing store,
 * about ten times as costly to create — and nearly every packet is larger.
 * So output arrays are carved from shared 8 KiB slabs, as Node's `Buffer`
 * pool does. The price is the same as Node's: an array kept alive keeps its
 * slab alive, which is why only encoder output (short-lived: sent, or queued
 * for a few gossip rounds) comes from here, not decoded fields kept in tables.
 */

const SLAB_SIZE = 8192
const MAX_POOLED = 2048

let slab = new ArrayBuffer(SLAB_SIZE)
let offset = 0

/** A zero-filled array of `n` bytes, from a slab when small. */
export const allocBytes = (n: number): Uint8Array => {
  if (n > MAX_POOLED || n <= 64) return new Uint8Array(n)
  if (offset + n > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE)
    offset = 0
  }
  const out = new Uint8Array(slab, offset, n)
  // Keep later arrays 8-byte aligned, as DataView users expect nothing else.
  offset = (offset + n + 7) & ~7
  return out
}
