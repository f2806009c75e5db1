/**
 * Golden tests against real serf / memberlist 0.2.2 captures: every entry of
 * every capture file is decoded and compared with its recorded
 * interpretation, every wrapper is checked (CRC, LZW both ways, AES-GCM with
 * the captured nonce), every struct re-encodes byte for byte, and every
 * packet and stream is rebuilt from its messages and compared with the
 * captured bytes.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { CodecShape } from "../../src/codec/Codec.ts"
import { makeMemberlistCodec } from "../../src/codec/MemberlistCodec.ts"
import { readCompress, writeCompressMessage } from "../../src/codec/MemberlistMessages.ts"
import { MsgpackReader } from "../../src/codec/msgpack/Reader.ts"
import { readValue } from "../../src/codec/msgpack/Value.ts"
import { MsgpackWriter } from "../../src/codec/msgpack/Writer.ts"
import type { PacketMessage, StreamMessage } from "../../src/protocol/Messages.ts"
import { crc32 } from "../../src/security/Crc32.ts"
import { Keyring, seal } from "../../src/security/Keyring.ts"
import { lzwCompress, lzwDecompress } from "../../src/security/Lzw.ts"
import {
  decodeSerfMessage,
  encodeJoinIntent,
  encodeLeaveIntent,
  encodeQuery,
  encodeQueryResponse,
  encodeUserEvent
} from "../../src/serf/Messages.ts"
import { decodeTags, encodeTags } from "../../src/serf/Tags.ts"
import { captureFiles, expectBytes, fromHex, toHex } from "./helpers.ts"

interface Leaf {
  readonly node: any
  readonly bytes: Uint8Array
}

interface Stats {
  entries: number
  udp: number
  tcp: number
  noPayload: number
  encrypted: number
  crc: number
  compress: number
  structs: number
  serf: number
  rebuilt: number
}

const readU32 = (b: Uint8Array, at: number): number =>
  ((b[at]! << 24) >>> 0) + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!)

/** Checks the wrappers of a recorded tree over its bytes and collects the leaf messages in order. */
const walk = (node: any, bytes: Uint8Array, at: string, leaves: Array<Leaf>, stats: Stats): void => {
  expect(bytes[0], `${at}: type byte`).toBe(node.type)
  switch (node.name) {
    case "hasCrc": {
      expect(node.crc_ok, at).toBe(true)
      const stored = readU32(bytes, 1)
      expect(stored.toString(16).padStart(8, "0"), `${at}: crc field`).toBe(node.crc32)
      expect(crc32(bytes, 5), `${at}: crc`).toBe(stored)
      stats.crc++
      walk(node.inner, bytes.subarray(5), `${at}/crc`, leaves, stats)
      return
    }
    case "compress": {
      const r = new MsgpackReader(bytes, 1)
      const c = readCompress(r)
      expect(r.ok && c !== undefined, `${at}: compress struct`).toBe(true)
      expect(c!.algo, at).toBe(node.algo)
      expect(c!.buf.length, `${at}: lzw length`).toBe(node.lzw_len)
      const plain = lzwDecompress(c!.buf)
      expect(typeof plain, `${at}: decompress`).not.toBe("string")
      const data = plain as Uint8Array
      expect(data.length, at).toBe(node.decompressed_len)
      expect(toHex(data), `${at}: decompressed`).toBe(node.decompressed_hex)
      expect(node.lzw_recompress_matches_go, at).toBe(true)
      expect(toHex(lzwCompress(data)), `${at}: recompress`).toBe(toHex(c!.buf))
      const w = new MsgpackWriter()
      writeCompressMessage(w, lzwCompress(data))
      expect(toHex(w.toBytes()), `${at}: compress re-encode`).toBe(toHex(bytes.subarray(0, r.pos)))
      stats.compress++
      walk(node.inner, data, `${at}/compress`, leaves, stats)
      return
    }
    case "compound": {
      const count = bytes[1]!
      expect(count, `${at}: count`).toBe(node.count)
      let offset = 2 + 2 * count
      for (let i = 0; i < count; i++) {
        const len = (bytes[2 + 2 * i]! << 8) | bytes[3 + 2 * i]!
        expect(len, `${at}: length ${i}`).toBe(node.lengths[i])
        walk(node.parts[i], bytes.subarray(offset, offset + len), `${at}/part${i}`, leaves, stats)
        offset += len
      }
      return
    }
    default:
      if (node.hex !== undefined) expect(toHex(bytes), `${at}: leaf bytes`).toBe(node.hex)
      leaves.push({ node, bytes })
  }
}

