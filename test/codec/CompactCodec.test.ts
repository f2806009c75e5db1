import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Codec, DecodeError, type DecodeReason, type StreamRead } from "../../src/codec/Codec.ts"
import { CompactCodec, makeCompactCodec } from "../../src/codec/CompactCodec.ts"
import { crc32 } from "../../src/security/Crc32.ts"
import {
  ack,
  type Alive,
  dead,
  errResp,
  type IndirectPing,
  MessageType,
  nack,
  type PacketMessage,
  ping,
  type PushNodeState,
  type PushPull,
  type StreamMessage,
  suspect,
  user,
  WireState
} from "../../src/protocol/Messages.ts"
import { Directory } from "../../src/protocol/Directory.ts"
import * as Digest from "../../src/protocol/StateDigest.ts"
import { MemberTable } from "../../src/protocol/MemberTable.ts"

const codec = makeCompactCodec()
const streamOpts = { initiator: true }

// ---------------------------------------------------------------------------
// helpers

const U32_MAX = 0xffffffff
const ipv4 = new Uint8Array([10, 0, 0, 1])
const ipv6 = new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef])
const vsn = new Uint8Array([1, 5, 2, 2, 5, 4])
const empty = new Uint8Array(0)
const unicode = "nœud-東京-🚀-Ωμέγα"

/** LEB128 of a uint32, for hand-built frames. */
const vi = (n: number): Array<number> => {
  const out: Array<number> = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return out
}

/** A string field as the format writes it. */
const str = (s: string): Array<number> => {
  const b = new TextEncoder().encode(s)
  return [...vi(b.length), ...b]
}

const raw = (...parts: Array<number | ReadonlyArray<number> | Uint8Array>): Uint8Array => {
  const out: Array<number> = []
  for (const p of parts) {
    if (typeof p === "number") out.push(p)
    else out.push(...p)
  }
  return new Uint8Array(out)
}

/** A stream frame around `body`. */
const frame = (body: Uint8Array): Uint8Array => raw(vi(body.length), body)

const roundTripPacket = (m: PacketMessage): PacketMessage => {
  const { errors, messages } = codec.decodePacket(codec.encodePacket([codec.encodeMessage(m)], { checksum: false }))
  expect(errors).toEqual([])
  expect(messages).toHaveLength(1)
  return messages[0]!
}

const roundTripStream = (m: StreamMessage): StreamMessage => {
  const bytes = codec.encodeStream(m, streamOpts)
  const read = codec.decodeStream(bytes, streamOpts)
  if (read._tag !== "Complete") throw new Error(`expected Complete, got ${JSON.stringify(read)}`)
  expect(read.consumed).toBe(bytes.length)
  return read.message
}

/** The single error of a packet that decodes to nothing. */
const packetError = (bytes: Uint8Array): DecodeError => {
  const { errors, messages } = codec.decodePacket(bytes)
  expect(messages).toEqual([])
  expect(errors).toHaveLength(1)
  return errors[0]!
}

const streamFailure = (bytes: Uint8Array): DecodeError => {
  const read = codec.decodeStream(bytes, streamOpts)
  if (read._tag !== "Failed") throw new Error(`expected Failed, got ${read._tag}`)
  return read.error
}

const alive = (over: Partial<Alive> = {}): Alive => ({
  _tag: "Alive",
  incarnation: 1,
  node: "node-00001",
  addr: ipv4,
  port: 7946,
  meta: null,
  vsn,
  ...over
})

const indirect = (over: Partial<IndirectPing> = {}): IndirectPing => ({
  _tag: "IndirectPing",
  seqNo: 42,
  target: ipv4,
  port: 7946,
  node: "target",
  nack: true,
  sourceAddr: ipv4,
  sourceNode: "source",
  sourcePort: 7947,
  ...over
})

const pushNode = (i: number, over: Partial<PushNodeState> = {}): PushNodeState => ({
  name: `member-${i}`,
  addr: i % 2 === 0 ? ipv4 : ipv6,
  port: 7946 + (i % 100),
  meta: i % 3 === 0 ? null : i % 3 === 1 ? empty : new Uint8Array([i & 0xff, 1, 2]),
  incarnation: i * 7919,
  state: (i % 4) as PushNodeState["state"],
  vsn: i % 5 === 0 ? null : vsn,
  ...over
})

const pushPull = (nodes: number, over: Partial<PushPull> = {}): PushPull => ({
  _tag: "PushPull",
  join: true,
  nodes: Array.from({ length: nodes }, (_, i) => pushNode(i)),
  userState: new Uint8Array([9, 8, 7]),
  ...over
})

/** Every packet message kind, with edge values. */
const packetSamples: ReadonlyArray<PacketMessage> = [
  ping(0, "", null, "", 0),
  ping(U32_MAX, unicode, ipv6, "src", 65535),
  ping(1, "a", empty, unicode, 1),
  indirect(),
  indirect({ seqNo: U32_MAX, target: ipv6, port: 0, nack: false, sourceAddr: null, node: "", sourceNode: "" }),
  indirect({ target: empty, sourceAddr: empty, port: 65535, sourcePort: 65535 }),
  ack(0, null),
  ack(U32_MAX, empty),
  ack(7, new Uint8Array(300).map((_, i) => i & 0xff)),
  nack(0),
  nack(U32_MAX),
  suspect(0, "", ""),
  suspect(U32_MAX, unicode, "from-\uFEFFbom"),
  alive(),
  alive({ incarnation: 0, node: "", addr: empty, port: 0, meta: empty, vsn: null }),
  alive({ incarnation: U32_MAX, node: unicode, addr: ipv6, port: 65535, meta: new Uint8Array(512).fill(0xab) }),
  dead(0, "x", "x"),
  dead(U32_MAX, unicode, "\uFEFF"),
  user(empty),
  user(new Uint8Array([0, 255, 7]))
]

