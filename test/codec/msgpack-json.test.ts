/**
 * msgpack for JSON-shaped values: exact bytes for known values (as any msgpack
 * library writes them), round trips, and hostile input.
 */
import { assert, describe, it } from "@effect/vitest"
import { decodeJsonMsgpack, encodeJsonMsgpack } from "../../src/codec/msgpack/Json.ts"

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

describe("JSON-shaped msgpack", () => {
  it("writes the standard bytes", () => {
    assert.strictEqual(hex(encodeJsonMsgpack({ a: 1, b: [true, null, -1, 1.5, "x"] })), "82a16101a16295c3c0ffcb3ff8000000000000a178")
    assert.strictEqual(hex(encodeJsonMsgpack(300)), "cd012c")
    assert.strictEqual(hex(encodeJsonMsgpack("é")), "a2c3a9")
  })

  it("round-trips nested data", () => {
    const value = { name: "node-1", tags: { role: "web", dc: "eu" }, load: [0.25, 1e100, -(2 ** 40)], ok: false }
    assert.deepStrictEqual(decodeJsonMsgpack(encodeJsonMsgpack(value)), { ok: true, value })
  })

  it("refuses what is not JSON data, truncated input and trailing bytes", () => {
    assert.throws(() => encodeJsonMsgpack({ f: () => 1 }))
    assert.throws(() => encodeJsonMsgpack(10n))
    assert.isFalse(decodeJsonMsgpack(Uint8Array.of(0x82, 0xa1, 0x61)).ok)
    assert.isFalse(decodeJsonMsgpack(Uint8Array.of(0x01, 0x02)).ok)
    assert.isFalse(decodeJsonMsgpack(Uint8Array.of(0xc4, 0x01, 0x00)).ok) // bin is not JSON data
  })

  it("a __proto__ key stays an own property", () => {
    const bytes = Uint8Array.of(0x81, 0xa9, ...new TextEncoder().encode("__proto__"), 0x81, 0xa1, 0x78, 0x01)
    const decoded = decodeJsonMsgpack(bytes)
    assert.isTrue(decoded.ok)
    const value = (decoded as { value: Record<string, unknown> }).value
    assert.deepStrictEqual(Object.keys(value), ["__proto__"])
    assert.isUndefined(({} as Record<string, unknown>)["x"])
    assert.strictEqual(Object.getPrototypeOf(value), Object.prototype)
  })
})
