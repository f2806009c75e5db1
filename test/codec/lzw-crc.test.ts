/**
 * LZW (Go compress/lzw, LSB, 8-bit literals) and CRC-32/IEEE beyond the golden vectors.
 */
import { crc32 as zlibCrc32 } from "node:zlib"
import { describe, expect, it } from "vitest"
import { crc32 } from "../../src/security/Crc32.ts"
import { lzwCompress, lzwDecompress } from "../../src/security/Lzw.ts"
import { fromHex, prng, toHex, utf8 } from "./helpers.ts"

const randomBytes = (next: () => number, n: number, alphabet = 256): Uint8Array => {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = Math.floor(next() * alphabet)
  return out
}

describe("LZW", () => {
  it("round-trips inputs of every size and shape", () => {
    const next = prng(7)
    const inputs = [
      new Uint8Array(0),
      Uint8Array.of(0),
      Uint8Array.of(255, 255),
      utf8("TOBEORNOTTOBEORTOBEORNOT"),
      new Uint8Array(100_000),
      randomBytes(next, 1024),
      randomBytes(next, 100_000),
      randomBytes(next, 200_000, 3)
    ]
    for (const input of inputs) {
      const packed = lzwCompress(input)
      const back = lzwDecompress(packed)
      expect(back, `length ${input.length}`).toEqual(input)
    }
  })

  it("compresses a slice of a larger buffer", () => {
    const buf = utf8("xxhello hello hello helloyy")
    expect(lzwCompress(buf, 2, buf.length - 2)).toEqual(lzwCompress(buf.subarray(2, buf.length - 2)))
  })

  it("starts with a clear code and ends with EOF", () => {
    // 9-bit codes clear(256), 'a'(97), EOF(257), LSB first: 256 | 97 << 9 | 257 << 18 = 0x0404c300.
    expect(toHex(lzwCompress(utf8("a")))).toBe("00c30404")
  })

  it("requires the EOF code and ignores what follows it", () => {
    const packed = lzwCompress(utf8("hello hello hello"))
    expect(lzwDecompress(packed.subarray(0, packed.length - 2))).toBe("UnexpectedEof")
    expect(lzwDecompress(new Uint8Array(0))).toBe("UnexpectedEof")
    const trailing = new Uint8Array(packed.length + 3)
    trailing.set(packed)
    trailing.set([1, 2, 3], packed.length)
    expect(lzwDecompress(trailing)).toEqual(utf8("hello hello hello"))
  })

  it("accepts a stream that does not begin with a clear code, as Go's reader does", () => {
    // 9-bit codes 'h'(104), 'i'(105), EOF(257), LSB-first.
    const codes = [104, 105, 257]
    let bits = 0n
    codes.forEach((c, i) => (bits |= BigInt(c) << BigInt(9 * i)))
    const bytes = new Uint8Array(4)
    for (let i = 0; i < 4; i++) bytes[i] = Number((bits >> BigInt(8 * i)) & 0xffn)
    expect(lzwDecompress(bytes)).toEqual(utf8("hi"))
  })

  it("refuses codes beyond the next dictionary slot", () => {
    // clear, 'a', then code 300 while the next slot is 258.
    const codes = [256, 97, 300, 257]
    let bits = 0n
    codes.forEach((c, i) => (bits |= BigInt(c) << BigInt(9 * i)))
    const bytes = new Uint8Array(5)
    for (let i = 0; i < 5; i++) bytes[i] = Number((bits >> BigInt(8 * i)) & 0xffn)
    expect(lzwDecompress(bytes)).toBe("InvalidCode")
  })

  it("stops at the output limit instead of allocating", () => {
    const packed = lzwCompress(new Uint8Array(1_000_000))
    expect(packed.length).toBeLessThan(10_000)
    expect(lzwDecompress(packed, 999_999)).toBe("TooLarge")
    expect((lzwDecompress(packed, 1_000_000) as Uint8Array).length).toBe(1_000_000)
  })

  it("never throws on random input", () => {
    const next = prng(11)
    for (let i = 0; i < 2000; i++) {
      const bytes = randomBytes(next, Math.floor(next() * 64))
      const out = lzwDecompress(bytes, 1 << 20)
      expect(typeof out === "string" || out instanceof Uint8Array).toBe(true)
    }
  })
})

describe("CRC-32/IEEE", () => {
  it("matches the standard check value and zlib", () => {
    expect(crc32(utf8("123456789"))).toBe(0xcbf43926)
    expect(crc32(new Uint8Array(0))).toBe(0)
    const next = prng(3)
    for (let n = 0; n < 300; n += 7) {
      const b = randomBytes(next, n)
      expect(crc32(b), `length ${n}`).toBe(zlibCrc32(b))
    }
  })

  it("checksums a range", () => {
    const b = fromHex("0c3f685c9a0702")
    expect(crc32(b, 5)).toBe(zlibCrc32(b.subarray(5)))
    expect(crc32(b, 1, 4)).toBe(zlibCrc32(b.subarray(1, 4)))
  })

  it("agrees with the bit-by-bit definition on both sides of the switch to zlib, at any offset", () => {
    const bitwise = (b: Uint8Array): number => {
      let c = 0xffffffff
      for (const byte of b) {
        c ^= byte
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      }
      return (c ^ 0xffffffff) >>> 0
    }
    const next = prng(11)
    const b = randomBytes(next, 2100)
    for (let n = 0; n <= 2000; n += 37) {
      for (const start of [0, 3, 5]) {
        expect(crc32(b, start, start + n), `[${start}, ${start + n})`).toBe(bitwise(b.subarray(start, start + n)))
      }
    }
  })
})