const streamSamples: ReadonlyArray<StreamMessage> = [
  pushPull(0, { join: false, userState: empty }),
  pushPull(1),
  pushPull(37),
  ping(U32_MAX, unicode, ipv6, "src", 65535),
  ack(3, null),
  ack(3, empty),
  user(empty),
  user(new Uint8Array([1, 2, 3])),
  errResp(""),
  errResp(`push/pull refused: ${unicode}`)
]

const allReasons: ReadonlySet<DecodeReason> = new Set<DecodeReason>([
  "Empty",
  "Truncated",
  "UnknownType",
  "Malformed",
  "TooLarge",
  "Checksum",
  "Compression",
  "Decrypt",
  "Label",
  "Unencrypted"
])

// ---------------------------------------------------------------------------

describe("CompactCodec: shape", () => {
  it("reports its name and exact overheads", () => {
    expect(codec.name).toBe("compact")
    expect(codec.compoundHeaderOverhead).toBe(2)
    expect(codec.compoundPartOverhead).toBe(2)
    expect(codec.packetOverhead).toBe(0)
  })

  it("is provided by CompactCodec.layer", () => {
    const decoded = Effect.gen(function*() {
      const c = yield* Codec
      return c.decodePacket(c.encodeMessage(nack(5))).messages
    }).pipe(Effect.provide(CompactCodec.layer), Effect.runSync)
    expect(decoded).toEqual([nack(5)])
  })

  it("CRC32 matches the IEEE check value", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926)
    expect(crc32(empty)).toBe(0)
  })
})

describe("CompactCodec: packet messages round trip", () => {
  for (const [i, m] of packetSamples.entries()) {
    it(`${m._tag} #${i}`, () => {
      const bytes = codec.encodeMessage(m)
      expect(bytes[0]).toBe(
        {
          Ping: MessageType.ping,
          IndirectPing: MessageType.indirectPing,
          Ack: MessageType.ack,
          Nack: MessageType.nack,
          Suspect: MessageType.suspect,
          Alive: MessageType.alive,
          Dead: MessageType.dead,
          User: MessageType.user
        }[m._tag]
      )
      expect(roundTripPacket(m)).toEqual(m)
    })
  }

  it("keeps null and empty byte fields apart", () => {
    const a = roundTripPacket(ack(1, null)) as ReturnType<typeof ack>
    const b = roundTripPacket(ack(1, empty)) as ReturnType<typeof ack>
    expect(a.payload).toBeNull()
    expect(b.payload).toBeInstanceOf(Uint8Array)
    expect(b.payload!.length).toBe(0)
    const c = roundTripPacket(alive({ meta: empty, vsn: null })) as Alive
    expect(c.meta).toEqual(empty)
    expect(c.vsn).toBeNull()
  })

  it("a datagram's short membership fields are shared interned copies, long ones plain views of it; payloads, and every field of a stream, are copies", () => {
    const long = new Uint8Array(100).fill(9)
    const bytes = Buffer.from(codec.encodePacket([
      codec.encodeMessage(alive({ meta: new Uint8Array([1, 2, 3]) })),
      codec.encodeMessage(alive({ meta: long })),
      codec.encodeMessage(user(new Uint8Array([4, 5])))
    ], { checksum: false }))
    const [a, b, u] = codec.decodePacket(bytes).messages as [Alive, Alive, ReturnType<typeof user>]
    expect(a.meta).toEqual(new Uint8Array([1, 2, 3]))
    expect(a.addr).toEqual(ipv4)
    // plain arrays, not Node Buffers; the short ones do not pin the datagram and are shared
    expect(a.meta!.constructor).toBe(Uint8Array)
    expect(a.meta!.buffer).not.toBe(bytes.buffer)
    expect(b.meta!.constructor).toBe(Uint8Array)
    expect(b.meta!.buffer).toBe(bytes.buffer)
    expect(b.meta).toEqual(long)
    const again = codec.decodePacket(bytes).messages[0] as Alive
    expect(again.meta).toBe(a.meta)
    expect(again.addr).toBe(a.addr)
    expect(again.node).toBe(a.node)
    bytes.fill(0)
    expect(a.meta).toEqual(new Uint8Array([1, 2, 3]))
    expect(u.payload).toEqual(new Uint8Array([4, 5]))
    const stream = Buffer.from(codec.encodeStream(pushPull(1, { nodes: [pushNode(0, { meta: new Uint8Array([7]) })] }), { initiator: true }))
    const read = codec.decodeStream(stream, { initiator: true })
    stream.fill(0)
    expect(read._tag === "Complete" && read.message._tag === "PushPull" && Array.from(read.message.nodes[0]!.meta!)).toEqual([7])
  })

  it("encodes a 10-character alive without meta in at most 40 bytes", () => {
    for (const incarnation of [1, U32_MAX]) {
      const bytes = codec.encodeMessage(alive({ incarnation, node: "node-00001" }))
      expect(bytes.length).toBeLessThanOrEqual(40)
    }
    expect(codec.encodeMessage(alive()).length).toBe(1 + 1 + 11 + 5 + 2 + 1 + 7)
  })

  it("datagrams framed one after another never overlap (they share slabs)", () => {
    const framed = Array.from({ length: 3000 }, (_, i) =>
      codec.encodePacket([codec.encodeMessage(suspect(i, `n${i}`, "x")), codec.encodeMessage(nack(i))], { checksum: i % 2 === 0 }))
    const copies = framed.map((b) => b.slice())
    for (const more of Array.from({ length: 100 }, (_, i) => codec.encodePacket([codec.encodeMessage(nack(i)), codec.encodeMessage(nack(i + 1))], { checksum: false }))) {
      expect(more.length).toBeGreaterThan(0)
    }
    framed.forEach((b, i) => expect(b).toEqual(copies[i]))
    const decoded = codec.decodePacket(framed[2999]!)
    expect(decoded.errors).toEqual([])
    expect(decoded.messages.map((m) => m._tag)).toEqual(["Suspect", "Nack"])
  })

  it("does not share the scratch buffer between results", () => {
    const first = codec.encodeMessage(suspect(1, "aaaa", "bbbb"))
    const copy = first.slice()
    codec.encodeMessage(suspect(2, "cccc", "dddd"))
    expect(first).toEqual(copy)
  })
})

