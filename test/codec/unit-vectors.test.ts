/**
 * memberlist 0.2.2's own encoders (go-memberlist-0.2.2-unit-vectors.json) and
 * the hand-built label vectors of newer memberlist (synthetic-label-vectors.json).
 */
import { describe, expect, it } from "vitest"
import { makeMemberlistCodec } from "../../src/codec/MemberlistCodec.ts"
import {
  readPushNodeState,
  readPushPullHeader,
  writeCompressMessage,
  writePushNodeState,
  writePushPullHeader
} from "../../src/codec/MemberlistMessages.ts"
import { MsgpackReader } from "../../src/codec/msgpack/Reader.ts"
import { MsgpackWriter } from "../../src/codec/msgpack/Writer.ts"
import type { PacketMessage } from "../../src/protocol/Messages.ts"
import { Keyring, seal, streamAuthData } from "../../src/security/Keyring.ts"
import { lzwCompress, lzwDecompress } from "../../src/security/Lzw.ts"
import { Effect } from "effect"
import { expectBytes, fromHex, toHex, utf8, vectorFile } from "./helpers.ts"

/** The codes of an LZW stream with the width each was read at (the reader's width rules, nothing else). */
const traceCodes = (bytes: Uint8Array): Array<{ readonly code: number; readonly width: number }> => {
  const out: Array<{ code: number; width: number }> = []
  let bits = 0
  let n = 0
  let width = 9
  let hi = 257
  let i = 0
  for (;;) {
    while (n < width) {
      if (i >= bytes.length) return out
      bits |= bytes[i++]! << n
      n += 8
    }
    const code = bits & ((1 << width) - 1)
    bits >>>= width
    n -= width
    out.push({ code, width })
    if (code === 256) {
      width = 9
      hi = 257
      continue
    }
    if (code === 257) return out
    hi++
    if (hi >= 1 << width) {
      if (width === 12) hi--
      else width++
    }
  }
}

const unit = vectorFile("go-memberlist-0.2.2-unit-vectors.json")
const label = vectorFile("synthetic-label-vectors.json")

const byName = new Map<string, any>(unit.vectors.map((v: any) => [v.name, v]))
const checked = new Set<string>()
const vector = (name: string): any => {
  const v = byName.get(name)
  if (v === undefined) throw new Error(`missing unit vector ${name}`)
  checked.add(name)
  return v
}

/** Compares a decoded packet message with a recorded `fields` object (keys as in Go). */
const expectFields = (m: PacketMessage, fields: any): void => {
  const pick: Record<string, unknown> = {}
  const bytes: Record<string, Uint8Array | null> = {}
  for (const [k, v] of Object.entries(m)) {
    if (k === "_tag") continue
    if (v instanceof Uint8Array || v === null) bytes[k] = v
    else pick[k] = v
  }
  for (const [goKey, want] of Object.entries(fields)) {
    const key = goKey.charAt(0).toLowerCase() + goKey.slice(1)
    if (key in bytes) expectBytes(bytes[key]!, want, goKey)
    else expect(pick[key], goKey).toEqual(want)
  }
}

