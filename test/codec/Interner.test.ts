import { describe, expect, it } from "vitest"
import { Interner } from "../../src/codec/Interner.ts"

const enc = (s: string) => new TextEncoder().encode(s)
const decode = (key: Uint8Array) => new TextDecoder("utf-8", { fatal: true }).decode(key)

describe("Interner", () => {
  it("hands out the same string and the same bytes for the same key, wherever the key sits", () => {
    const interner = new Interner()
    const one = enc("xxnode-1yy")
    const two = enc("node-1")
    const s = interner.string(one, 2, 6, decode)
    expect(s).toBe("node-1")
    expect(interner.string(two, 0, 6, decode)).toBe(s)
    const b = interner.bytes(one, 2, 6)
    expect(b).toEqual(two)
    expect(interner.bytes(two, 0, 6)).toBe(b)
    // a copy: the input may change afterwards
    one.fill(0)
    expect(b).toEqual(two)
  })

  it("grows to its bound, then evicts (counted) and stays correct", () => {
    const interner = new Interner(1024)
    for (let i = 0; i < 10_000; i++) {
      const key = enc(`member-${i}`)
      expect(interner.string(key, 0, key.length, decode)).toBe(`member-${i}`)
    }
    const { size, evictions } = interner.stats
    expect(size).toBeLessThanOrEqual(1024)
    expect(size).toBeGreaterThan(512)
    expect(evictions).toBeGreaterThanOrEqual(10_000 - 1024)
    // every key still decodes to its own value after evictions
    for (let i = 0; i < 10_000; i += 7) {
      const key = enc(`member-${i}`)
      expect(interner.string(key, 0, key.length, decode)).toBe(`member-${i}`)
    }
  })

  it("a key that does not decode is refused and not kept", () => {
    const interner = new Interner()
    const bad = new Uint8Array([0xff, 0xfe])
    expect(() => interner.string(bad, 0, 2, decode)).toThrow()
    expect(interner.stats.size).toBe(0)
  })
})