describe("CompactCodec: encoder refuses what no decoder accepts", () => {
  const cases: ReadonlyArray<[string, () => unknown]> = [
    ["port above 65535", () => codec.encodeMessage(alive({ port: 65536 }))],
    ["negative port", () => codec.encodeMessage(ping(1, "", null, "", -1))],
    ["negative seqNo", () => codec.encodeMessage(nack(-1))],
    ["seqNo above uint32", () => codec.encodeMessage(nack(2 ** 32))],
    ["fractional incarnation", () => codec.encodeMessage(suspect(1.5, "a", "b"))],
    ["NaN seqNo", () => codec.encodeMessage(ack(Number.NaN, null))],
    ["vsn of 5 bytes", () => codec.encodeMessage(alive({ vsn: new Uint8Array(5) }))],
    ["string over 64 KiB", () => codec.encodeMessage(suspect(1, "x".repeat(65537), ""))],
    ["push node state 4", () => codec.encodeStream(pushPull(1, { nodes: [pushNode(0, { state: 4 as 0 })] }), streamOpts)],
    ["256 compound parts", () => codec.encodePacket(Array.from({ length: 256 }, () => new Uint8Array([11, 0])), { checksum: false })],
    ["compound part over 65535 bytes", () => codec.encodePacket([new Uint8Array(65536), new Uint8Array(2)], { checksum: false })]
  ]
  for (const [name, f] of cases) it(name, () => expect(f).toThrow(RangeError))

  it("still works after a refused encode", () => {
    expect(() => codec.encodeMessage(alive({ port: 70000 }))).toThrow(RangeError)
    expect(roundTripPacket(alive())).toEqual(alive())
  })

  it("accepts a 64 KiB string exactly", () => {
    const long = "é".repeat(32 * 1024)
    expect(roundTripPacket(suspect(1, long, ""))).toEqual(suspect(1, long, ""))
  })
})

describe("CompactCodec: compound packets", () => {
  const parts = packetSamples.map((m) => codec.encodeMessage(m))

  it("sends one part bare, as the same array", () => {
    const p = parts[0]!
    expect(codec.encodePacket([p], { checksum: false })).toBe(p)
  })

  it("costs exactly the reported overheads", () => {
    for (const n of [2, 3, 17, 255]) {
      const ps = Array.from({ length: n }, (_, i) => parts[i % parts.length]!)
      const packet = codec.encodePacket(ps, { checksum: false })
      const sum = ps.reduce((s, p) => s + p.length, 0)
      expect(packet.length).toBe(codec.compoundHeaderOverhead + n * codec.compoundPartOverhead + sum)
    }
    // Large parts cost no more than small ones.
    const big = [new Uint8Array(40_000).fill(8), new Uint8Array(65_535).fill(8)]
    big[0]![0] = MessageType.user
    expect(codec.encodePacket(big, { checksum: false }).length).toBe(2 + 2 * 2 + 40_000 + 65_535)
  })

  it("round trips every kind in order", () => {
    const { errors, messages } = codec.decodePacket(codec.encodePacket(parts, { checksum: false }))
    expect(errors).toEqual([])
    expect(messages).toEqual(packetSamples)
  })

  it("round trips 255 parts", () => {
    const ms = Array.from({ length: 255 }, (_, i) => alive({ node: `node-${i}`, incarnation: i * 1000 }))
    const { errors, messages } = codec.decodePacket(
      codec.encodePacket(ms.map((m) => codec.encodeMessage(m)), { checksum: true })
    )
    expect(errors).toEqual([])
    expect(messages).toEqual(ms)
  })

  it("decodes an empty compound to nothing", () => {
    expect(codec.decodePacket(codec.encodePacket([], { checksum: false }))).toEqual({ messages: [], errors: [] })
  })

  it("keeps the good parts around a bad one", () => {
    const bad = raw(99, 1, 2, 3)
    const { errors, messages } = codec.decodePacket(
      codec.encodePacket([parts[0]!, bad, parts[1]!, raw(MessageType.nack, 0x80)], { checksum: false })
    )
    expect(messages).toEqual([packetSamples[0], packetSamples[1]])
    expect(errors.map((e) => e.reason)).toEqual(["UnknownType", "Truncated"])
  })

  it("reports trailing bytes inside a part and after the compound", () => {
    const packet = codec.encodePacket([raw(MessageType.nack, 1, 0xee), parts[0]!], { checksum: false })
    const { errors, messages } = codec.decodePacket(raw(packet, 0xff, 0xff))
    expect(messages).toEqual([packetSamples[0]])
    expect(errors.map((e) => e.reason)).toEqual(["Malformed", "Malformed"])
  })

  it("drops the part that runs past the end and all after it", () => {
    const packet = codec.encodePacket([parts[0]!, parts[1]!, parts[2]!, parts[3]!], { checksum: false })
    const header = 2 + 4 * 2
    const cut = header + parts[0]!.length + 1
    const { errors, messages } = codec.decodePacket(packet.subarray(0, cut))
    expect(messages).toEqual([packetSamples[0]])
    expect(errors.map((e) => e.reason)).toEqual(["Truncated", "Truncated", "Truncated"])
  })

  it("drops the whole packet when the header is cut", () => {
    expect(packetError(raw(MessageType.compound)).reason).toBe("Truncated")
    expect(packetError(raw(MessageType.compound, 3, 0, 2, 0)).reason).toBe("Truncated")
  })

  it("rejects empty parts and nested compounds or checksums", () => {
    const nested = codec.encodePacket([parts[0]!, parts[1]!], { checksum: false })
    const crc = codec.encodePacket([parts[0]!], { checksum: true })
    const { errors, messages } = codec.decodePacket(
      codec.encodePacket([empty, nested, crc, parts[9]!], { checksum: false })
    )
    expect(messages).toEqual([packetSamples[9]])
    expect(errors.map((e) => e.reason)).toEqual(["Empty", "UnknownType", "UnknownType"])
  })
})

