/**
 * The memberlist wire codec: byte-compatible with hashicorp/memberlist 0.2.2
 * (what Debian's serf runs) and newer releases, so this library can join a
 * cluster of serf agents. It is the library's default `Codec`.
 *
 * Packets (UDP), outermost last: message or compound → LZW `compress` (only
 * when strictly shorter) → CRC32 `hasCrc` (when asked) → AES-GCM (keyring set
 * and `verifyOutgoing`) → label header. Streams (TCP): message with its raw
 * trailing bytes → `compress` (always, when compression is on) → encrypted
 * frame `0x0a | len | sealed` → label header (initiator only).
 *
 * Decoding undoes the same steps, never throws, and turns every problem into
 * a `DecodeError` with a reason; a compound with bad parts still yields its
 * good ones. Limits follow newer memberlist, which hardened the decoder.
 *
 * What is never sent, because it kills a memberlist 0.2.2 agent or poisons
 * its table: a zero-length compound part (empty
 * parts are dropped), a compound of more than 255 parts (larger sets nest
 * compounds, which every version unpacks), a Vsn other than 6 bytes (see
 * `MemberlistMessages.ts`), an empty compressed or encrypted payload (there is
 * always at least a type byte).
 *
 * Encoded bytes may be views into a shared buffer (see `msgpack/Bytes.ts`),
 * and a packet needing no wrapper is the part itself: use `byteOffset` and
 * `byteLength`, never `.buffer` alone, and do not modify what was returned.
 * Decoded byte fields are copies, independent of the input.
 */
import { Effect, Layer, Schema } from "effect"
import type { PacketMessage, PushPull, StreamMessage, UserMsg } from "../protocol/Messages.ts"
import { crc32 } from "../security/Crc32.ts"
import {
  type DecryptFailure,
  ENCRYPT_MSG,
  type EncryptionVersion,
  encryptionOverhead,
  type Keyring,
  MAX_STREAM_FRAME,
  packetAuthData,
  streamAuthData
} from "../security/Keyring.ts"
import { checkLabelHeader, labelBytes, labelHeaderLength, writeLabelHeader } from "../security/Label.ts"
import { lzwCompressView, lzwDecompress, type LzwFailure } from "../security/Lzw.ts"
import {
  Codec,
  type CodecShape,
  type DecodedPacket,
  DecodeError,
  type DecodeReason,
  type PacketOptions,
  type StreamOptions,
  type StreamRead
} from "./Codec.ts"
import {
  compressMessageLength,
  readAck,
  readAlive,
  readCompress,
  readErr,
  readIndirectPing,
  readNack,
  readPing,
  readPushNodeState,
  readPushPullHeader,
  readSuspectOrDead,
  readUserMsgHeader,
  writeAck,
  writeAlive,
  writeCompressMessage,
  writeErr,
  writeIndirectPing,
  writeNack,
  writePing,
  writePushNodeState,
  writePushPullHeader,
  writeSuspectOrDead,
  writeUserMsgHeader
} from "./MemberlistMessages.ts"
import { allocBytes } from "./msgpack/Bytes.ts"
import { MsgpackReader } from "./msgpack/Reader.ts"
import { MsgpackWriter } from "./msgpack/Writer.ts"

/** Options of the memberlist codec; the defaults are memberlist's. */
export interface MemberlistCodecOptions {
  /** LZW-compress packets (when shorter) and streams (always). Default true. */
  readonly compression?: boolean
  /** Encrypt with this keyring (primary key seals, every key opens). Default: no encryption. */
  readonly keyring?: Keyring
  /** Cluster label (newer memberlist only; 0.2.2 peers cannot read labelled traffic). Default: none. */
  readonly label?: string
  /** Refuse unencrypted input when a keyring is set; false accepts plaintext during a roll-out. Default true. */
  readonly verifyIncoming?: boolean
  /** Encrypt output when a keyring is set; false sends plaintext during a roll-out. Default true. */
  readonly verifyOutgoing?: boolean
  /** 1 for protocol version ≥ 2 peers (serf), 0 for protocol version 1. Default 1. */
  readonly encryptionVersion?: EncryptionVersion
}

/** The codec options cannot work (a label longer than 255 bytes). */
export class CodecConfigError extends Schema.TaggedError<CodecConfigError>()("CodecConfigError", {
  message: Schema.String
}) {}