/** Serf tags in `Meta`: decoded as serf does; re-encoded byte for byte whenever Go's random map order happened to be sorted. */
const checkMeta = (meta: Uint8Array | null, recorded: any, at: string): void => {
  expectBytes(meta, recorded, `${at}: Meta`)
  if (recorded === null || recorded.serf_tags === undefined) return
  expect(decodeTags(meta), `${at}: tags`).toEqual(recorded.serf_tags)
  const order: Array<string> | undefined = recorded.tags_map_key_order_on_wire
  if (order !== undefined && [...order].sort().join("\0") === order.join("\0")) {
    expect(toHex(encodeTags(recorded.serf_tags)), `${at}: tags re-encode`).toBe(recorded.hex)
  }
}

/** A serf message inside a user message payload. */
const checkSerf = (payload: Uint8Array, serf: any, at: string, stats: Stats): void => {
  const m = decodeSerfMessage(payload)
  const b = serf.body
  expect(m, `${at}: serf decode`).toBeDefined()
  stats.serf++
  switch (serf.serf_name) {
    case "leave":
      expect(m, at).toEqual({ _tag: "Leave", ltime: b.LTime, node: b.Node, prune: b.Prune })
      expect(toHex(encodeLeaveIntent({ ltime: b.LTime, node: b.Node, prune: b.Prune })), at).toBe(toHex(payload))
      return
    case "join":
      expect(m, at).toEqual({ _tag: "Join", ltime: b.LTime, node: b.Node })
      expect(toHex(encodeJoinIntent({ ltime: b.LTime, node: b.Node })), at).toBe(toHex(payload))
      return
    case "userEvent": {
      if (m?._tag !== "UserEvent") throw new Error(`${at}: not a user event`)
      expect([m.cc, m.ltime, m.name], at).toEqual([b.CC, b.LTime, b.Name])
      expectBytes(m.payload, b.Payload, `${at}: event payload`)
      expect(toHex(encodeUserEvent(m)), `${at}: event re-encode`).toBe(toHex(payload))
      return
    }
    case "query": {
      if (m?._tag !== "Query") throw new Error(`${at}: not a query`)
      expect(
        [m.flags, m.id, m.ltime, m.name, m.port, m.relayFactor, m.sourceNode, m.timeout, m.filters],
        at
      ).toEqual([b.Flags, b.ID, b.LTime, b.Name, b.Port, b.RelayFactor, b.SourceNode, b.Timeout, b.Filters])
      expectBytes(m.addr, b.Addr, `${at}: query addr`)
      expectBytes(m.payload, b.Payload, `${at}: query payload`)
      expect(toHex(encodeQuery(m)), `${at}: query re-encode`).toBe(toHex(payload))
      return
    }
    case "queryResponse": {
      if (m?._tag !== "QueryResponse") throw new Error(`${at}: not a query response`)
      expect([m.flags, m.from, m.id, m.ltime], at).toEqual([b.Flags, b.From, b.ID, b.LTime])
      expectBytes(m.payload, b.Payload, `${at}: response payload`)
      expect(toHex(encodeQueryResponse(m)), `${at}: response re-encode`).toBe(toHex(payload))
      return
    }
    default:
      throw new Error(`${at}: unexpected serf message ${serf.serf_name}`)
  }
}

