/**
 * LZW exactly as Go's `compress/lzw` with `Order = LSB` and `litWidth = 8`,
 * which memberlist uses for its `compress` wrapper: literals
 * 0–255, clear 256, end-of-data 257, codes from 9 to 12 bits packed least
 * significant bit first, no "early change". The compressor reproduces Go's
 * writer bit for bit (clear first, a clear instead of code 4095, EOF last),
 * so compressed captures re-compress identically.
 *
 * Both directions work on module-level tables and scratch buffers
 * (JavaScript runs one call at a time), so a call allocates only its output.
 */
import { allocBytes } from "../codec/msgpack/Bytes.ts"

const CLEAR = 256
const EOF = 257
const MAX_CODE = 4095
const MAX_WIDTH = 12

const HASH_BITS = 14
const HASH_SIZE = 1 << HASH_BITS
const HASH_MASK = HASH_SIZE - 1
/** (prefix code << 8 | byte) → code, valid where `hashStamp` equals the current stamp. */
const hashKey = new Int32Array(HASH_SIZE)
const hashCode = new Uint16Array(HASH_SIZE)
/** Bumping the stamp empties the table without clearing it. */
const hashStamp = new Int32Array(HASH_SIZE)
let stamp = 0

const newTable = (): void => {
  stamp++
  if (stamp === 0x7fffffff) {
    hashStamp.fill(0)
    stamp = 1
  }
}

/** Scratch buffers grow up to this size and are kept; larger work gets one-off buffers. */
const MAX_KEPT_SCRATCH = 1 << 20
let compressScratch = new Uint8Array(4096)

/**
 * LZW-compresses `input[start, end)` into a view of a shared scratch buffer,
 * valid until the next call (for callers that copy it straight into a message).
 */
export const lzwCompressView = (input: Uint8Array, start = 0, end = input.length): Uint8Array => {
  const n = end - start
  // Worst case: one 12-bit code per input byte, plus the clears that restart the table.
  const bound = (((n + (n >>> 10) + 4) * 3) >>> 1) + 4
  if (compressScratch.length < bound && bound <= MAX_KEPT_SCRATCH) {
    compressScratch = new Uint8Array(Math.min(MAX_KEPT_SCRATCH, Math.max(bound, compressScratch.length * 2)))
  }
  // Rare huge inputs (a large push/pull) get a buffer of their own rather than a scratch kept forever.
  const out = bound <= compressScratch.length ? compressScratch : new Uint8Array(bound)
  let o = 0
  let bits = CLEAR
  let nBits = 9
  let width = 9
  let hi = EOF
  let overflow = 1 << width
  newTable()
  let current = stamp

  if (n > 0) {
    let code = input[start]!
    outer: for (let i = start + 1; i < end; i++) {
      const x = input[i]!
      const key = (code << 8) | x
      let h = ((key >>> 12) ^ key) & HASH_MASK
      while (hashStamp[h] === current) {
        if (hashKey[h] === key) {
          code = hashCode[h]!
          continue outer
        }
        h = (h + 1) & HASH_MASK
      }
      // Emit the current code at the current width, LSB first. (Written out at each emit
      // rather than as a closure: a shared helper measured ~20% slower on incompressible input.)
      bits |= code << nBits
      nBits += width
      while (nBits >= 8) {
        out[o++] = bits & 0xff
        bits >>>= 8
        nBits -= 8
      }
      code = x
      hi++
      if (hi === overflow) {
        width++
        overflow <<= 1
      }
      if (hi === MAX_CODE) {
        // Out of codes: Go writes a clear (still at 12 bits) and starts a fresh table.
        bits |= CLEAR << nBits
        nBits += width
        while (nBits >= 8) {
          out[o++] = bits & 0xff
          bits >>>= 8
          nBits -= 8
        }
        width = 9
        hi = EOF
        overflow = 1 << width
        newTable()
        current = stamp
      } else {
        hashStamp[h] = current
        hashKey[h] = key
        hashCode[h] = hi
      }
    }
    bits |= code << nBits
    nBits += width
    while (nBits >= 8) {
      out[o++] = bits & 0xff
      bits >>>= 8
      nBits -= 8
    }
    hi++
    if (hi === overflow) {
      width++
      overflow <<= 1
    }
    if (hi === MAX_CODE) {
      bits |= CLEAR << nBits
      nBits += width
      while (nBits >= 8) {
        out[o++] = bits & 0xff
        bits >>>= 8
        nBits -= 8
      }
      width = 9
    }
  }
  bits |= EOF << nBits
  nBits += width
  while (nBits > 0) {
    out[o++] = bits & 0xff
    bits >>>= 8
    nBits -= 8
  }
  return out.subarray(0, o)
}