describe("CompactCodec: checksum wrapper", () => {
  const single = codec.encodeMessage(alive())
  const wrapped = codec.encodePacket([single], { checksum: true })

  it("adds type 12 and a CRC32 of the rest", () => {
    expect(wrapped.length).toBe(single.length + 5)
    expect(wrapped[0]).toBe(MessageType.hasCrc)
    const crc = ((wrapped[1]! << 24) | (wrapped[2]! << 16) | (wrapped[3]! << 8) | wrapped[4]!) >>> 0
    expect(crc).toBe(crc32(single))
    expect(codec.decodePacket(wrapped)).toEqual({ messages: [alive()], errors: [] })
  })

  it("detects any corrupted byte after the type", () => {
    for (let i = 1; i < wrapped.length; i++) {
      const copy = wrapped.slice()
      copy[i]! ^= 0x10
      expect(packetError(copy).reason).toBe("Checksum")
    }
  })

  it("reports a cut header as truncated and an empty body as empty", () => {
    expect(packetError(wrapped.subarray(0, 4)).reason).toBe("Truncated")
    const emptyBody = raw(MessageType.hasCrc, 0, 0, 0, 0)
    expect(packetError(emptyBody).reason).toBe("Empty")
  })

  it("does not accept a checksum inside a checksum", () => {
    const twice = codec.encodePacket([wrapped], { checksum: true })
    expect(packetError(twice).reason).toBe("UnknownType")
  })
})