/** serf's push/pull user state (serf type 2), read schema-less. */
const checkSerfState = (state: Uint8Array, serf: any, at: string, stats: Stats): void => {
  expect(state[0], at).toBe(2)
  const r = new MsgpackReader(state, 1)
  const v = readValue(r) as ReadonlyMap<string, any>
  expect(r.ok, `${at}: serf state`).toBe(true)
  expect(r.pos, `${at}: serf state length`).toBe(state.length)
  const b = serf.body
  expect([v.get("EventLTime"), v.get("LTime"), v.get("QueryLTime")], at).toEqual([b.EventLTime, b.LTime, b.QueryLTime])
  expect((v.get("Events") as ReadonlyArray<unknown>).length, at).toBe(b.Events.length)
  expect((v.get("LeftMembers") as ReadonlyArray<Uint8Array>).map((x) => new TextDecoder().decode(x)), at).toEqual(
    b.LeftMembers
  )
  expect(Object.fromEntries(v.get("StatusLTimes") as ReadonlyMap<string, number>), at).toEqual(b.StatusLTimes)
  stats.serf++
}

const checkPacketMessage = (codec: CodecShape, m: PacketMessage | undefined, leaf: Leaf, at: string, stats: Stats) => {
  const n = leaf.node
  const f = n.fields
  expect(m, `${at}: decoded`).toBeDefined()
  switch (n.name) {
    case "ping":
      if (m?._tag !== "Ping") throw new Error(`${at}: expected ping, got ${m?._tag}`)
      expect([m.node, m.seqNo, m.sourceNode, m.sourcePort], at).toEqual([
        f.Node,
        f.SeqNo,
        f.SourceNode ?? "",
        f.SourcePort ?? 0
      ])
      expectBytes(m.sourceAddr, f.SourceAddr ?? null, `${at}: SourceAddr`)
      break
    case "indirectPing":
      if (m?._tag !== "IndirectPing") throw new Error(`${at}: expected indirect ping, got ${m?._tag}`)
      expect([m.nack, m.node, m.port, m.seqNo, m.sourceNode, m.sourcePort], at).toEqual([
        f.Nack,
        f.Node,
        f.Port,
        f.SeqNo,
        f.SourceNode ?? "",
        f.SourcePort ?? 0
      ])
      expectBytes(m.sourceAddr, f.SourceAddr ?? null, `${at}: SourceAddr`)
      expectBytes(m.target, f.Target, `${at}: Target`)
      break
    case "ack":
      if (m?._tag !== "Ack") throw new Error(`${at}: expected ack, got ${m?._tag}`)
      expect(m.seqNo, at).toBe(f.SeqNo)
      expectBytes(m.payload, f.Payload, `${at}: Payload`)
      break
    case "nack":
      expect(m, at).toEqual({ _tag: "Nack", seqNo: f.SeqNo })
      break
    case "suspect":
    case "dead":
      expect(m, at).toEqual({
        _tag: n.name === "suspect" ? "Suspect" : "Dead",
        from: f.From,
        incarnation: f.Incarnation,
        node: f.Node
      })
      break
    case "alive":
      if (m?._tag !== "Alive") throw new Error(`${at}: expected alive, got ${m?._tag}`)
      expect([m.incarnation, m.node, m.port], at).toEqual([f.Incarnation, f.Node, f.Port])
      expectBytes(m.addr, f.Addr, `${at}: Addr`)
      expectBytes(m.vsn, f.Vsn, `${at}: Vsn`)
      checkMeta(m.meta, f.Meta, at)
      break
    case "user":
      if (m?._tag !== "User") throw new Error(`${at}: expected user, got ${m?._tag}`)
      expect(toHex(m.payload), at).toBe(n.payload_hex)
      if (n.serf !== undefined) checkSerf(m.payload, n.serf, at, stats)
      break
    default:
      throw new Error(`${at}: unexpected packet message ${n.name}`)
  }
  if (n.name !== "user") expect(n.go_reencode_matches, at).toBe(true)
  expect(toHex(codec.encodeMessage(m!)), `${at}: re-encode`).toBe(toHex(leaf.bytes))
  stats.structs++
}

