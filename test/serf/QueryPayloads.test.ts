/**
 * What travels inside serf's queries: filters, key requests and responses,
 * conflict answers and relay wrappers, byte for byte as go-msgpack writes
 * them, and decoders that never throw on garbage.
 */
import { assert, describe, it } from "@effect/vitest"
import { decodeSerfMessage, encodeQueryResponse, encodeRelay } from "../../src/serf/Messages.ts"
import {
  compileTagExpr,
  decodeConflictResponse,
  decodeFilter,
  decodeKeyRequest,
  decodeKeyResponse,
  encodeConflictResponse,
  encodeFilter,
  encodeKeyRequest,
  encodeKeyResponse,
  SerfStatus,
  shouldProcessQuery
} from "../../src/serf/QueryPayloads.ts"
import { encodeTags } from "../../src/serf/Tags.ts"

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")
const fromHex = (s: string) => Uint8Array.from(Buffer.from(s, "hex"))
const str = (s: string) => Buffer.from(s).toString("hex")

describe("serf query filters", () => {
  it("encodes node and tag filters as serf's encodeFilter does", () => {
    // 00, then []string{"a","bc"}: fixarray of raw strings
    assert.strictEqual(hex(encodeFilter({ _tag: "Node", names: ["a", "bc"] })), "00" + "92" + "a161" + "a26263")
    // 01, then {Tag, Expr}
    assert.strictEqual(
      hex(encodeFilter({ _tag: "Tag", tag: "role", expr: "^web$" })),
      "01" + "82" + "a3" + str("Tag") + "a4" + str("role") + "a4" + str("Expr") + "a5" + str("^web$")
    )
    for (const f of [{ _tag: "Node", names: ["x", "y"] }, { _tag: "Tag", tag: "dc", expr: "eu-.*" }] as const) {
      assert.deepStrictEqual(decodeFilter(encodeFilter(f)), f)
    }
    assert.isUndefined(decodeFilter(new Uint8Array(0)))
    assert.isUndefined(decodeFilter(fromHex("02c0")), "unknown filter type")
    assert.isUndefined(decodeFilter(fromHex("0092a161")), "truncated")
  })

  it("processes a query when every filter passes, as serf's shouldProcessQuery", () => {
    const tags = { role: "web-frontend", dc: "eu" }
    const node = (...names: Array<string>) => encodeFilter({ _tag: "Node", names })
    const tag = (t: string, expr: string) => encodeFilter({ _tag: "Tag", tag: t, expr })
    assert.isTrue(shouldProcessQuery(null, "n1", tags))
    assert.isTrue(shouldProcessQuery([node("n0", "n1")], "n1", tags))
    assert.isFalse(shouldProcessQuery([node("n0")], "n1", tags))
    // a search, as Go's regexp.MatchString: anchors make it exact
    assert.isTrue(shouldProcessQuery([tag("role", "web")], "n1", tags))
    assert.isFalse(shouldProcessQuery([tag("role", "^web$")], "n1", tags))
    assert.isTrue(shouldProcessQuery([tag("role", "^web"), tag("dc", "^eu$"), node("n1")], "n1", tags))
    assert.isFalse(shouldProcessQuery([tag("role", "^web"), tag("dc", "^us$")], "n1", tags))
    // an absent tag is the empty string
    assert.isTrue(shouldProcessQuery([tag("zone", "^$")], "n1", tags))
    assert.isFalse(shouldProcessQuery([tag("zone", ".")], "n1", tags))
    // unusable filters: not processed, and reported
    assert.strictEqual(shouldProcessQuery([fromHex("07")], "n1", tags), "malformed")
    assert.strictEqual(shouldProcessQuery([tag("role", "(")], "n1", tags), "malformed")
    assert.strictEqual(shouldProcessQuery([tag("role", "(a+)+$")], "n1", tags), "malformed")
  })

  it("refuses expressions that could backtrack without end, or are too long", () => {
    for (const bad of ["(a+)+", "(.*)*x", "(x|y+){2,}", "(a*)?", "x".repeat(300)]) {
      assert.isString(compileTagExpr(bad), bad)
    }
    for (const good of ["^web$", "a+b*", "(web|api)-[0-9]+", "\\(a+\\)+", "^(eu|us)-(east|west)$"]) {
      assert.instanceOf(compileTagExpr(good), RegExp, good)
    }
  })
})

