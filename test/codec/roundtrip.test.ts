/**
 * Every message type through encodePacket/decodePacket and every stream
 * message through encodeStream/decodeStream (fed byte by byte), under every
 * combination of compression, encryption version and label.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Codec } from "../../src/codec/Codec.ts"
import { CodecConfigError, MemberlistCodec, makeMemberlistCodec, type MemberlistCodecOptions } from "../../src/codec/MemberlistCodec.ts"
import {
  ack,
  type Alive,
  dead,
  errResp,
  nack,
  type PacketMessage,
  ping,
  type PushNodeState,
  type PushPull,
  type StreamMessage,
  suspect,
  user
} from "../../src/protocol/Messages.ts"
import { Keyring } from "../../src/security/Keyring.ts"
import { encodeTags } from "../../src/serf/Tags.ts"
import { toHex, utf8 } from "./helpers.ts"

const addr4 = Uint8Array.of(10, 0, 0, 5)
const addr6 = Uint8Array.of(0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)
const vsn = Uint8Array.of(1, 5, 2, 2, 5, 5)
const filler = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff)

const alive = (node: string, incarnation: number, meta: Uint8Array | null, a = addr4): Alive => ({
  _tag: "Alive",
  incarnation,
  node,
  addr: a,
  port: 7946,
  meta,
  vsn
})

const packetMessages: ReadonlyArray<PacketMessage> = [
  ping(1, "n1", addr4, "me", 7946),
  ping(0, "", null, "", 0),
  {
    _tag: "IndirectPing",
    seqNo: 0xffffffff,
    target: addr6,
    port: 65535,
    node: "ノード",
    nack: true,
    sourceAddr: addr4,
    sourceNode: "me",
    sourcePort: 1
  },
  {
    _tag: "IndirectPing",
    seqNo: 3,
    target: addr4,
    port: 0,
    node: "n3",
    nack: false,
    sourceAddr: null,
    sourceNode: "",
    sourcePort: 0
  },
  ack(5, null),
  ack(6, new Uint8Array(0)),
  ack(7, filler(300)),
  nack(9),
  suspect(3, "n2", "n1"),
  alive("x".repeat(40), 70000, encodeTags({ role: "web", dc: "lab" }), addr6),
  alive("n4", 1, null),
  dead(2, "n3", "n3"),
  user(utf8("hello")),
  user(new Uint8Array(0)),
  user(filler(1000))
]

const nodeState = (i: number): PushNodeState => ({
  name: `node-${i}`,
  addr: Uint8Array.of(10, 0, (i >> 8) & 0xff, i & 0xff),
  port: 7946 + (i % 3),
  meta: i % 2 === 0 ? encodeTags({ role: "db", idx: String(i) }) : null,
  incarnation: i + 1,
  state: (i % 4) as PushNodeState["state"],
  vsn
})

const pushPull = (nodes: number, userState: Uint8Array, join = true): PushPull => ({
  _tag: "PushPull",
  join,
  nodes: Array.from({ length: nodes }, (_, i) => nodeState(i)),
  userState
})

const streamMessages: ReadonlyArray<StreamMessage> = [
  pushPull(3, filler(40)),
  pushPull(0, new Uint8Array(0), false),
  ping(8, "n3", addr4, "n1", 27946),
  ack(8, null),
  user(filler(700)),
  user(new Uint8Array(0)),
  errResp("Encryption is configured but remote state is not encrypted")
]

const keyring = Keyring.makeUnsafe([new Uint8Array(32).fill(7)])

const configs: ReadonlyArray<readonly [string, MemberlistCodecOptions]> = [
  ["plain", { compression: false }],
  ["compressed", {}],
  ["v1", { keyring, compression: false }],
  ["v1+compressed", { keyring }],
  ["v0+compressed", { keyring, encryptionVersion: 0 }],
  ["label", { label: "prod" }],
  ["v1+label", { keyring, label: "prod" }],
  ["v0+label", { keyring, label: "prod", encryptionVersion: 0, compression: false }]
]

describe.each(configs)("round trips: %s", (_name, options) => {
  const codec = makeMemberlistCodec(options)

  it("each packet message, bare, with and without CRC", () => {
    for (const m of packetMessages) {
      for (const checksum of [false, true]) {
        const wire = codec.encodePacket([codec.encodeMessage(m)], { checksum })
        const decoded = codec.decodePacket(wire)
        expect(decoded.errors, m._tag).toEqual([])
        expect(decoded.messages, m._tag).toEqual([m])
      }
    }
  })

  it("all packet messages in one compound (compressed when that is shorter)", () => {
    const parts = packetMessages.map((m) => codec.encodeMessage(m))
    for (const checksum of [false, true]) {
      const decoded = codec.decodePacket(codec.encodePacket(parts, { checksum }))
      expect(decoded.errors).toEqual([])
      expect(decoded.messages).toEqual(packetMessages)
    }
  })

  it("each stream message in both directions, fed byte by byte", () => {
    for (const m of streamMessages) {
      for (const initiator of [true, false]) {
        const wire = codec.encodeStream(m, { initiator })
        const reader = { initiator: !initiator }
        for (let i = 0; i < wire.length; i++) {
          const partial = codec.decodeStream(wire.subarray(0, i), reader)
          expect(partial._tag, `${m._tag} prefix ${i}/${wire.length}`).toBe("NeedMore")
        }
        expect(codec.decodeStream(wire, reader), m._tag).toEqual({ _tag: "Complete", message: m, consumed: wire.length })
        // The next message on the connection does not belong to this one.
        const more = new Uint8Array(wire.length + 4)
        more.set(wire)
        more.set([0x0a, 0x0d, 0x09, 0xff], wire.length)
        const read = codec.decodeStream(more, reader)
        expect(read._tag === "Complete" && read.consumed, m._tag).toBe(wire.length)
      }
    }
  })

  it("a push/pull of 100 nodes with serf-sized user state, fed in chunks", () => {
    const m = pushPull(100, filler(5000))
    const wire = codec.encodeStream(m, { initiator: true })
    for (let i = 0; i < wire.length; i += 97) {
      expect(codec.decodeStream(wire.subarray(0, i), { initiator: false })._tag).toBe("NeedMore")
    }
    expect(codec.decodeStream(wire, { initiator: false })).toEqual({ _tag: "Complete", message: m, consumed: wire.length })
  })

  it("compresses every stream when compression is on", () => {
    if (options.keyring !== undefined) return
    const m = ping(1, "n", null, "", 0)
    const wire = codec.encodeStream(m, { initiator: false })
    expect(wire[0]).toBe(options.compression === false ? 0 : 9)
  })
})

describe("packet assembly", () => {
  const codec = makeMemberlistCodec({ compression: false })
  const part = (n: number) => codec.encodeMessage(nack(n))

  it("sends nothing for no parts, and drops empty parts", () => {
    expect(codec.encodePacket([], { checksum: true }).length).toBe(0)
    expect(codec.encodePacket([new Uint8Array(0), new Uint8Array(0)], { checksum: false }).length).toBe(0)
    expect(toHex(codec.encodePacket([new Uint8Array(0), part(1)], { checksum: false }))).toBe(toHex(part(1)))
    const wire = codec.encodePacket([part(1), new Uint8Array(0), part(2)], { checksum: false })
    expect(wire[0]).toBe(7)
    expect(wire[1]).toBe(2)
    expect(codec.decodePacket(wire).messages).toEqual([nack(1), nack(2)])
  })

  it("never sends a zero-length compound part", () => {
    for (const parts of [[part(1), new Uint8Array(0)], [new Uint8Array(0), part(1), new Uint8Array(0), part(2)]]) {
      const wire = codec.encodePacket(parts, { checksum: false })
      if (wire[0] !== 7) continue
      for (let i = 0; i < wire[1]!; i++) expect((wire[2 + 2 * i]! << 8) | wire[3 + 2 * i]!).toBeGreaterThan(0)
    }
  })

  it("nests compounds beyond 255 parts, so every count fits its byte", () => {
    for (const n of [255, 256, 300, 1000, 5000]) {
      const parts = Array.from({ length: n }, (_, i) => part(i))
      const wire = codec.encodePacket(parts, { checksum: false })
      expect(wire[0]).toBe(7)
      const decoded = codec.decodePacket(wire)
      expect(decoded.errors, `${n} parts`).toEqual([])
      expect(decoded.messages.length, `${n} parts`).toBe(n)
      expect(decoded.messages[n - 1]).toEqual(nack(n - 1))
    }
  })

  it("drops a part too long for a compound length field rather than corrupting the packet", () => {
    const huge = codec.encodeMessage(user(new Uint8Array(70000)))
    expect(codec.encodePacket([huge], { checksum: false }).length).toBe(70001)
    const decoded = codec.decodePacket(codec.encodePacket([part(1), huge, part(2)], { checksum: false }))
    expect(decoded.messages).toEqual([nack(1), nack(2)])
  })

  it("keeps what it encodes independent of later encodes", () => {
    const a = codec.encodeMessage(nack(1))
    codec.encodeMessage(alive("n1", 1, filler(200)))
    expect(toHex(a)).toBe("0b81a55365714e6f01")
  })

  it("announces its overheads", () => {
    expect(codec.compoundHeaderOverhead).toBe(2)
    expect(codec.compoundPartOverhead).toBe(2)
    expect(codec.packetOverhead).toBe(5)
    expect(makeMemberlistCodec({ keyring, label: "prod" }).packetOverhead).toBe(29 + 5 + 6)
    expect(makeMemberlistCodec({ keyring, encryptionVersion: 0 }).packetOverhead).toBe(45 + 5)
  })
})

describe("Vsn policy: the encoder only ever sends 6 bytes", () => {
  const codec = makeMemberlistCodec({ compression: false })
  const vsnOnWire = (bytes: Uint8Array): string => {
    const hex = toHex(bytes)
    const at = hex.indexOf("a356736e")
    expect(at).toBeGreaterThan(0)
    return hex.slice(at + 8, at + 8 + 14)
  }

  for (const length of [null, 0, 1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`alive and push/pull with a ${length === null ? "missing" : `${length}-byte`} Vsn`, () => {
      const given = length === null ? null : Uint8Array.from({ length }, (_, i) => i + 1)
      const expected = given !== null && given.length >= 6 ? `a6${toHex(given.subarray(0, 6))}` : "a6000000000000"
      const m: Alive = { ...alive("n1", 1, null), vsn: given }
      const bytes = codec.encodeMessage(m)
      expect(vsnOnWire(bytes)).toBe(expected)
      const decoded = codec.decodePacket(bytes).messages[0] as Alive
      expect(decoded.vsn?.length).toBe(6)
      const stream = codec.encodeStream(
        { _tag: "PushPull", join: false, nodes: [{ ...nodeState(1), vsn: given }], userState: new Uint8Array(0) },
        { initiator: true }
      )
      expect(vsnOnWire(stream)).toBe(expected)
    })
  }
})

describe("MemberlistCodec.layer", () => {
  it("provides the Codec service", () => {
    const name = Effect.runSync(Codec.use((c) => Effect.succeed(c.name)).pipe(Effect.provide(MemberlistCodec.layer())))
    expect(name).toBe("memberlist")
  })

  it("fails with CodecConfigError for a label longer than 255 bytes", () => {
    const error = Effect.runSync(
      Effect.flip(Codec.use((c) => Effect.succeed(c.name)).pipe(Effect.provide(MemberlistCodec.layer({ label: "x".repeat(256) }))))
    )
    expect(error).toBeInstanceOf(CodecConfigError)
    expect(() => makeMemberlistCodec({ label: "é".repeat(128) })).toThrow(CodecConfigError)
    expect(makeMemberlistCodec({ label: "x".repeat(255) }).packetOverhead).toBe(5 + 257)
  })
})