describe("go-memberlist 0.2.2 unit vectors", () => {
  const plain = makeMemberlistCodec({ compression: false })
  const compressing = makeMemberlistCodec()

  const structVectors = [
    "ping-minimal",
    "ping-maxseq",
    "ping-seq-128",
    "ping-seq-256",
    "ping-seq-65536",
    "indirect-ping",
    "ack-nil-payload",
    "ack-empty-payload",
    "nack",
    "suspect",
    "dead-leave",
    "alive-nil-meta",
    "alive-meta-40",
    "alive-ipv6"
  ]
  for (const name of structVectors) {
    it(`${name}: decodes to the recorded fields and re-encodes byte for byte`, () => {
      const v = vector(name)
      const decoded = plain.decodePacket(fromHex(v.hex))
      expect(decoded.errors).toEqual([])
      expect(decoded.messages.length).toBe(1)
      const m = decoded.messages[0]!
      expectFields(m, v.decoded.fields)
      expect(toHex(plain.encodeMessage(m))).toBe(v.hex)
      expect(toHex(plain.encodePacket([plain.encodeMessage(m)], { checksum: false }))).toBe(v.hex)
    })
  }

  it("ping-maxseq: matches the Go input values", () => {
    const v = vector("ping-maxseq")
    const m = plain.decodePacket(fromHex(v.hex)).messages[0]!
    if (m._tag !== "Ping") throw new Error("not a ping")
    expect(m.seqNo).toBe(v.input.SeqNo)
    expect(m.node).toBe(v.input.Node)
    expect(toHex(m.sourceAddr!)).toBe(toHex(Uint8Array.from(Buffer.from(v.input.SourceAddr, "base64"))))
  })

  it("err: a stream message, decoded and re-encoded", () => {
    const v = vector("err")
    const read = plain.decodeStream(fromHex(v.hex), { initiator: true })
    expect(read).toEqual({ _tag: "Complete", message: { _tag: "Err", error: "boom" }, consumed: v.hex.length / 2 })
    expect(toHex(plain.encodeStream({ _tag: "Err", error: "boom" }, { initiator: false }))).toBe(v.hex)
  })

  it("compound-2: two nacks", () => {
    const v = vector("compound-2")
    const decoded = plain.decodePacket(fromHex(v.hex))
    expect(decoded.errors).toEqual([])
    expect(decoded.messages).toEqual([
      { _tag: "Nack", seqNo: 1 },
      { _tag: "Nack", seqNo: 2 }
    ])
    const parts = decoded.messages.map((m) => plain.encodeMessage(m))
    expect(toHex(plain.encodePacket(parts, { checksum: false }))).toBe(v.hex)
  })

  it("pushpull-header-and-one-state: header and node state encode and decode exactly", () => {
    const v = vector("pushpull-header-and-one-state")
    const bytes = fromHex(v.hex)
    const r = new MsgpackReader(bytes, 1)
    const header = readPushPullHeader(r)
    expect(header).toEqual({ join: false, nodes: 200, userStateLen: 70000 })
    const state = readPushNodeState(r)
    expect(r.ok).toBe(true)
    expect(r.pos).toBe(bytes.length)
    expect(state).toMatchObject({ name: "n1", port: 27946, incarnation: 70000, state: 3, meta: null })
    const w = new MsgpackWriter()
    w.byte(6)
    writePushPullHeader(w, header!)
    writePushNodeState(w, state!)
    expect(toHex(w.toBytes())).toBe(v.hex)
    // Only a fragment: 199 states and 70000 bytes are missing, so a stream reader waits for them.
    expect(plain.decodeStream(bytes, { initiator: true })).toEqual({ _tag: "NeedMore" })
  })

  it("stream-user-msg-uncompressed: TCP user message body", () => {
    const v = vector("stream-user-msg-uncompressed")
    const read = plain.decodeStream(fromHex(v.hex), { initiator: false })
    if (read._tag !== "Complete") throw new Error(read._tag)
    expect(read.message).toEqual({ _tag: "User", payload: utf8("hello") })
    expect(read.consumed).toBe(v.hex.length / 2)
    expect(toHex(plain.encodeStream(read.message, { initiator: true }))).toBe(v.hex)
  })

  it("compress-small-ping: compress wrapper of a ping", () => {
    const v = vector("compress-small-ping")
    const w = new MsgpackWriter()
    writeCompressMessage(w, lzwCompress(fromHex(v.input)))
    expect(toHex(w.toBytes())).toBe(v.hex)
    const decoded = compressing.decodePacket(fromHex(v.hex))
    expect(decoded.errors).toEqual([])
    expectFields(decoded.messages[0]!, v.decoded.inner.fields)
    // 34 bytes compressed against 17 plain: a packet keeps the plain form.
    expect(toHex(compressing.encodePacket([fromHex(v.input)], { checksum: false }))).toBe(v.input)
  })

  it("lzw-30000-bytes-6-letter-alphabet: 12-bit codes and a table reset", () => {
    const v = vector("lzw-30000-bytes-6-letter-alphabet")
    const input = fromHex(v.input)
    expect(input.length).toBe(30000)
    expect(toHex(lzwCompress(input))).toBe(v.hex)
    const out = lzwDecompress(fromHex(v.hex))
    expect(typeof out).not.toBe("string")
    expect(toHex(out as Uint8Array)).toBe(v.input)
    // The stream really uses 12-bit codes and clears the table again after the first clear.
    const trace = traceCodes(fromHex(v.hex))
    expect(trace.some((t) => t.width === 12)).toBe(true)
    expect(trace.filter((t) => t.code === 256).length).toBeGreaterThanOrEqual(2)
    expect(trace[trace.length - 1]!.code).toBe(257)
  })

  it("lzw-empty: clear + EOF", () => {
    const v = vector("lzw-empty")
    expect(toHex(lzwCompress(new Uint8Array(0)))).toBe(v.hex)
    expect(lzwDecompress(fromHex(v.hex))).toEqual(new Uint8Array(0))
  })

  for (const name of [
    "encrypt-v0-key128",
    "encrypt-v1-key128",
    "encrypt-v0-key192",
    "encrypt-v1-key192",
    "encrypt-v0-key256",
    "encrypt-v1-key256"
  ]) {
    it(`${name}: decrypts, re-encrypts with the nonce, and the codec reads the packet`, () => {
      const v = vector(name)
      const key = fromHex(v.input.key_hex)
      const keyring = Keyring.makeUnsafe([key])
      const sealed = fromHex(v.hex)
      expect(sealed[0]).toBe(v.python_check.encryption_version)
      const opened = keyring.decrypt(sealed, new Uint8Array(0))
      expect(typeof opened).not.toBe("string")
      expect(toHex(opened as Uint8Array)).toBe(v.input.plain_hex)
      const again = seal(key, v.python_check.encryption_version, fromHex(v.input.plain_hex), new Uint8Array(0), 0, fromHex(v.python_check.nonce))
      expect(toHex(again)).toBe(v.hex)
      const codec = makeMemberlistCodec({ keyring })
      const decoded = codec.decodePacket(sealed)
      expect(decoded.errors).toEqual([])
      expect(decoded.messages).toEqual([{ _tag: "Ping", seqNo: 1, node: "n1", sourceAddr: null, sourceNode: "", sourcePort: 0 }])
    })
  }

  for (const name of ["stream-encrypt-v1-key256", "stream-encrypt-v0-key256"]) {
    it(`${name}: TCP encryptMsg framing`, () => {
      const v = vector(name)
      const key = fromHex(v.input.key_hex)
      const keyring = Keyring.makeUnsafe([key])
      const frame = fromHex(v.hex)
      const codec = makeMemberlistCodec({ keyring })
      const read = codec.decodeStream(frame, { initiator: false })
      expect(read).toEqual({ _tag: "Complete", message: { _tag: "User", payload: utf8("hello") }, consumed: frame.length })
      const length = v.python_check.length_field
      const aad = streamAuthData(length, new Uint8Array(0))
      expect(toHex(aad)).toBe(v.python_check.aad_hex)
      const again = seal(key, v.python_check.encryption_version, fromHex(v.input.plain_hex), aad, 5, fromHex(v.python_check.nonce))
      again.set(aad, 0)
      expect(toHex(again)).toBe(v.hex)
      // Every proper prefix is incomplete.
      for (let i = 0; i < frame.length; i++) {
        expect(codec.decodeStream(frame.subarray(0, i), { initiator: false })._tag).toBe("NeedMore")
      }
    })
  }

  it("covers every vector in the file", () => {
    expect(unit.vectors.length).toBeGreaterThan(0)
    expect([...checked].sort()).toEqual(unit.vectors.map((v: any) => v.name).sort())
  })
})