describe("serf key management payloads", () => {
  it("encodes a key request as serf's encodeMessage(messageKeyRequestType, keyRequest{Key})", () => {
    const key = Uint8Array.from({ length: 16 }, (_, i) => i)
    assert.strictEqual(hex(encodeKeyRequest(key)), "07" + "81" + "a3" + str("Key") + "b0" + hex(key))
    assert.deepStrictEqual(decodeKeyRequest(encodeKeyRequest(key)), key)
    // list-keys carries an empty key
    assert.deepStrictEqual(decodeKeyRequest(encodeKeyRequest(new Uint8Array(0))), new Uint8Array(0))
    // serf skips the type byte without checking it
    assert.deepStrictEqual(decodeKeyRequest(Uint8Array.from([0x63, ...encodeKeyRequest(key).subarray(1)])), key)
    assert.isUndefined(decodeKeyRequest(null))
    assert.isUndefined(decodeKeyRequest(new Uint8Array(0)))
    assert.isUndefined(decodeKeyRequest(fromHex("0781a34b6579")))
  })

  it("encodes key responses as serf's nodeKeyResponse, nil keys when there are none", () => {
    const ok = encodeKeyResponse({ result: true, message: "", keys: [], primaryKey: "" })
    assert.strictEqual(
      hex(ok),
      "08" + "84" + "a4" + str("Keys") + "c0" + "a7" + str("Message") + "a0" + "aa" + str("PrimaryKey") + "a0" + "a6" +
        str("Result") + "c3"
    )
    const listed = { result: true, message: "", keys: ["AAA=", "BBB="], primaryKey: "AAA=" }
    assert.deepStrictEqual(decodeKeyResponse(encodeKeyResponse(listed)), listed)
    const failed = { result: false, message: "Removing the primary key is not allowed", keys: [], primaryKey: "" }
    assert.deepStrictEqual(decodeKeyResponse(encodeKeyResponse(failed)), failed)
    assert.isUndefined(decodeKeyResponse(fromHex("06c0")), "another type")
    assert.isUndefined(decodeKeyResponse(fromHex("0884a4")))
  })
})

describe("serf conflict answers", () => {
  it("describe the member as serf's Member struct, or nil when unknown", () => {
    assert.strictEqual(hex(encodeConflictResponse(undefined)), "06c0")
    assert.isNull(decodeConflictResponse(fromHex("06c0")))
    const member = {
      name: "web-1",
      addr: Uint8Array.of(10, 0, 0, 5),
      port: 7946,
      tags: { role: "web" },
      status: SerfStatus.alive,
      protocolMin: 1,
      protocolMax: 5,
      protocolCur: 2,
      delegateMin: 2,
      delegateMax: 5,
      delegateCur: 4
    }
    const bytes = encodeConflictResponse(member)
    assert.strictEqual(bytes[0], 6)
    assert.strictEqual(bytes[1], 0x8b, "a map of serf Member's 11 fields")
    assert.deepStrictEqual(decodeConflictResponse(bytes), member)
    assert.isUndefined(decodeConflictResponse(fromHex("068b")), "truncated")
    assert.isUndefined(decodeConflictResponse(fromHex("08c0")), "another type")
  })
})

describe("serf relays", () => {
  it("wrap a response for a member to forward: 0x09, the destination, then the message", () => {
    const response = encodeQueryResponse({ ltime: 7, id: 42, from: "n3", flags: 1, payload: null })
    const relay = encodeRelay({ addr: Uint8Array.of(127, 0, 0, 1), port: 7946, name: "n1" }, response)
    assert.strictEqual(
      hex(relay.subarray(0, 2 + 9 + 1)),
      "09" + "82" + "a8" + str("DestAddr") + "83"
    )
    const decoded = decodeSerfMessage(relay)
    assert.deepStrictEqual(decoded, {
      _tag: "Relay",
      destAddr: Uint8Array.of(127, 0, 0, 1),
      destPort: 7946,
      destName: "n1",
      message: response
    })
    assert.deepInclude(decodeSerfMessage(response), { _tag: "QueryResponse", ltime: 7, id: 42, from: "n3", flags: 1 })
  })
})

describe("serf payload decoders", () => {
  it("never throw on garbage, and refuse what does not decode", () => {
    let seed = 12345
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff
    const samples = [
      encodeKeyRequest(new Uint8Array(32)),
      encodeKeyResponse({ result: true, message: "m", keys: ["k"], primaryKey: "k" }),
      encodeConflictResponse({
        name: "n",
        addr: Uint8Array.of(1, 2, 3, 4),
        port: 1,
        tags: {},
        status: 1,
        protocolMin: 1,
        protocolMax: 5,
        protocolCur: 2,
        delegateMin: 2,
        delegateMax: 5,
        delegateCur: 4
      }),
      encodeFilter({ _tag: "Tag", tag: "t", expr: "e" }),
      encodeRelay({ addr: Uint8Array.of(1, 2, 3, 4), port: 1, name: "n" }, Uint8Array.of(5, 0x80)),
      encodeTags({ a: "b" })
    ]
    for (let i = 0; i < 20_000; i++) {
      const base = samples[i % samples.length]!
      const bytes = Uint8Array.from(base)
      // flip, truncate or both
      for (let j = 0; j < 1 + Math.floor(random() * 3); j++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256)
      const cut = bytes.subarray(0, Math.floor(random() * (bytes.length + 1)))
      for (const input of [bytes, cut]) {
        decodeKeyRequest(input)
        decodeKeyResponse(input)
        decodeConflictResponse(input)
        decodeFilter(input)
        decodeSerfMessage(input)
        shouldProcessQuery([input], "n", {})
      }
    }
  })
})