/** LZW-compresses `input[start, end)`; the result always ends with EOF, so even empty input gives 3 bytes. */
export const lzwCompress = (input: Uint8Array, start = 0, end = input.length): Uint8Array => {
  const view = lzwCompressView(input, start, end)
  const out = allocBytes(view.length)
  out.set(view)
  return out
}

/** Why a stream did not decompress. */
export type LzwFailure = "UnexpectedEof" | "InvalidCode" | "TooLarge"

let decompressScratch = new Uint8Array(4096)

const prefix = new Uint16Array(MAX_CODE + 1)
const suffix = new Uint8Array(MAX_CODE + 1)
const lengths = new Uint16Array(MAX_CODE + 1)

/**
 * Decompresses a Go LZW stream. Like Go's reader it requires the EOF code (a
 * stream that just stops is an error) and ignores anything after it. Output
 * beyond `maxOutput` bytes is refused rather than allocated.
 */
export const lzwDecompress = (
  input: Uint8Array,
  maxOutput = Number.MAX_SAFE_INTEGER,
  start = 0,
  end = input.length
): Uint8Array | LzwFailure => {
  let out = decompressScratch
  let o = 0
  let bits = 0
  let nBits = 0
  let width = 9
  let hi = EOF
  let overflow = 1 << width
  let last = -1
  let i = start

  for (;;) {
    while (nBits < width) {
      if (i >= end) return "UnexpectedEof"
      bits |= input[i++]! << nBits
      nBits += 8
    }
    const code = bits & ((1 << width) - 1)
    bits >>>= width
    nBits -= width

    if (code === CLEAR) {
      width = 9
      hi = EOF
      overflow = 1 << width
      last = -1
      continue
    }
    if (code === EOF) break
    if (code > hi) return "InvalidCode"

    const kwkwk = code === hi && last >= 0
    const src = kwkwk ? last : code
    const srcLen = src < CLEAR ? 1 : lengths[src]!
    const len = kwkwk ? srcLen + 1 : srcLen
    if (o + len > maxOutput) return "TooLarge"
    if (o + len > out.length) {
      const next = new Uint8Array(Math.min(Math.max(out.length * 2, o + len), maxOutput))
      next.set(out.subarray(0, o))
      out = next
      // Keep a grown scratch for next time, unless it is unusually large.
      if (out.length <= MAX_KEPT_SCRATCH) decompressScratch = out
    }
    let c = src
    let p = o + srcLen - 1
    while (c > EOF) {
      out[p--] = suffix[c]!
      c = prefix[c]!
    }
    out[p] = c
    if (kwkwk) out[o + srcLen] = c
    if (last >= 0) {
      suffix[hi] = c
      prefix[hi] = last
      lengths[hi] = (last < CLEAR ? 1 : lengths[last]!) + 1
    }
    o += len

    last = code
    hi++
    if (hi >= overflow) {
      if (width === MAX_WIDTH) {
        last = -1
        hi--
      } else {
        width++
        overflow <<= 1
      }
    }
  }
  const result = allocBytes(o)
  result.set(out.subarray(0, o))
  return result
}