/** Decoder limits, as newer memberlist enforces them. */
export const MemberlistLimits = {
  /** Encrypted stream frame (`maxPushStateBytes`). */
  maxEncryptedStream: MAX_STREAM_FRAME,
  /** Node states announced by a push/pull header. */
  maxPushPullNodes: 1024 * 1024,
  /** Raw user state of a push/pull. */
  maxUserState: 20 * 1024 * 1024,
  /** Raw payload of a stream user message. */
  maxUserMessage: 20 * 1024 * 1024,
  /** Decompressed bytes per packet or stream. */
  maxDecompressed: 40 * 1024 * 1024,
  /** Any single msgpack string, byte slice, array or map in a stream still arriving. */
  maxStreamValue: 40 * 1024 * 1024,
  /** Compounds and compress wrappers nested inside each other in one packet. */
  maxNesting: 8
} as const

const MSG_PING = 0
const MSG_INDIRECT_PING = 1
const MSG_ACK = 2
const MSG_SUSPECT = 3
const MSG_ALIVE = 4
const MSG_DEAD = 5
const MSG_PUSH_PULL = 6
const MSG_COMPOUND = 7
const MSG_USER = 8
const MSG_COMPRESS = 9
const MSG_NACK = 11
const MSG_HAS_CRC = 12
const MSG_ERR = 13

const MAX_COMPOUND_PARTS = 255
const MAX_PART_LENGTH = 0xffff
const CRC_HEADER = 5

const EMPTY = new Uint8Array(0)
const NEED_MORE: StreamRead = { _tag: "NeedMore" }

const copyBytes = (buf: Uint8Array, start: number, end: number): Uint8Array => {
  const out = new Uint8Array(end - start)
  out.set(buf.subarray(start, end))
  return out
}

const readU32 = (buf: Uint8Array, at: number): number =>
  ((buf[at]! << 24) >>> 0) + ((buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!)

const writeU32 = (buf: Uint8Array, at: number, v: number): void => {
  buf[at] = v >>> 24
  buf[at + 1] = (v >>> 16) & 0xff
  buf[at + 2] = (v >>> 8) & 0xff
  buf[at + 3] = v & 0xff
}

const decryptText: Record<DecryptFailure, string> = {
  Empty: "cannot decrypt an empty payload",
  UnsupportedVersion: "unsupported encryption version",
  TooSmall: "payload is too small to decrypt",
  NoKey: "no installed key could decrypt the message",
  BadPadding: "invalid padding"
}

const lzwText: Record<LzwFailure, string> = {
  UnexpectedEof: "LZW stream ended before its end code",
  InvalidCode: "invalid LZW code",
  TooLarge: `decompressed size exceeds ${MemberlistLimits.maxDecompressed} bytes`
}

const failReason = (r: MsgpackReader): DecodeReason =>
  r.failure === "TooLarge" ? "TooLarge" : r.failure === "Truncated" ? "Truncated" : "Malformed"

/** Packs parts (each ≤ 65535 bytes) into one compound; assumes at most 255. */
const flatCompound = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  let size = 2 + 2 * parts.length
  for (const p of parts) size += p.length
  const out = allocBytes(size)
  out[0] = MSG_COMPOUND
  out[1] = parts.length
  let h = 2
  let p = 2 + 2 * parts.length
  for (const part of parts) {
    out[h++] = part.length >>> 8
    out[h++] = part.length & 0xff
    out.set(part, p)
    p += part.length
  }
  return out
}

/**
 * A compound of any number of parts: up to 255 flat, beyond that compounds of
 * compounds (each inner one ≤ 255 parts and ≤ 65535 bytes), which memberlist
 * unpacks recursively. What cannot fit one datagram anyway is cut at 255 chunks.
 */
const buildCompound = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (parts.length <= MAX_COMPOUND_PARTS) return flatCompound(parts)
  const chunks: Array<Uint8Array> = []
  let i = 0
  while (i < parts.length) {
    let j = i
    let size = 2
    while (j < parts.length && j - i < MAX_COMPOUND_PARTS && size + 2 + parts[j]!.length <= MAX_PART_LENGTH) {
      size += 2 + parts[j]!.length
      j++
    }
    if (j <= i + 1) {
      chunks.push(parts[i]!)
      i++
    } else {
      chunks.push(flatCompound(parts.slice(i, j)))
      i = j
    }
  }
  if (chunks.length >= parts.length) return flatCompound(chunks.slice(0, MAX_COMPOUND_PARTS))
  return buildCompound(chunks)
}

/** Everything one `decodePacket` call accumulates. */
interface PacketContext {
  readonly messages: Array<PacketMessage>
  readonly errors: Array<DecodeError>
}