describe("synthetic label vectors (newer memberlist)", () => {
  const labels = new Map<string, any>(label.vectors.map((v: any) => [v.name, v]))
  const seen = new Set<string>()
  const get = (name: string): any => {
    seen.add(name)
    return labels.get(name)
  }
  const ping = (v: any) => ({
    _tag: "Ping",
    node: v.decoded.message.fields.Node,
    seqNo: v.decoded.message.fields.SeqNo,
    sourceAddr: fromHex(v.decoded.message.fields.SourceAddr.hex),
    sourceNode: v.decoded.message.fields.SourceNode,
    sourcePort: v.decoded.message.fields.SourcePort
  })

  it("packet-label-plain-ping: label header in front of a plain packet", () => {
    const v = get("packet-label-plain-ping")
    const codec = makeMemberlistCodec({ label: v.label })
    const decoded = codec.decodePacket(fromHex(v.hex))
    expect(decoded.errors).toEqual([])
    expect(decoded.messages).toEqual([ping(v)])
    expect(toHex(codec.encodePacket([fromHex(v.inner_hex)], { checksum: false }))).toBe(v.hex)
    // Without the label, or with another one, the packet is refused.
    expect(makeMemberlistCodec().decodePacket(fromHex(v.hex)).errors[0]?.reason).toBe("Label")
    expect(makeMemberlistCodec({ label: "test" }).decodePacket(fromHex(v.hex)).errors[0]?.reason).toBe("Label")
  })

  it("packet-label-encrypted-v1-ping: the label is the AAD", () => {
    const v = get("packet-label-encrypted-v1-ping")
    const keyring = Effect.runSync(Keyring.fromBase64([v.key_base64]))
    const codec = makeMemberlistCodec({ label: v.label, keyring })
    const wire = fromHex(v.hex)
    const decoded = codec.decodePacket(wire)
    expect(decoded.errors).toEqual([])
    expect(decoded.messages).toEqual([ping(v)])
    const header = 2 + v.label.length
    const sealed = seal(keyring.primaryKey, 1, fromHex(v.plaintext_hex), utf8(v.label), header, fromHex(v.nonce_hex))
    sealed.set(wire.subarray(0, header), 0)
    expect(toHex(sealed)).toBe(v.hex)
    // Same bytes with the label header swapped for another label of the same length: GCM refuses.
    const forged = Uint8Array.from(wire)
    forged.set(utf8("test"), 2)
    expect(makeMemberlistCodec({ label: "test", keyring }).decodePacket(forged).errors[0]?.reason).toBe("Decrypt")
  })

  it("stream-label-encrypted-v1-user-msg: label header, then a frame authenticated with it", () => {
    const v = get("stream-label-encrypted-v1-user-msg")
    const keyring = Effect.runSync(Keyring.fromBase64([v.key_base64]))
    const codec = makeMemberlistCodec({ label: v.label, keyring })
    const wire = fromHex(v.hex)
    const read = codec.decodeStream(wire, { initiator: false })
    if (read._tag !== "Complete") throw new Error(read._tag)
    expect(read.consumed).toBe(wire.length)
    expect(toHex((read.message as { payload: Uint8Array }).payload)).toBe(v.decoded.message.inner.payload_hex)
    const header = 2 + v.label.length
    const length = v.decoded.encryption.length_field
    const aad = streamAuthData(length, utf8(v.label))
    expect(toHex(aad)).toBe(v.decoded.encryption.aad_hex)
    const sealed = seal(keyring.primaryKey, 1, fromHex(v.plaintext_hex), aad, header + 5, fromHex(v.nonce_hex))
    sealed.set(wire.subarray(0, header + 5), 0)
    expect(toHex(sealed)).toBe(v.hex)
  })

  it("stream-label-plain-user-msg: the dialer writes the label, the reply has none", () => {
    const v = get("stream-label-plain-user-msg")
    const codec = makeMemberlistCodec({ label: v.label })
    const wire = fromHex(v.hex)
    const read = codec.decodeStream(wire, { initiator: false })
    if (read._tag !== "Complete") throw new Error(read._tag)
    expect(read.consumed).toBe(wire.length)
    expect(toHex(codec.encodeStream(read.message, { initiator: true }))).toBe(v.hex)
    expect(toHex(codec.encodeStream(read.message, { initiator: false }))).toBe(v.hex.slice(4 + 2 * v.label.length))
    const other = makeMemberlistCodec({ label: "dev!" }).decodeStream(wire, { initiator: false })
    expect(other._tag === "Failed" && other.error.reason).toBe("Label")
  })

  it("covers every label vector", () => {
    expect(label.vectors.length).toBeGreaterThan(0)
    expect([...seen].sort()).toEqual(label.vectors.map((v: any) => v.name).sort())
  })
})