describe("CompactCodec: in memory (receivers read the messages senders encoded)", () => {
  const mem = makeCompactCodec({ inMemory: true })
  const parts = packetSamples.map((m) => mem.encodeMessage(m))

  it("writes the same bytes as the plain codec, and its receivers get what decoding them gives", () => {
    parts.forEach((p, i) => expect(p.slice()).toEqual(codec.encodeMessage(packetSamples[i]!)))
    for (const checksum of [false, true]) {
      const packet = mem.encodePacket(parts, { checksum })
      const wire = codec.encodePacket(packetSamples.map((m) => codec.encodeMessage(m)), { checksum })
      // a blank of the datagram's length until copied: a copy, whole or in part, writes the bytes
      expect(packet.length).toBe(wire.length)
      expect(packet.every((b) => b === 0)).toBe(true)
      expect(packet.slice()).toEqual(wire)
      expect(packet.slice(3, 40)).toEqual(wire.slice(3, 40))
      expect(packet.subarray(5)).toEqual(wire.subarray(5))
      const read = mem.decodePacket(packet)
      expect(read).toEqual(codec.decodePacket(packet.slice()))
      // the messages themselves, not copies: nothing was decoded
      read.messages.forEach((m, i) => expect(m).toBe(packetSamples[i]))
    }
    // one part sent bare is its own packet
    const bare = mem.encodePacket([parts[3]!], { checksum: false })
    expect(bare).toBe(parts[3])
    expect(mem.decodePacket(bare).messages[0]).toBe(packetSamples[3])
  })

  it("decodes arrays it did not build from their bytes: a corrupted copy fails as it should", () => {
    const packet = mem.encodePacket(parts, { checksum: true })
    const copy = packet.slice()
    copy[9]! ^= 0x10
    expect(mem.decodePacket(copy)).toEqual({ messages: [], errors: [expect.objectContaining({ reason: "Checksum" })] })
    const plain = codec.encodeMessage(packetSamples[2]!)
    const decoded = mem.decodePacket(plain).messages
    expect(decoded).toEqual([packetSamples[2]])
    expect(decoded[0]).not.toBe(packetSamples[2])
  })

  it("decodes a part from elsewhere in a packet it built, with its errors, and keeps the others", () => {
    const bad = raw(0xee, 1, 2)
    const foreign = codec.encodeMessage(packetSamples[4]!)
    const packet = mem.encodePacket([parts[1]!, bad, foreign], { checksum: false })
    const { errors, messages } = mem.decodePacket(packet)
    expect(messages).toEqual([packetSamples[1], packetSamples[4]])
    expect(messages[0]).toBe(packetSamples[1])
    expect(errors.map((e) => e.reason)).toEqual(["UnknownType"])
  })

  it("writes stream frames as the plain codec does; a whole frame it built is read from what it carries", () => {
    for (const m of streamSamples) {
      const frame = mem.encodeStream(m, streamOpts)
      expect(frame.slice()).toEqual(codec.encodeStream(m, streamOpts))
      expect(mem.decodeStream(frame, streamOpts)).toEqual({ _tag: "Complete", message: m, consumed: frame.length })
      expect((mem.decodeStream(frame, streamOpts) as { message: StreamMessage }).message).toBe(m)
    }
  })

  it("copies the entries of digested states from what it kept, byte for byte what the plain codec writes", () => {
    const d = new Directory({ shareEncoded: true })
    const table = new MemberTable(d)
    const member = (name: string, i: number, incarnation: number, meta: Uint8Array | null): Alive => ({
      _tag: "Alive",
      incarnation,
      node: name,
      addr: i === 1 ? ipv6 : ipv4,
      port: 7946 + i,
      meta,
      vsn
    })
    ;["a", unicode, "c"].forEach((name, i) => {
      const m = member(name, i, 7 + i, i === 2 ? null : Uint8Array.of(i, 1, 2))
      table.add(m, m.incarnation, WireState.alive, 0)
    })
    const stateOf = (states: ReadonlyArray<WireState>) => {
      const digest = new Uint32Array(table.size * Digest.WORDS)
      for (let slot = 0; slot < table.size; slot++) {
        const at = slot * Digest.WORDS
        digest[at + Digest.NAME] = table.nameId(slot)
        digest[at + Digest.ANNOUNCEMENT] = table.announcementId(slot)
        digest[at + Digest.INCARNATION] = table.incarnation(slot)
        digest[at + Digest.STATE] = states[slot]!
      }
      return d.pushPull(true, digest)
    }
    const plainBytes = (state: PushPull) =>
      codec.encodeStream({ _tag: "PushPull", join: state.join, nodes: state.nodes.map((n) => ({ ...n })), userState: state.userState }, streamOpts)
    const first = stateOf([WireState.alive, WireState.suspect, WireState.alive])
    expect(Digest.digestOf(first)).toBeDefined()
    // written, then copied from what was kept, with each state's own incarnations and states
    expect(mem.encodeStream(first, streamOpts).slice()).toEqual(plainBytes(first))
    expect(mem.encodeStream(first, streamOpts).slice()).toEqual(plainBytes(first))
    const second = stateOf([WireState.dead, WireState.alive, WireState.left])
    expect(mem.encodeStream(second, streamOpts).slice()).toEqual(plainBytes(second))
    // a member's announcement changes, and a new member's announcement takes the id it had
    const old = table.announcementId(0)
    table.announce(0, member("a", 0, 9, Uint8Array.of(42)))
    table.add(member("d", 3, 1, null), 1, WireState.alive, 0)
    expect(table.announcementId(3)).toBe(old)
    const third = stateOf([WireState.alive, WireState.alive, WireState.alive, WireState.alive])
    expect(third.nodes[0]!.meta).toEqual(Uint8Array.of(42))
    expect(mem.encodeStream(third, streamOpts).slice()).toEqual(plainBytes(third))
    // the older state still encodes what it listed
    expect(mem.encodeStream(first, streamOpts).slice()).toEqual(plainBytes(first))
    // another directory's ids are not these
    const other = new Directory({ shareEncoded: true })
    const otherTable = new MemberTable(other)
    otherTable.add(member("z", 0, 3, null), 3, WireState.alive, 0)
    const digest = new Uint32Array(Digest.WORDS)
    digest[Digest.NAME] = otherTable.nameId(0)
    digest[Digest.ANNOUNCEMENT] = otherTable.announcementId(0)
    digest[Digest.INCARNATION] = 3
    const elsewhere = other.pushPull(false, digest)
    expect(mem.encodeStream(elsewhere, streamOpts).slice()).toEqual(plainBytes(elsewhere))
    expect(mem.encodeStream(first, streamOpts).slice()).toEqual(plainBytes(first))
    // the plain codec writes every entry afresh, and decoding gives the entries back
    expect(codec.encodeStream(first, streamOpts)).toEqual(plainBytes(first))
    expect((codec.decodeStream(plainBytes(second), streamOpts) as { message: PushPull }).message.nodes).toEqual(
      second.nodes.map((n) => ({ ...n }))
    )
  })

  it("decodes stream bytes it did not build: a copy, a frame joined to the next one, a corrupted copy", () => {
    const m = pushPull(3)
    const frame = mem.encodeStream(m, streamOpts)
    const copy = mem.decodeStream(frame.slice(), streamOpts) as { message: StreamMessage }
    expect(copy.message).toEqual(m)
    expect(copy.message).not.toBe(m)
    const next = mem.encodeStream(errResp("next"), streamOpts)
    const joined = mem.decodeStream(raw(frame, next), streamOpts)
    expect(joined).toEqual({ _tag: "Complete", message: m, consumed: frame.length })
    const corrupted = frame.slice()
    corrupted[1] = 0xee
    expect(mem.decodeStream(corrupted, streamOpts)._tag).toBe("Failed")
  })
})