const checkStreamMessage = (m: StreamMessage, leaf: Leaf, at: string, stats: Stats) => {
  const n = leaf.node
  switch (n.name) {
    case "pushPull": {
      if (m._tag !== "PushPull") throw new Error(`${at}: expected push/pull, got ${m._tag}`)
      expect(n.header_go_reencode_matches, at).toBe(true)
      expect([m.join, m.nodes.length, m.userState.length], at).toEqual([
        n.header.Join,
        n.header.Nodes,
        n.header.UserStateLen
      ])
      n.nodes.forEach((s: any, i: number) => {
        const d = m.nodes[i]!
        expect(s.go_reencode_matches, at).toBe(true)
        expect([d.name, d.port, d.incarnation, d.state], `${at}: node ${i}`).toEqual([
          s.Name,
          s.Port,
          s.Incarnation,
          s.State
        ])
        expectBytes(d.addr, s.Addr, `${at}: node ${i} Addr`)
        expectBytes(d.vsn, s.Vsn, `${at}: node ${i} Vsn`)
        checkMeta(d.meta, s.Meta, `${at}: node ${i}`)
      })
      expect(toHex(m.userState), `${at}: user state`).toBe(n.user_state_hex ?? "")
      if (n.user_state_serf !== undefined) checkSerfState(m.userState, n.user_state_serf, at, stats)
      break
    }
    case "ping":
      if (m._tag !== "Ping") throw new Error(`${at}: expected ping`)
      expect([m.node, m.seqNo, m.sourceNode, m.sourcePort], at).toEqual([
        n.fields.Node,
        n.fields.SeqNo,
        n.fields.SourceNode ?? "",
        n.fields.SourcePort ?? 0
      ])
      expectBytes(m.sourceAddr, n.fields.SourceAddr ?? null, at)
      break
    case "ack":
      if (m._tag !== "Ack") throw new Error(`${at}: expected ack`)
      expect(m.seqNo, at).toBe(n.fields.SeqNo)
      expectBytes(m.payload, n.fields.Payload, at)
      break
    case "user":
      if (m._tag !== "User") throw new Error(`${at}: expected user`)
      expect(n.header.UserMsgLen, at).toBe(m.payload.length)
      expect(toHex(m.payload), at).toBe(n.payload_hex)
      break
    case "err":
      expect(m, at).toEqual({ _tag: "Err", error: n.fields.Error })
      break
    default:
      throw new Error(`${at}: unexpected stream message ${n.name}`)
  }
  stats.structs++
}

const files = captureFiles()