/** Builds the memberlist codec. Throws `CodecConfigError` for a label longer than 255 bytes. */
export const makeMemberlistCodec = (options: MemberlistCodecOptions = {}): CodecShape => {
  const compression = options.compression ?? true
  const keyring = options.keyring
  const verifyIncoming = options.verifyIncoming ?? true
  const verifyOutgoing = options.verifyOutgoing ?? true
  const version: EncryptionVersion = options.encryptionVersion ?? 1
  const label = labelBytes(options.label ?? "")
  if (label === undefined) throw new CodecConfigError({ message: "label must be at most 255 bytes of UTF-8" })
  const labelLength = labelHeaderLength(label)
  const sealOutgoing = keyring !== undefined && verifyOutgoing

  const writer = new MsgpackWriter(1024)
  const compressWriter = new MsgpackWriter(1024)
  const reader = new MsgpackReader(EMPTY)
  /** Decompressed bytes the packet being decoded may still produce (decoding never re-enters). */
  let budget = 0

  /**
   * `0x09 {Algo: 0, Buf: lzw(body)}` as a fresh array — or undefined when it
   * would not be shorter than `limit` bytes (packets keep the plain form then).
   */
  const compressMessage = (body: Uint8Array, limit = Infinity): Uint8Array | undefined => {
    const lzw = lzwCompressView(body)
    if (compressMessageLength(lzw.length) >= limit) return undefined
    compressWriter.reset()
    writeCompressMessage(compressWriter, lzw)
    return compressWriter.toBytes()
  }

  // ---------------------------------------------------------------------------------------------
  // encoding

  const encodeMessage = (m: PacketMessage): Uint8Array => {
    if (m._tag === "User") {
      const out = allocBytes(1 + m.payload.length)
      out[0] = MSG_USER
      out.set(m.payload, 1)
      return out
    }
    writer.reset()
    switch (m._tag) {
      case "Ping":
        writer.byte(MSG_PING)
        writePing(writer, m)
        break
      case "IndirectPing":
        writer.byte(MSG_INDIRECT_PING)
        writeIndirectPing(writer, m)
        break
      case "Ack":
        writer.byte(MSG_ACK)
        writeAck(writer, m)
        break
      case "Nack":
        writer.byte(MSG_NACK)
        writeNack(writer, m)
        break
      case "Suspect":
        writer.byte(MSG_SUSPECT)
        writeSuspectOrDead(writer, m)
        break
      case "Alive":
        writer.byte(MSG_ALIVE)
        writeAlive(writer, m)
        break
      case "Dead":
        writer.byte(MSG_DEAD)
        writeSuspectOrDead(writer, m)
        break
    }
    return writer.toBytes()
  }

  const assemble = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
    let nonEmpty = 0
    let last: Uint8Array = EMPTY
    for (const p of parts) {
      if (p.length > 0) {
        nonEmpty++
        last = p
      }
    }
    if (nonEmpty <= 1) return last
    // A part longer than a compound length field can express could not be sent in a datagram anyway.
    const usable = parts.filter((p) => p.length > 0 && p.length <= MAX_PART_LENGTH)
    if (usable.length <= 1) return usable[0] ?? EMPTY
    return buildCompound(usable)
  }

  const encodePacket = (parts: ReadonlyArray<Uint8Array>, packetOptions: PacketOptions): Uint8Array => {
    let body = assemble(parts)
    if (body.length === 0) return EMPTY
    if (compression) body = compressMessage(body, body.length) ?? body
    const crcLength = packetOptions.checksum ? CRC_HEADER : 0
    if (sealOutgoing) {
      let plain = body
      if (crcLength > 0) {
        plain = allocBytes(CRC_HEADER + body.length)
        plain[0] = MSG_HAS_CRC
        writeU32(plain, 1, crc32(body))
        plain.set(body, CRC_HEADER)
      }
      const out = keyring.encrypt(plain, version, packetAuthData(label), labelLength)
      writeLabelHeader(out, 0, label)
      return out
    }
    if (crcLength === 0 && labelLength === 0) return body
    const out = allocBytes(labelLength + crcLength + body.length)
    let p = writeLabelHeader(out, 0, label)
    if (crcLength > 0) {
      out[p] = MSG_HAS_CRC
      writeU32(out, p + 1, crc32(body))
      p += CRC_HEADER
    }
    out.set(body, p)
    return out
  }

  const encodeStream = (m: StreamMessage, streamOptions: StreamOptions): Uint8Array => {
    writer.reset()
    switch (m._tag) {
      case "PushPull":
        writer.byte(MSG_PUSH_PULL)
        writePushPullHeader(writer, { join: m.join, nodes: m.nodes.length, userStateLen: m.userState.length })
        for (const node of m.nodes) writePushNodeState(writer, node)
        writer.raw(m.userState)
        break
      case "Ping":
        writer.byte(MSG_PING)
        writePing(writer, m)
        break
      case "Ack":
        writer.byte(MSG_ACK)
        writeAck(writer, m)
        break
      case "User":
        writer.byte(MSG_USER)
        writeUserMsgHeader(writer, m.payload.length)
        writer.raw(m.payload)
        break
      case "Err":
        writer.byte(MSG_ERR)
        writeErr(writer, m)
        break
    }
    const body = compression ? compressMessage(writer.view())! : writer.view()
    const headroom = streamOptions.initiator ? labelLength : 0
    if (sealOutgoing) {
      const out = keyring.encryptFrame(body, version, label, headroom)
      if (headroom > 0) writeLabelHeader(out, 0, label)
      return out
    }
    const out = allocBytes(headroom + body.length)
    if (headroom > 0) writeLabelHeader(out, 0, label)
    out.set(body, headroom)
    return out
  }

  // ---------------------------------------------------------------------------------------------
  // packet decoding

  const packetError = (ctx: PacketContext, reason: DecodeReason, message: string): void => {
    ctx.errors.push(new DecodeError({ reason, message }))
  }

  const decodeStruct = (ctx: PacketContext, buf: Uint8Array, type: number): void => {
    const r = reader.reset(buf, 1, buf.length)
    let m: PacketMessage | undefined
    let name: string
    switch (type) {
      case MSG_PING:
        name = "ping"
        m = readPing(r)
        break
      case MSG_INDIRECT_PING:
        name = "indirect ping"
        m = readIndirectPing(r)
        break
      case MSG_ACK:
        name = "ack"
        m = readAck(r)
        break
      case MSG_NACK:
        name = "nack"
        m = readNack(r)
        break
      case MSG_SUSPECT:
        name = "suspect"
        m = readSuspectOrDead(r, "Suspect")
        break
      case MSG_ALIVE:
        name = "alive"
        m = readAlive(r)
        break
      default:
        name = "dead"
        m = readSuspectOrDead(r, "Dead")
    }
    if (m !== undefined) ctx.messages.push(m)
    else packetError(ctx, failReason(r), `${name}: ${r.detail}`)
  }

  const decodeCompound = (ctx: PacketContext, buf: Uint8Array, depth: number): void => {
    if (buf.length < 2) return packetError(ctx, "Truncated", "compound: missing part count")
    const count = buf[1]!
    const headerEnd = 2 + 2 * count
    if (buf.length < headerEnd) return packetError(ctx, "Truncated", "compound: truncated length table")
    let offset = headerEnd
    for (let i = 0; i < count; i++) {
      const len = (buf[2 + 2 * i]! << 8) | buf[3 + 2 * i]!
      if (offset + len > buf.length) {
        return packetError(ctx, "Truncated", `compound: ${count - i} of ${count} parts truncated`)
      }
      dispatch(ctx, buf.subarray(offset, offset + len), depth + 1)
      offset += len
    }
  }

  /** Decompresses a `compress` message; the result, or undefined after recording the error. */
  const decompress = (
    buf: Uint8Array,
    budget: number,
    onError: (reason: DecodeReason, message: string) => void
  ): { readonly data: Uint8Array; readonly end: number } | undefined => {
    const r = reader.reset(buf, 1, buf.length)
    const c = readCompress(r)
    if (c === undefined) {
      onError(failReason(r), `compress: ${r.detail}`)
      return undefined
    }
    const end = r.pos
    if (c.algo !== 0) {
      onError("Compression", `unknown compression algorithm ${c.algo}`)
      return undefined
    }
    const data = lzwDecompress(c.buf, budget)
    if (typeof data === "string") {
      onError(data === "TooLarge" ? "TooLarge" : "Compression", lzwText[data])
      return undefined
    }
    if (data.length === 0) {
      onError("Compression", "compressed payload decompresses to nothing")
      return undefined
    }
    return { data, end }
  }

  const dispatch = (ctx: PacketContext, buf: Uint8Array, depth: number): void => {
    if (buf.length === 0) return packetError(ctx, "Empty", "zero-length message")
    if (depth > MemberlistLimits.maxNesting) return packetError(ctx, "Malformed", "messages nested too deep")
    const type = buf[0]!
    switch (type) {
      case MSG_PING:
      case MSG_INDIRECT_PING:
      case MSG_ACK:
      case MSG_NACK:
      case MSG_SUSPECT:
      case MSG_ALIVE:
      case MSG_DEAD:
        return decodeStruct(ctx, buf, type)
      case MSG_USER:
        ctx.messages.push({ _tag: "User", payload: copyBytes(buf, 1, buf.length) })
        return
      case MSG_COMPOUND:
        return decodeCompound(ctx, buf, depth)
      case MSG_COMPRESS: {
        const out = decompress(buf, budget, (reason, message) => packetError(ctx, reason, message))
        if (out === undefined) return
        budget -= out.data.length
        return dispatch(ctx, out.data, depth + 1)
      }
      default:
        return packetError(ctx, "UnknownType", `unknown packet message type ${type}`)
    }
  }

  const decodePacket = (bytes: Uint8Array): DecodedPacket => {
    const ctx: PacketContext = { messages: [], errors: [] }
    budget = MemberlistLimits.maxDecompressed
    if (bytes.length === 0) {
      packetError(ctx, "Empty", "empty packet")
      return ctx
    }
    let buf = bytes
    const start = checkLabelHeader(buf, label)
    if (typeof start === "string") {
      packetError(
        ctx,
        "Label",
        start === "Mismatch" ? "packet label does not match" : start === "Empty" ? "empty label header" : "truncated label header"
      )
      return ctx
    }
    if (start > 0) buf = buf.subarray(start)
    if (keyring !== undefined) {
      const plain = keyring.decrypt(buf, packetAuthData(label))
      if (typeof plain !== "string") buf = plain
      else if (verifyIncoming) {
        packetError(ctx, "Decrypt", decryptText[plain])
        return ctx
      }
    }
    if (buf.length >= CRC_HEADER && buf[0] === MSG_HAS_CRC) {
      if (crc32(buf, CRC_HEADER) !== readU32(buf, 1)) {
        packetError(ctx, "Checksum", "CRC32 mismatch")
        return ctx
      }
      buf = buf.subarray(CRC_HEADER)
    }
    dispatch(ctx, buf, 0)
    return ctx
  }

  // ---------------------------------------------------------------------------------------------
  // stream decoding

  const failed = (reason: DecodeReason, message: string): StreamRead => ({
    _tag: "Failed",
    error: new DecodeError({ reason, message })
  })

  /** A reader failure: more bytes may help only when the input is still arriving and was cut short. */
  const readFailed = (r: MsgpackReader, complete: boolean, what: string): StreamRead =>
    r.failure === "Truncated" && !complete ? NEED_MORE : failed(failReason(r), `${what}: ${r.detail}`)

  const complete = (message: StreamMessage, consumed: number): StreamRead => ({ _tag: "Complete", message, consumed })

  /** Parses one stream message (type byte first). `whole`: the bytes are all there is (decrypted or decompressed). */
  const parseStreamMessage = (buf: Uint8Array, whole: boolean): StreamRead => {
    const r = reader.reset(buf, 1, buf.length, whole ? Number.MAX_SAFE_INTEGER : MemberlistLimits.maxStreamValue)
    const type = buf[0]!
    switch (type) {
      case MSG_PUSH_PULL: {
        const header = readPushPullHeader(r)
        if (header === undefined) return readFailed(r, whole, "push/pull header")
        if (header.nodes > MemberlistLimits.maxPushPullNodes) {
          return failed("TooLarge", `push/pull announces ${header.nodes} nodes`)
        }
        if (header.userStateLen > MemberlistLimits.maxUserState) {
          return failed("TooLarge", `push/pull user state of ${header.userStateLen} bytes`)
        }
        const nodes: Array<PushPull["nodes"][number]> = []
        for (let i = 0; i < header.nodes; i++) {
          const state = readPushNodeState(r)
          if (state === undefined) return readFailed(r, whole, `push/pull node state ${i}`)
          if (state !== null) nodes.push(state)
        }
        if (r.remaining < header.userStateLen) {
          return whole ? failed("Truncated", "push/pull user state truncated") : NEED_MORE
        }
        const userState = copyBytes(buf, r.pos, r.pos + header.userStateLen)
        const message: PushPull = { _tag: "PushPull", join: header.join, nodes, userState }
        return complete(message, r.pos + header.userStateLen)
      }
      case MSG_USER: {
        const len = readUserMsgHeader(r)
        if (len < 0) return readFailed(r, whole, "user message header")
        if (len > MemberlistLimits.maxUserMessage) return failed("TooLarge", `user message of ${len} bytes`)
        if (r.remaining < len) return whole ? failed("Truncated", "user message truncated") : NEED_MORE
        const message: UserMsg = { _tag: "User", payload: copyBytes(buf, r.pos, r.pos + len) }
        return complete(message, r.pos + len)
      }
      case MSG_PING: {
        const m = readPing(r)
        return m === undefined ? readFailed(r, whole, "ping") : complete(m, r.pos)
      }
      case MSG_ACK: {
        const m = readAck(r)
        return m === undefined ? readFailed(r, whole, "ack") : complete(m, r.pos)
      }
      case MSG_ERR: {
        const m = readErr(r)
        return m === undefined ? readFailed(r, whole, "err") : complete(m, r.pos)
      }
      default:
        return failed("UnknownType", `unknown stream message type ${type}`)
    }
  }

  /** A stream message, possibly wrapped in `compress` (one level, as memberlist reads it). */
  const parseStreamBody = (buf: Uint8Array, whole: boolean): StreamRead => {
    if (buf[0] !== MSG_COMPRESS) return parseStreamMessage(buf, whole)
    let error: StreamRead = NEED_MORE
    if (!whole) {
      // Wait for the whole compress struct before decompressing anything.
      const r = reader.reset(buf, 1, buf.length, MemberlistLimits.maxStreamValue)
      if (readCompress(r) === undefined) return readFailed(r, false, "compress")
    }
    const out = decompress(buf, MemberlistLimits.maxDecompressed, (reason, message) => {
      error = failed(reason, message)
    })
    if (out === undefined) return error
    const inner = parseStreamMessage(out.data, true)
    return inner._tag === "Complete" ? complete(inner.message, out.end) : inner
  }

  const decodeStream = (buffer: Uint8Array, streamOptions: StreamOptions): StreamRead => {
    let offset = 0
    if (!streamOptions.initiator) {
      if (buffer.length === 0) return NEED_MORE
      const start = checkLabelHeader(buffer, label)
      if (start === "NeedMore") return NEED_MORE
      if (start === "Mismatch") return failed("Label", "stream label does not match")
      if (start === "Empty") return failed("Label", "empty label header")
      offset = start
    }
    if (buffer.length <= offset) return NEED_MORE
    if (buffer[offset] === ENCRYPT_MSG) {
      if (keyring === undefined) return failed("Decrypt", "remote state is encrypted and encryption is not configured")
      if (buffer.length < offset + 5) return NEED_MORE
      const length = readU32(buffer, offset + 1)
      if (length > MemberlistLimits.maxEncryptedStream) {
        return failed("TooLarge", `encrypted stream frame of ${length} bytes`)
      }
      const end = offset + 5 + length
      if (buffer.length < end) return NEED_MORE
      const plain = keyring.decrypt(buffer.subarray(offset + 5, end), streamAuthData(length, label))
      if (typeof plain === "string") return failed("Decrypt", decryptText[plain])
      if (plain.length === 0) return failed("Empty", "encrypted stream frame holds no message")
      const inner = parseStreamBody(plain, true)
      return inner._tag === "Complete" ? complete(inner.message, end) : inner
    }
    if (keyring !== undefined && verifyIncoming) {
      return failed("Unencrypted", "encryption is configured but remote state is not encrypted")
    }
    const inner = parseStreamBody(offset === 0 ? buffer : buffer.subarray(offset), false)
    return inner._tag === "Complete" ? complete(inner.message, offset + inner.consumed) : inner
  }

  return {
    name: "memberlist",
    encodeMessage,
    compoundHeaderOverhead: 2,
    compoundPartOverhead: 2,
    packetOverhead: (sealOutgoing ? encryptionOverhead(version) : 0) + CRC_HEADER + labelLength,
    encodePacket,
    decodePacket,
    encodeStream,
    decodeStream
  }
}

/** The memberlist wire codec as the `Codec` service. */
export const MemberlistCodec = {
  /** A layer providing the memberlist codec; fails with `CodecConfigError` for an unusable label. */
  layer: (options: MemberlistCodecOptions = {}): Layer.Layer<Codec, CodecConfigError> =>
    Layer.effect(
      Codec,
      Effect.try({
        try: () => makeMemberlistCodec(options),
        catch: (e) => e instanceof CodecConfigError ? e : new CodecConfigError({ message: String(e) })
      })
    )
} as const
