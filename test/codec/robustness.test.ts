/**
 * Hostile input: garbage, truncation, oversized lengths, wrong keys and
 * labels, bad checksums, the inputs that crash memberlist 0.2.2, and a seeded
 * fuzz over mutated captures. Nothing may throw; every problem is a typed
 * `DecodeError` with a reason.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { type CodecShape, type DecodedPacket, DecodeError, DecodeReason, type StreamRead } from "../../src/codec/Codec.ts"
import { makeMemberlistCodec } from "../../src/codec/MemberlistCodec.ts"
import { MsgpackWriter } from "../../src/codec/msgpack/Writer.ts"
import { writeCompressMessage } from "../../src/codec/MemberlistMessages.ts"
import { nack, ping, user } from "../../src/protocol/Messages.ts"
import { crc32 } from "../../src/security/Crc32.ts"
import { Keyring } from "../../src/security/Keyring.ts"
import { lzwCompress } from "../../src/security/Lzw.ts"
import { captureFiles, fromHex, prng, toHex, utf8, vectorFile } from "./helpers.ts"

const reasons = new Set<string>(DecodeReason.literals)
const packetTags = new Set(["Ping", "IndirectPing", "Ack", "Nack", "Suspect", "Alive", "Dead", "User"])
const streamTags = new Set(["PushPull", "Ping", "Ack", "User", "Err"])

const expectWellFormedPacket = (r: DecodedPacket, what: string): void => {
  for (const m of r.messages) expect(packetTags.has(m._tag), what).toBe(true)
  for (const e of r.errors) {
    expect(e, what).toBeInstanceOf(DecodeError)
    expect(reasons.has(e.reason), what).toBe(true)
  }
}

const expectWellFormedStream = (r: StreamRead, length: number, what: string): void => {
  if (r._tag === "Complete") {
    expect(streamTags.has(r.message._tag), what).toBe(true)
    expect(r.consumed > 0 && r.consumed <= length, what).toBe(true)
  } else if (r._tag === "Failed") {
    expect(r.error, what).toBeInstanceOf(DecodeError)
    expect(reasons.has(r.error.reason), what).toBe(true)
  } else expect(r._tag, what).toBe("NeedMore")
}

const onlyError = (r: DecodedPacket): string | undefined => {
  expect(r.messages).toEqual([])
  expect(r.errors.length).toBe(1)
  return r.errors[0]?.reason
}

const failedReason = (r: StreamRead): string => (r._tag === "Failed" ? r.error.reason : r._tag)

const u16 = (n: number) => [n >> 8, n & 0xff]
const u32 = (n: number) => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
const cat = (...parts: ReadonlyArray<ArrayLike<number>>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}
const compressed = (inner: Uint8Array): Uint8Array => {
  const w = new MsgpackWriter()
  writeCompressMessage(w, lzwCompress(inner))
  return w.toBytes()
}

const key08 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
const keyring08 = Effect.runSync(Keyring.fromBase64([key08]))
const otherKeyring = Keyring.makeUnsafe([new Uint8Array(32).fill(9)])
const plain = makeMemberlistCodec()
const encrypted = makeMemberlistCodec({ keyring: keyring08 })
const labelled = makeMemberlistCodec({ label: "prod" })
const nackBytes = plain.encodeMessage(nack(9))

describe("packets", () => {
  it("empty input", () => {
    expect(onlyError(plain.decodePacket(new Uint8Array(0)))).toBe("Empty")
    expect(onlyError(encrypted.decodePacket(new Uint8Array(0)))).toBe("Empty")
  })

  it("unknown and stream-only message types", () => {
    for (const t of [6, 10, 13, 14, 99, 0xf4, 0xff]) {
      expect(onlyError(plain.decodePacket(Uint8Array.of(t, 0x80))), `type ${t}`).toBe(t === 0xf4 ? "Label" : "UnknownType")
    }
  })

  it("zero-length compound parts (which kill memberlist 0.2.2) are errors, the other parts survive", () => {
    expect(onlyError(plain.decodePacket(fromHex("07010000")))).toBe("Empty")
    const r = plain.decodePacket(cat([7, 3], u16(0), u16(nackBytes.length), u16(0), nackBytes))
    expect(r.messages).toEqual([nack(9)])
    expect(r.errors.map((e) => e.reason)).toEqual(["Empty", "Empty"])
  })

  it("compound truncation as memberlist does it: earlier parts kept, the rest dropped", () => {
    const r = plain.decodePacket(cat([7, 3], u16(nackBytes.length), u16(nackBytes.length), u16(50), nackBytes, nackBytes, [1, 2]))
    expect(r.messages).toEqual([nack(9), nack(9)])
    expect(r.errors.map((e) => e.reason)).toEqual(["Truncated"])
    expect(onlyError(plain.decodePacket(Uint8Array.of(7)))).toBe("Truncated")
    expect(onlyError(plain.decodePacket(Uint8Array.of(7, 2, 0, 9)))).toBe("Truncated")
    expect(plain.decodePacket(Uint8Array.of(7, 0))).toEqual({ messages: [], errors: [] })
    // Trailing bytes after the last part are ignored.
    expect(plain.decodePacket(cat([7, 1], u16(nackBytes.length), nackBytes, [0xde, 0xad])).messages).toEqual([nack(9)])
  })

  it("a bad part is an error for that part only", () => {
    const bad = cat([0], [0x81, 0xa5], utf8("SeqNo"), [0xa1, 0x78])
    const r = plain.decodePacket(cat([7, 3], u16(nackBytes.length), u16(bad.length), u16(2), nackBytes, bad, [99, 0]))
    expect(r.messages).toEqual([nack(9)])
    expect(r.errors.map((e) => e.reason)).toEqual(["Malformed", "UnknownType"])
  })

  it("an alive with a 1–5-byte Vsn (which kills memberlist 0.2.2) is refused", () => {
    for (let n = 1; n <= 5; n++) {
      const alive = cat(
        [4, 0x86, 0xa4],
        utf8("Addr"),
        [0xa4, 127, 0, 0, 1, 0xab],
        utf8("Incarnation"),
        [1, 0xa4],
        utf8("Meta"),
        [0xc0, 0xa4],
        utf8("Node"),
        [0xa1, 0x78, 0xa4],
        utf8("Port"),
        [0x01, 0xa3],
        utf8("Vsn"),
        [0xa0 | n],
        new Uint8Array(n).fill(1)
      )
      const r = plain.decodePacket(alive)
      expect(onlyError(r), `${n}-byte Vsn`).toBe("Malformed")
      expect(r.errors[0]!.message).toContain("Vsn")
    }
  })

  it("a bad CRC drops the packet; a CRC is only honoured at the top", () => {
    const good = plain.encodePacket([nackBytes], { checksum: true })
    expect(plain.decodePacket(good).messages).toEqual([nack(9)])
    const bad = Uint8Array.from(good)
    bad[bad.length - 1] ^= 1
    expect(onlyError(plain.decodePacket(bad))).toBe("Checksum")
    const badHeader = Uint8Array.from(good)
    badHeader[2] ^= 0x40
    expect(onlyError(plain.decodePacket(badHeader))).toBe("Checksum")
    const nested = cat([7, 1], u16(good.length), good)
    expect(onlyError(plain.decodePacket(nested))).toBe("UnknownType")
    expect(crc32(good, 5)).toBe(((good[1]! << 24) >>> 0) + ((good[2]! << 16) | (good[3]! << 8) | good[4]!))
  })

  it("compression errors: unknown algorithm, truncated stream, empty result, bombs, deep nesting", () => {
    const unknownAlgo = cat([9, 0x82, 0xa4], utf8("Algo"), [1, 0xa3], utf8("Buf"), [0xa3, 0, 3, 2])
    expect(onlyError(plain.decodePacket(unknownAlgo))).toBe("Compression")
    const whole = compressed(nackBytes)
    const cut = lzwCompress(nackBytes).subarray(0, 4)
    expect(onlyError(plain.decodePacket(cat([9, 0x82, 0xa4], utf8("Algo"), [0, 0xa3], utf8("Buf"), [0xa0 | cut.length], cut)))).toBe(
      "Compression"
    )
    // LZW of nothing: memberlist 0.2.2 would index byte 0 of the result and crash.
    expect(onlyError(plain.decodePacket(compressed(new Uint8Array(0))))).toBe("Compression")
    expect(plain.decodePacket(whole).messages).toEqual([nack(9)])
    // More than 40 MiB from one packet.
    const bomb = compressed(new Uint8Array(41 * 1024 * 1024))
    expect(bomb.length).toBeLessThan(65_000)
    expect(onlyError(plain.decodePacket(bomb))).toBe("TooLarge")
    let nested = nackBytes
    for (let i = 0; i < 12; i++) nested = compressed(nested)
    expect(onlyError(plain.decodePacket(nested))).toBe("Malformed")
  }, 20_000)

  it("a wrong key gives Decrypt, unless plaintext is accepted during a roll-out", () => {
    const sealed = encrypted.encodePacket([nackBytes], { checksum: true })
    expect(onlyError(makeMemberlistCodec({ keyring: otherKeyring }).decodePacket(sealed))).toBe("Decrypt")
    expect(onlyError(encrypted.decodePacket(nackBytes))).toBe("Decrypt")
    const rollout = makeMemberlistCodec({ keyring: otherKeyring, verifyIncoming: false })
    expect(rollout.decodePacket(nackBytes).messages).toEqual([nack(9)])
    expect(rollout.decodePacket(plain.encodePacket([nackBytes], { checksum: true })).messages).toEqual([nack(9)])
    const sendsPlain = makeMemberlistCodec({ keyring: keyring08, verifyOutgoing: false })
    expect(toHex(sendsPlain.encodePacket([nackBytes], { checksum: false }))).toBe(toHex(nackBytes))
    // A sealed empty message (memberlist 0.2.2 would crash on it) is refused.
    const sealedEmpty = keyring08.encrypt(new Uint8Array(0), 1, new Uint8Array(0))
    expect(onlyError(encrypted.decodePacket(sealedEmpty))).toBe("Empty")
  })

  it("every captured encrypted packet fails with Decrypt under the wrong key", () => {
    const wrong = makeMemberlistCodec({ keyring: otherKeyring })
    let n = 0
    for (const vf of captureFiles()) {
      for (const e of vf.entries) {
        if (e.transport !== "udp" || !e.decoded.layers.includes("encrypt")) continue
        expect(onlyError(wrong.decodePacket(fromHex(e.hex))), `${vf.file}#${e.index}`).toBe("Decrypt")
        n++
      }
    }
    expect(n).toBeGreaterThan(100)
  })

  it("labels: a mismatch, a missing or unexpected header, an empty or cut label", () => {
    const wire = labelled.encodePacket([nackBytes], { checksum: false })
    expect(labelled.decodePacket(wire).messages).toEqual([nack(9)])
    expect(onlyError(makeMemberlistCodec({ label: "test" }).decodePacket(wire))).toBe("Label")
    expect(onlyError(plain.decodePacket(wire))).toBe("Label")
    expect(onlyError(labelled.decodePacket(nackBytes))).toBe("Label")
    expect(onlyError(labelled.decodePacket(Uint8Array.of(0xf4, 0)))).toBe("Label")
    expect(onlyError(labelled.decodePacket(Uint8Array.of(0xf4, 4, 0x70)))).toBe("Label")
    expect(onlyError(labelled.decodePacket(Uint8Array.of(0xf4)))).toBe("Label")
  })

  it("every prefix of every captured packet decodes without throwing", () => {
    let n = 0
    for (const vf of captureFiles()) {
      const codec = vf.encryption_key_base64 === null
        ? plain
        : makeMemberlistCodec({ keyring: Effect.runSync(Keyring.fromBase64([vf.encryption_key_base64])) })
      for (const e of vf.entries) {
        if (e.transport !== "udp") continue
        const bytes = fromHex(e.hex)
        for (let i = 0; i < bytes.length; i++) {
          expectWellFormedPacket(codec.decodePacket(bytes.subarray(0, i)), `${vf.file}#${e.index}:${i}`)
          n++
        }
      }
    }
    expect(n).toBeGreaterThan(10_000)
  })
})

describe("streams", () => {
  const pushPullHeader = (nodes: number[], userStateLen: number[]) =>
    cat([6, 0x83, 0xa4], utf8("Join"), [0xc2, 0xa5], utf8("Nodes"), nodes, [0xac], utf8("UserStateLen"), userStateLen)

  it("waits for more on every proper prefix of every captured stream", () => {
    let n = 0
    for (const vf of captureFiles()) {
      const ring = vf.encryption_key_base64 === null ? undefined : Effect.runSync(Keyring.fromBase64([vf.encryption_key_base64]))
      for (const e of vf.entries) {
        if (e.transport !== "tcp" || e.hex === undefined) continue
        const codec = makeMemberlistCodec(
          e.decoded.layers.includes("encrypt") && ring !== undefined ? { keyring: ring } : {}
        )
        const bytes = fromHex(e.hex)
        const options = { initiator: e.stream_direction === "server->client" }
        for (let i = 0; i < bytes.length; i++) {
          expect(codec.decodeStream(bytes.subarray(0, i), options)._tag, `${vf.file}#${e.index}:${i}`).toBe("NeedMore")
          n++
        }
        expect(codec.decodeStream(bytes, options)._tag).toBe("Complete")
      }
    }
    expect(n).toBeGreaterThan(1000)
  })

  it("refuses oversized announcements instead of waiting for them", () => {
    const reader = { initiator: false }
    expect(failedReason(encrypted.decodeStream(cat([0x0a], u32(20 * 1024 * 1024 + 1)), reader))).toBe("TooLarge")
    expect(encrypted.decodeStream(cat([0x0a], u32(20 * 1024 * 1024)), reader)._tag).toBe("NeedMore")
    expect(failedReason(plain.decodeStream(pushPullHeader([0xce, ...u32(2_000_000)], [0]), reader))).toBe("TooLarge")
    expect(failedReason(plain.decodeStream(pushPullHeader([1], [0xce, ...u32(30 * 1024 * 1024)]), reader))).toBe("TooLarge")
    expect(plain.decodeStream(pushPullHeader([1], [0xce, ...u32(1024)]), reader)._tag).toBe("NeedMore")
    const userHeader = (len: number[]) => cat([8, 0x81, 0xaa], utf8("UserMsgLen"), len)
    expect(failedReason(plain.decodeStream(userHeader([0xce, ...u32(21 * 1024 * 1024)]), reader))).toBe("TooLarge")
    expect(plain.decodeStream(userHeader([0xcd, ...u16(500)]), reader)._tag).toBe("NeedMore")
    // A compress struct announcing a 1 GiB buffer.
    expect(failedReason(plain.decodeStream(cat([9, 0x82, 0xa4], utf8("Algo"), [0, 0xa3], utf8("Buf"), [0xdb, 0x40, 0, 0, 0]), reader))).toBe(
      "TooLarge"
    )
    // Negative counts (Go would panic allocating them).
    expect(failedReason(plain.decodeStream(pushPullHeader([0xff], [0]), reader))).toBe("Malformed")
  })

  it("encryption state mismatches, in both directions, as memberlist reports them", () => {
    const reader = { initiator: false }
    const clear = plain.encodeStream(ping(1, "n", null, "", 0), { initiator: true })
    const sealed = encrypted.encodeStream(ping(1, "n", null, "", 0), { initiator: true })
    expect(failedReason(encrypted.decodeStream(clear, reader))).toBe("Unencrypted")
    expect(failedReason(plain.decodeStream(sealed, reader))).toBe("Decrypt")
    expect(failedReason(makeMemberlistCodec({ keyring: otherKeyring }).decodeStream(sealed, reader))).toBe("Decrypt")
    expect(makeMemberlistCodec({ keyring: otherKeyring, verifyIncoming: false }).decodeStream(clear, reader)._tag).toBe(
      "Complete"
    )
    const sealedEmpty = encrypted.decodeStream(
      cat([0x0a], u32(29), keyring08.encryptFrame(new Uint8Array(0), 1, new Uint8Array(0)).subarray(5)),
      reader
    )
    expect(failedReason(sealedEmpty)).toBe("Empty")
  })

  it("labels on streams: only the dialer writes one, and it must match", () => {
    const wire = labelled.encodeStream(ping(1, "n", null, "", 0), { initiator: true })
    expect(labelled.decodeStream(wire, { initiator: false })._tag).toBe("Complete")
    expect(failedReason(plain.decodeStream(wire, { initiator: false }))).toBe("Label")
    expect(failedReason(makeMemberlistCodec({ label: "test" }).decodeStream(wire, { initiator: false }))).toBe("Label")
    const reply = labelled.encodeStream(ping(1, "n", null, "", 0), { initiator: false })
    expect(labelled.decodeStream(reply, { initiator: true })._tag).toBe("Complete")
    expect(failedReason(labelled.decodeStream(reply, { initiator: false }))).toBe("Label")
    expect(labelled.decodeStream(Uint8Array.of(0xf4), { initiator: false })._tag).toBe("NeedMore")
    expect(labelled.decodeStream(Uint8Array.of(0xf4, 4, 0x70, 0x72), { initiator: false })._tag).toBe("NeedMore")
    expect(failedReason(labelled.decodeStream(Uint8Array.of(0xf4, 0), { initiator: false }))).toBe("Label")
  })

  it("wrong types and bad bodies", () => {
    const reader = { initiator: true }
    for (const t of [1, 3, 4, 5, 7, 11, 12, 99]) {
      expect(failedReason(plain.decodeStream(Uint8Array.of(t, 0x80), reader)), `type ${t}`).toBe("UnknownType")
    }
    // A compress around a compress is not read by memberlist either.
    expect(failedReason(plain.decodeStream(compressed(compressed(plain.encodeMessage(nack(1)))), reader))).toBe("UnknownType")
    expect(failedReason(plain.decodeStream(compressed(Uint8Array.of(6, 0x81)), reader))).toBe("Truncated")
    expect(failedReason(plain.decodeStream(compressed(new Uint8Array(0)), reader))).toBe("Compression")
    expect(failedReason(plain.decodeStream(Uint8Array.of(2, 0x81, 0xc4, 1, 0x41, 0), reader))).toBe("Malformed")
  })

  it("a push/pull node state with a 1–5-byte Vsn fails the exchange", () => {
    const m = plain.encodeStream(
      {
        _tag: "PushPull",
        join: true,
        nodes: [{ name: "x", addr: Uint8Array.of(1, 2, 3, 4), port: 1, meta: null, incarnation: 1, state: 0, vsn: Uint8Array.of(1, 5, 2, 2, 5, 5) }],
        userState: new Uint8Array(0)
      },
      { initiator: false }
    )
    const raw = makeMemberlistCodec({ compression: false }).encodeStream(
      { _tag: "PushPull", join: true, nodes: [], userState: new Uint8Array(0) },
      { initiator: false }
    )
    expect(plain.decodeStream(m, { initiator: true })._tag).toBe("Complete")
    const short = cat(
      [6, 0x83, 0xa4],
      utf8("Join"),
      [0xc3, 0xa5],
      utf8("Nodes"),
      [1, 0xac],
      utf8("UserStateLen"),
      [0, 0x82, 0xa4],
      utf8("Name"),
      [0xa1, 0x78, 0xa3],
      utf8("Vsn"),
      [0xa3, 1, 5, 2]
    )
    expect(failedReason(plain.decodeStream(short, { initiator: true }))).toBe("Malformed")
    expect(raw[0]).toBe(6)
  })
})

describe("seeded fuzz over mutated captures", () => {
  const unit = vectorFile("go-memberlist-0.2.2-unit-vectors.json")
  const seeds: Array<Uint8Array> = []
  for (const vf of captureFiles()) {
    for (const e of vf.entries) {
      if (e.hex === undefined) continue
      seeds.push(fromHex(e.hex))
      if (e.decoded.plaintext_hex !== undefined) seeds.push(fromHex(e.decoded.plaintext_hex))
    }
  }
  for (const v of unit.vectors) if (typeof v.hex === "string" && v.hex.length > 0) seeds.push(fromHex(v.hex))

  const mutate = (next: () => number, input: Uint8Array): Uint8Array => {
    let b: Uint8Array = Uint8Array.from(input)
    const rounds = 1 + Math.floor(next() * 4)
    for (let r = 0; r < rounds; r++) {
      const at = Math.floor(next() * Math.max(1, b.length))
      switch (Math.floor(next() * 7)) {
        case 0:
          if (b.length > 0) b[at] = b[at]! ^ (1 << Math.floor(next() * 8))
          break
        case 1:
          if (b.length > 0) b[at] = Math.floor(next() * 256)
          break
        case 2:
          b = b.subarray(0, at)
          break
        case 3:
          b = cat(b.subarray(0, at), [Math.floor(next() * 256)], b.subarray(at))
          break
        case 4:
          b = cat(b.subarray(0, at), b.subarray(at + 1 + Math.floor(next() * 8)))
          break
        case 5: {
          // Interesting values where lengths and counts live.
          const v = [0x00, 0x7f, 0x80, 0xc0, 0xcc, 0xcd, 0xce, 0xcf, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xff][
            Math.floor(next() * 16)
          ]!
          if (b.length > 0) b[at] = v
          break
        }
        default: {
          const other = seeds[Math.floor(next() * seeds.length)]!
          const from = Math.floor(next() * other.length)
          b = cat(b.subarray(0, at), other.subarray(from, from + Math.floor(next() * 64)))
        }
      }
    }
    return b
  }

  const codecs: ReadonlyArray<readonly [string, CodecShape]> = [
    ["plain", plain],
    ["uncompressed", makeMemberlistCodec({ compression: false })],
    ["encrypted", encrypted],
    ["rollout", makeMemberlistCodec({ keyring: keyring08, verifyIncoming: false })],
    ["labelled", labelled]
  ]

  it("10 000 mutations: only messages and DecodeErrors come back, nothing throws", () => {
    expect(seeds.length).toBeGreaterThan(1000)
    const next = prng(0x5eed)
    let packets = 0
    let decodedSomething = 0
    for (let i = 0; i < 10_000; i++) {
      const input = mutate(next, seeds[Math.floor(next() * seeds.length)]!)
      for (const [name, codec] of codecs) {
        const what = `mutation ${i} (${name}): ${toHex(input.subarray(0, 40))}`
        const p = codec.decodePacket(input)
        expectWellFormedPacket(p, what)
        if (p.messages.length > 0) decodedSomething++
        expectWellFormedStream(codec.decodeStream(input, { initiator: false }), input.length, what)
        expectWellFormedStream(codec.decodeStream(input, { initiator: true }), input.length, what)
        packets++
      }
    }
    expect(packets).toBe(50_000)
    // The mutations are not all rejected at the first byte: many still reach message decoding.
    expect(decodedSomething).toBeGreaterThan(1000)
  }, 60_000)

  it("pure garbage of every length", () => {
    const next = prng(42)
    for (let i = 0; i < 3000; i++) {
      const input = Uint8Array.from({ length: Math.floor(next() * 200) }, () => Math.floor(next() * 256))
      for (const [name, codec] of codecs) {
        expectWellFormedPacket(codec.decodePacket(input), `garbage ${i} (${name})`)
        expectWellFormedStream(codec.decodeStream(input, { initiator: false }), input.length, `garbage ${i} (${name})`)
      }
    }
  })

  it("user payloads survive any bytes", () => {
    const next = prng(1)
    for (let i = 0; i < 200; i++) {
      const payload = Uint8Array.from({ length: Math.floor(next() * 300) }, () => Math.floor(next() * 256))
      const m = user(payload)
      expect(plain.decodePacket(plain.encodePacket([plain.encodeMessage(m)], { checksum: true })).messages).toEqual([m])
    }
  })
})