describe("CompactCodec: packet decode errors", () => {
  const cases: ReadonlyArray<[string, Uint8Array, DecodeReason]> = [
    ["empty packet", empty, "Empty"],
    ["unknown type", raw(200, 1, 2), "UnknownType"],
    ["push/pull in a packet", raw(MessageType.pushPull, 0, 0, 1), "UnknownType"],
    ["err in a packet", raw(MessageType.err, ...str("x")), "UnknownType"],
    ["label type", raw(MessageType.hasLabel, 1, 65), "UnknownType"],
    ["type byte only", raw(MessageType.alive), "Truncated"],
    ["varint cut", raw(MessageType.nack, 0x80, 0x80), "Truncated"],
    ["varint above uint32", raw(MessageType.nack, 0xff, 0xff, 0xff, 0xff, 0x10), "Malformed"],
    ["varint of six bytes", raw(MessageType.nack, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), "Malformed"],
    ["string past the end", raw(MessageType.suspect, 1, 10, 65, 65), "Truncated"],
    ["string over 64 KiB", raw(MessageType.suspect, 1, vi(65537)), "TooLarge"],
    ["string of 4 GiB", raw(MessageType.suspect, 1, vi(U32_MAX)), "TooLarge"],
    ["invalid UTF-8", raw(MessageType.suspect, 1, 2, 0xc3, 0x28, 0), "Malformed"],
    ["byte field past the end", raw(MessageType.ack, 1, vi(1001), 1, 2, 3), "Truncated"],
    ["byte field of 4 GiB", raw(MessageType.ack, 1, vi(U32_MAX)), "Truncated"],
    ["port 65536", raw(MessageType.ping, 1, 0, 0, 0, vi(65536)), "Malformed"],
    ["boolean byte 2", raw(MessageType.indirectPing, 1, 5, ipv4, 1, 0, 2, 0, 0, 1), "Malformed"],
    ["null indirect target", raw(MessageType.indirectPing, 1, 0, 1, 0, 1, 0, 0, 1), "Malformed"],
    ["null alive addr", raw(MessageType.alive, 1, ...str("n"), 0, 1, 0, 0), "Malformed"],
    ["null user payload", raw(MessageType.user, 0), "Malformed"],
    ["vsn of 5 bytes", raw(MessageType.alive, 1, ...str("n"), 5, ipv4, 1, 0, 6, 1, 2, 3, 4, 5), "Malformed"],
    ["vsn of 7 bytes", raw(MessageType.alive, 1, ...str("n"), 5, ipv4, 1, 0, 8, 1, 2, 3, 4, 5, 6, 7), "Malformed"],
    ["trailing bytes", raw(MessageType.nack, 1, 0), "Malformed"]
  ]
  for (const [name, bytes, reason] of cases) {
    it(name, () => {
      const e = packetError(bytes)
      expect(e).toBeInstanceOf(DecodeError)
      expect(e.reason).toBe(reason)
      expect(e.message.length).toBeGreaterThan(0)
    })
  }

  it("accepts the hand-built forms of the same messages when valid", () => {
    expect(codec.decodePacket(raw(MessageType.nack, 0xff, 0xff, 0xff, 0xff, 0x0f)).messages).toEqual([nack(U32_MAX)])
    // Non-minimal varints are read by value.
    expect(codec.decodePacket(raw(MessageType.nack, 0x85, 0x00)).messages).toEqual([nack(5)])
  })
})

describe("CompactCodec: streams", () => {
  for (const [i, m] of streamSamples.entries()) {
    it(`${m._tag} #${i} round trips`, () => {
      expect(roundTripStream(m)).toEqual(m)
    })
  }

  it("starts with the body length as a varint", () => {
    const bytes = codec.encodeStream(errResp("hi"), streamOpts)
    expect(Array.from(bytes)).toEqual([4, MessageType.err, 2, 104, 105])
  })

  it("ignores the initiator option", () => {
    const m = pushPull(3)
    expect(codec.encodeStream(m, { initiator: true })).toEqual(codec.encodeStream(m, { initiator: false }))
    const read = codec.decodeStream(codec.encodeStream(m, { initiator: true }), { initiator: false })
    expect(read._tag).toBe("Complete")
  })

  for (const [i, m] of streamSamples.entries()) {
    it(`${m._tag} #${i} fed byte by byte`, () => {
      const bytes = codec.encodeStream(m, streamOpts)
      const withTrailing = raw(bytes, codec.encodeStream(errResp("next"), streamOpts), 0xff)
      for (let k = 0; k < bytes.length; k++) {
        expect(codec.decodeStream(withTrailing.subarray(0, k), streamOpts)).toEqual({ _tag: "NeedMore" })
      }
      for (const buffer of [bytes, withTrailing.subarray(0, bytes.length + 1), withTrailing]) {
        const read = codec.decodeStream(buffer, streamOpts)
        expect(read).toEqual({ _tag: "Complete", message: m, consumed: bytes.length })
      }
    })
  }

  it("reads frames back to back by consumed", () => {
    const frames = streamSamples.map((m) => codec.encodeStream(m, streamOpts))
    let buffer = raw(...frames)
    const out: Array<StreamMessage> = []
    while (buffer.length > 0) {
      const read = codec.decodeStream(buffer, streamOpts)
      if (read._tag !== "Complete") throw new Error(read._tag)
      out.push(read.message)
      buffer = buffer.subarray(read.consumed)
    }
    expect(out).toEqual(streamSamples)
  })

  it("handles a large push/pull (multi-byte prefix, scratch growth) and small messages after it", () => {
    const big = pushPull(5000, { userState: new Uint8Array(100_000).fill(3) })
    const bytes = codec.encodeStream(big, streamOpts)
    expect(bytes.length).toBeGreaterThan(0x4000 * 10)
    expect(roundTripStream(big)).toEqual(big)
    expect(roundTripStream(errResp("after"))).toEqual(errResp("after"))
    expect(roundTripPacket(alive())).toEqual(alive())
  })

  it("accepts a Node Buffer", () => {
    const read = codec.decodeStream(Buffer.from(codec.encodeStream(pushPull(2), streamOpts)), streamOpts)
    expect(read._tag === "Complete" && read.message).toEqual(pushPull(2))
  })
})