describe("golden captures", () => {
  it("finds all 15 capture files", () => {
    expect(files.length).toBe(15)
  })

  for (const vf of files) {
    it(`${vf.file}: every entry decodes, re-encodes and rebuilds byte for byte`, () => {
      const stats: Stats = {
        entries: 0,
        udp: 0,
        tcp: 0,
        noPayload: 0,
        encrypted: 0,
        crc: 0,
        compress: 0,
        structs: 0,
        serf: 0,
        rebuilt: 0
      }
      const compression = !vf.scenario.includes("nocompress")
      const keyring = vf.encryption_key_base64 === null
        ? undefined
        : Effect.runSync(Keyring.fromBase64([vf.encryption_key_base64]))
      const plainCodec = makeMemberlistCodec({ compression })
      const cryptoCodec = keyring === undefined ? plainCodec : makeMemberlistCodec({ compression, keyring })

      for (const e of vf.entries) {
        const at = `${vf.file}#${e.index}`
        stats.entries++
        if (e.hex === undefined) {
          // TCP connection without payload (refused fallback ping): nothing to decode.
          expect(e.transport, at).toBe("tcp")
          expect(e.note, at).toBeTypeOf("string")
          expect(e.tcp_flags.length, at).toBeGreaterThan(0)
          stats.noPayload++
          continue
        }
        expect(e.all_go_reencode_checks_pass, at).toBe(true)
        const wire = fromHex(e.hex)
        expect(wire.length, at).toBe(e.len)
        const encrypted = e.decoded.layers.includes("encrypt")
        const codec = encrypted ? cryptoCodec : plainCodec
        let plaintext = wire

        if (encrypted) {
          const enc = e.decoded.encryption
          expect(enc.key_index, at).toBe(0)
          const aad = fromHex(enc.aad_hex)
          const sealed = e.transport === "tcp" ? wire.subarray(5) : wire
          if (e.transport === "tcp") {
            expect(toHex(wire.subarray(0, 5)), at).toBe(enc.aad_hex)
            expect(readU32(wire, 1), at).toBe(enc.length_field)
            expect(sealed.length, at).toBe(enc.length_field)
          }
          const opened = keyring!.decrypt(sealed, aad)
          expect(typeof opened, `${at}: decrypt`).not.toBe("string")
          plaintext = opened as Uint8Array
          expect(toHex(plaintext), `${at}: plaintext`).toBe(e.decoded.plaintext_hex)
          expect(sealed[0], at).toBe(enc.encryption_version)
          const resealed = seal(keyring!.primaryKey, enc.encryption_version, plaintext, aad, 0, fromHex(enc.nonce))
          expect(toHex(resealed), `${at}: re-encrypt with the captured nonce`).toBe(toHex(sealed))
          stats.encrypted++
        }

        const leaves: Array<Leaf> = []
        walk(e.decoded.message, plaintext, at, leaves, stats)

        if (e.transport === "udp") {
          stats.udp++
          const decoded = codec.decodePacket(wire)
          expect(decoded.errors.map((x) => x.message), at).toEqual([])
          expect(decoded.messages.length, at).toBe(leaves.length)
          leaves.forEach((leaf, i) => checkPacketMessage(codec, decoded.messages[i], leaf, `${at}[${i}]`, stats))
          // The whole packet rebuilt from its messages, as memberlist would send it (CRC when Go added it).
          const rebuilt = plainCodec.encodePacket(
            leaves.map((l) => l.bytes),
            { checksum: e.decoded.message.name === "hasCrc" }
          )
          expect(toHex(rebuilt), `${at}: packet rebuilt`).toBe(toHex(plaintext))
          stats.rebuilt++
        } else {
          stats.tcp++
          const initiator = e.stream_direction === "server->client"
          const read = codec.decodeStream(wire, { initiator })
          if (read._tag !== "Complete") {
            throw new Error(`${at}: stream ${read._tag} ${read._tag === "Failed" ? read.error.message : ""}`)
          }
          expect(read.consumed, at).toBe(wire.length)
          expect(leaves.length, at).toBe(1)
          checkStreamMessage(read.message, leaves[0]!, at, stats)
          const rebuilt = plainCodec.encodeStream(read.message, { initiator: !initiator })
          expect(toHex(rebuilt), `${at}: stream rebuilt`).toBe(toHex(plaintext))
          stats.rebuilt++
        }
      }
      expect(stats.entries).toBe(vf.entries.length)
      expect(stats.entries).toBeGreaterThan(0)
      expect(stats.udp + stats.tcp + stats.noPayload).toBe(stats.entries)
      expect(stats.rebuilt).toBe(stats.udp + stats.tcp)
      if (keyring !== undefined) expect(stats.encrypted).toBeGreaterThan(0)
      console.info(`${vf.file}: ${JSON.stringify(stats)}`)
    })
  }
})