describe("CompactCodec: stream decode errors", () => {
  const body = (...parts: Array<number | ReadonlyArray<number> | Uint8Array>) => frame(raw(...parts))
  const node = (state: number, vsnField: ReadonlyArray<number> = [0]) =>
    raw(...str("n"), 5, ipv4, 1, 0, 1, state, vsnField)

  it("fails on an oversized length before the body arrives", () => {
    expect(streamFailure(raw(vi(64 * 1024 * 1024 + 1))).reason).toBe("TooLarge")
    expect(streamFailure(raw(0xff, 0xff, 0xff, 0xff, 0x0f)).reason).toBe("TooLarge")
  })

  it("fails on an unknown type before the body arrives", () => {
    expect(streamFailure(raw(vi(1000), 99)).reason).toBe("UnknownType")
    expect(streamFailure(raw(vi(1000), MessageType.alive)).reason).toBe("UnknownType")
    expect(streamFailure(raw(vi(1000), MessageType.compound)).reason).toBe("UnknownType")
  })

  it("waits for the rest of the prefix and body", () => {
    expect(codec.decodeStream(empty, streamOpts)._tag).toBe("NeedMore")
    expect(codec.decodeStream(raw(0x80, 0x80), streamOpts)._tag).toBe("NeedMore")
    expect(codec.decodeStream(raw(vi(1000)), streamOpts)._tag).toBe("NeedMore")
    expect(codec.decodeStream(raw(vi(1000), MessageType.pushPull, 0), streamOpts)._tag).toBe("NeedMore")
  })

  const cases: ReadonlyArray<[string, Uint8Array, DecodeReason]> = [
    ["zero-length frame", raw(0), "Empty"],
    ["prefix above uint32", raw(0xff, 0xff, 0xff, 0xff, 0x10), "Malformed"],
    ["nack on a stream", body(MessageType.nack, 1), "UnknownType"],
    ["trailing bytes in the frame", body(MessageType.err, ...str("x"), 0), "Malformed"],
    ["field past the frame end", body(MessageType.err, 5, 65), "Truncated"],
    ["join byte 2", body(MessageType.pushPull, 2, 0, 1), "Malformed"],
    ["more than 1,048,576 nodes", body(MessageType.pushPull, 1, vi(1_048_577), 1), "TooLarge"],
    ["node count beyond the bytes", body(MessageType.pushPull, 1, vi(1000), node(0), 1), "Truncated"],
    ["node state 4", body(MessageType.pushPull, 1, 1, node(4), 1), "Malformed"],
    ["node vsn of 2 bytes", body(MessageType.pushPull, 1, 1, node(0, [3, 1, 2]), 1), "Malformed"],
    ["null user state", body(MessageType.pushPull, 1, 1, node(0), 0), "Malformed"],
    ["null node addr", body(MessageType.pushPull, 0, 1, ...str("n"), 0, 1, 0, 1, 0, 0, 1), "Malformed"],
    ["node port 65536", body(MessageType.pushPull, 0, 1, ...str("n"), 5, ipv4, vi(65536), 0, 1, 0, 0, 1), "Malformed"],
    ["err string over 64 KiB", body(MessageType.err, vi(70_000)), "TooLarge"]
  ]
  for (const [name, bytes, reason] of cases) {
    it(name, () => expect(streamFailure(bytes).reason).toBe(reason))
  }

  it("decodes the valid hand-built node", () => {
    const read = codec.decodeStream(body(MessageType.pushPull, 1, 1, node(3), 1), streamOpts)
    expect(read._tag === "Complete" && read.message).toEqual({
      _tag: "PushPull",
      join: true,
      nodes: [{ name: "n", addr: ipv4, port: 1, meta: null, incarnation: 1, state: 3, vsn: null }],
      userState: empty
    })
  })
})

// ---------------------------------------------------------------------------
// Seeded fuzz: the decoders must never throw, and must only ever return
// messages the encoder accepts back unchanged, or DecodeErrors with a known reason.

/** mulberry32: small, fast, deterministic. */
const prng = (seed: number) => {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number): number => Math.floor(next() * n)
  return { next, int }
}

type Rng = ReturnType<typeof prng>

const randomBytes = (rng: Rng, n: number): Uint8Array => {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = rng.int(256)
  // Bias the first byte towards real types so that the fuzz gets past the dispatch.
  if (n > 0 && rng.next() < 0.7) out[0] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13][rng.int(12)]!
  return out
}

const mutate = (rng: Rng, input: Uint8Array): Uint8Array => {
  let b = Array.from(input)
  const rounds = 1 + rng.int(4)
  for (let k = 0; k < rounds; k++) {
    const at = b.length === 0 ? 0 : rng.int(b.length)
    switch (rng.int(7)) {
      case 0:
        if (b.length > 0) b[at] = b[at]! ^ (1 << rng.int(8))
        break
      case 1:
        if (b.length > 0) b[at] = rng.int(256)
        break
      case 2:
        b = b.slice(0, at)
        break
      case 3:
        b.splice(at, 0, rng.int(256))
        break
      case 4:
        b.splice(at, 1 + rng.int(3))
        break
      case 5:
        if (b.length > 0) b[at] = [0x00, 0x7f, 0x80, 0xff][rng.int(4)]!
        break
      case 6:
        b.push(...b.slice(at, at + 1 + rng.int(8)))
        break
    }
  }
  return new Uint8Array(b)
}

interface Tally {
  messages: number
  reasons: Map<DecodeReason, number>
}

const checkPacket = (bytes: Uint8Array, tally: Tally): void => {
  let result: ReturnType<typeof codec.decodePacket>
  try {
    result = codec.decodePacket(bytes)
  } catch (e) {
    throw new Error(`decodePacket threw on [${Array.from(bytes)}]: ${String(e)}`)
  }
  for (const e of result.errors) {
    expect(e).toBeInstanceOf(DecodeError)
    expect(allReasons.has(e.reason)).toBe(true)
    tally.reasons.set(e.reason, (tally.reasons.get(e.reason) ?? 0) + 1)
  }
  for (const m of result.messages) {
    tally.messages++
    // Whatever the decoder accepts is in range: it encodes again and reads back equal.
    const again = codec.decodePacket(codec.encodeMessage(m))
    expect(again.errors).toEqual([])
    expect(again.messages).toEqual([m])
  }
}

const checkStream = (bytes: Uint8Array, tally: Tally): StreamRead => {
  let read: StreamRead
  try {
    read = codec.decodeStream(bytes, streamOpts)
  } catch (e) {
    throw new Error(`decodeStream threw on [${Array.from(bytes)}]: ${String(e)}`)
  }
  if (read._tag === "Failed") {
    expect(read.error).toBeInstanceOf(DecodeError)
    expect(allReasons.has(read.error.reason)).toBe(true)
    tally.reasons.set(read.error.reason, (tally.reasons.get(read.error.reason) ?? 0) + 1)
  } else if (read._tag === "Complete") {
    tally.messages++
    expect(read.consumed).toBeGreaterThan(0)
    expect(read.consumed).toBeLessThanOrEqual(bytes.length)
    const again = codec.encodeStream(read.message, streamOpts)
    expect(codec.decodeStream(again, streamOpts)).toEqual({ _tag: "Complete", message: read.message, consumed: again.length })
  }
  return read
}

const newTally = (): Tally => ({ messages: 0, reasons: new Map() })

describe("CompactCodec: seeded fuzz", () => {
  const packetCorpus: ReadonlyArray<Uint8Array> = [
    ...packetSamples.map((m) => codec.encodeMessage(m)),
    ...packetSamples.map((m) => codec.encodePacket([codec.encodeMessage(m)], { checksum: true })),
    codec.encodePacket(packetSamples.map((m) => codec.encodeMessage(m)), { checksum: false }),
    codec.encodePacket(packetSamples.slice(0, 5).map((m) => codec.encodeMessage(m)), { checksum: true }),
    codec.encodePacket(packetSamples.slice(10).map((m) => codec.encodeMessage(m)), { checksum: false })
  ]
  const streamCorpus: ReadonlyArray<Uint8Array> = streamSamples.map((m) => codec.encodeStream(m, streamOpts))

  it("random buffers: packets", () => {
    const rng = prng(0x5eed0001)
    const tally = newTally()
    for (let i = 0; i < 5000; i++) checkPacket(randomBytes(rng, rng.int(64)), tally)
    expect(tally.messages).toBeGreaterThan(0)
    for (const r of ["Empty", "Truncated", "UnknownType", "Malformed", "Checksum"] as const) {
      expect(tally.reasons.get(r) ?? 0).toBeGreaterThan(0)
    }
  })

  it("random buffers: streams", () => {
    const rng = prng(0x5eed0002)
    const tally = newTally()
    for (let i = 0; i < 5000; i++) {
      const n = rng.int(48)
      const body = randomBytes(rng, n)
      // Half get a correct length prefix, so the body parser is exercised, not just the framing.
      checkStream(rng.next() < 0.5 ? raw(vi(n), body) : body, tally)
    }
    expect(tally.messages).toBeGreaterThan(0)
    for (const r of ["Truncated", "UnknownType", "Malformed"] as const) {
      expect(tally.reasons.get(r) ?? 0).toBeGreaterThan(0)
    }
  })

  it("mutations of valid packets", () => {
    const rng = prng(0x5eed0003)
    const tally = newTally()
    for (let i = 0; i < 6000; i++) checkPacket(mutate(rng, packetCorpus[rng.int(packetCorpus.length)]!), tally)
    expect(tally.messages).toBeGreaterThan(0)
    for (const r of ["Truncated", "Malformed", "Checksum", "UnknownType"] as const) {
      expect(tally.reasons.get(r) ?? 0).toBeGreaterThan(0)
    }
  })

  it("mutations of valid stream frames", () => {
    const rng = prng(0x5eed0004)
    const tally = newTally()
    let needMore = 0
    for (let i = 0; i < 4000; i++) {
      const read = checkStream(mutate(rng, streamCorpus[rng.int(streamCorpus.length)]!), tally)
      if (read._tag === "NeedMore") needMore++
    }
    expect(tally.messages).toBeGreaterThan(0)
    expect(needMore).toBeGreaterThan(0)
    for (const r of ["Truncated", "Malformed"] as const) {
      expect(tally.reasons.get(r) ?? 0).toBeGreaterThan(0)
    }
  })

  it("every prefix of every valid packet decodes without throwing", () => {
    const tally = newTally()
    for (const p of packetCorpus) for (let k = 0; k <= p.length; k++) checkPacket(p.subarray(0, k), tally)
    expect(tally.reasons.get("Truncated") ?? 0).toBeGreaterThan(0)
  })
})
