/**
 * Datagram framing of the compact format.
 *
 * ```
 * bare      [type][fields…]                                  one message
 * compound  [7][count:u8][len_1:u16 BE]…[len_n:u16 BE][part_1]…[part_n]
 * checksum  [12][crc32:u32 BE][bare or compound]             CRC of everything after the header
 * ```
 *
 * Why fixed widths in the compound header rather than varints: the engine budgets
 * piggybacked gossip with `compoundHeaderOverhead` and `compoundPartOverhead`
 * before it has the parts, so those numbers must never be smaller than what is
 * written. A one-byte count and two-byte lengths make them exact (2 and 2) for
 * every packet, where varints would need 3 bytes for 128+ parts or 16 KiB+ parts.
 * The price is at most 255 parts of at most 65535 bytes each, which any UDP
 * datagram respects (the same limits as memberlist's compound).
 *
 * The checksum wrapper is added when asked (the engine asks for peers that would
 * want memberlist's CRC): it is 5 bytes of cheap insurance against corruption,
 * even in memory. Like memberlist's it sits outside the piggyback budget, so
 * `packetOverhead` stays 0; `udpBufferSize` leaves room under the transport's
 * `maxPacketSize` for it. A checksum is only recognised at the top level.
 */
import type { DecodedPacket, DecodeError } from "../Codec.ts"
import type { PacketMessage } from "../../protocol/Messages.ts"
import { MessageType } from "../../protocol/Messages.ts"
import { crc32 } from "../../security/Crc32.ts"
import type { Interner } from "../Interner.ts"
import { readPacketMessage } from "./Decode.ts"
import { MAX_COMPOUND_PART_BYTES, MAX_COMPOUND_PARTS } from "./Limits.ts"
import { BuiltPacket, EncodedMessage } from "./InMemory.ts"
import { asPlainBytes, decodeError as error, Reader, toDecodeError } from "./Reader.ts"
import { copyInto } from "./Writer.ts"

/** Compound bytes before the lengths: type and count. Exact. */
export const COMPOUND_HEADER_BYTES = 2
/** Compound bytes per part: its u16 length. Exact. */
export const COMPOUND_PART_BYTES = 2
/** Checksum wrapper: type and CRC. */
export const CHECKSUM_HEADER_BYTES = 5

/**
 * One part goes out as it is (the same array, no copy), several as a compound;
 * `checksum` wraps the result, which comes from `slabs` when given; `inMemory`
 * makes it a `BuiltPacket` that keeps its parts, and writes its bytes only when it
 * is copied. Throws `RangeError` beyond 255 parts or for a part over 65535 bytes,
 * which no datagram can hold anyway.
 */
export const encodePacket = (
  parts: ReadonlyArray<Uint8Array>,
  checksum: boolean,
  slabs?: Slabs,
  inMemory = false
): Uint8Array => {
  const n = parts.length
  if (n === 1 && !checksum) return parts[0]!
  if (n > MAX_COMPOUND_PARTS) {
    throw new RangeError(`compact codec: ${n} compound parts exceed ${MAX_COMPOUND_PARTS}`)
  }
  const head = checksum ? CHECKSUM_HEADER_BYTES : 0
  let body: number
  if (n === 1) body = parts[0]!.length
  else {
    body = COMPOUND_HEADER_BYTES + COMPOUND_PART_BYTES * n
    for (const p of parts) {
      if (p.length > MAX_COMPOUND_PART_BYTES) {
        throw new RangeError(`compact codec: compound part of ${p.length} bytes exceeds ${MAX_COMPOUND_PART_BYTES}`)
      }
      body += p.length
    }
  }
  const size = head + body
  if (inMemory) {
    const blank = BuiltPacket.blank(size, parts, checksum)
    if (blank !== undefined) return blank
  }
  const out = slabs === undefined ? new Uint8Array(size) : slabs.allocate(size)
  if (n === 1) out.set(parts[0]!, head)
  else {
    out[head] = MessageType.compound
    out[head + 1] = n
    let len = head + COMPOUND_HEADER_BYTES
    let at = len + COMPOUND_PART_BYTES * n
    for (const p of parts) {
      const size = p.length
      out[len++] = size >>> 8
      out[len++] = size & 0xff
      copyInto(out, at, p)
      at += size
    }
  }
  if (checksum) {
    const crc = crc32(out, head, out.length)
    out[0] = MessageType.hasCrc
    out[1] = crc >>> 24
    out[2] = (crc >>> 16) & 0xff
    out[3] = (crc >>> 8) & 0xff
    out[4] = crc & 0xff
  }
  return out
}

BuiltPacket.write = (parts, checksum) => encodePacket(parts, checksum)

/**
 * Carves datagrams out of 64 KiB slabs, as Node's `Buffer` pool does: one allocation
 * outside V8's heap per forty-odd datagrams instead of one each, all of one size, so that
 * a process sending thousands of datagrams a second does not fragment its malloc arenas.
 * A datagram lives until it is sent or delivered; a slab goes with its last datagram.
 */
export class Slabs {
  private slab = new ArrayBuffer(0)
  private used = 0

  /** `n` bytes over a slab (or over a buffer of their own, when large). */
  allocate(n: number): Uint8Array {
    if (n > SLAB_BYTES / 8) return new Uint8Array(n)
    if (this.used + n > this.slab.byteLength) {
      this.slab = new ArrayBuffer(SLAB_BYTES)
      this.used = 0
    }
    const out = new Uint8Array(this.slab, this.used, n)
    // the next one starts 8-aligned, as a separate allocation would
    this.used += (n + 7) & ~7
    return out
  }
}

const SLAB_BYTES = 64 * 1024

/** Decodes one message filling `[start, end)` exactly, with `r` (reset to that range). */
const decodePart = (
  r: Reader,
  bytes: Uint8Array,
  start: number,
  end: number,
  messages: Array<PacketMessage>,
  errors: Array<DecodeError>
): void => {
  if (start === end) {
    errors.push(error("Empty", "empty message"))
    return
  }
  r.reset(bytes, start, end)
  try {
    const m = readPacketMessage(r)
    if (r.pos === end) messages.push(m)
    else errors.push(error("Malformed", `${end - r.pos} trailing bytes after ${m._tag}`))
  } catch (e) {
    errors.push(toDecodeError(e))
  }
}

/** Splits a compound at `start` and decodes each part; a bad part costs only itself. */
const decodeCompound = (
  r: Reader,
  bytes: Uint8Array,
  start: number,
  messages: Array<PacketMessage>,
  errors: Array<DecodeError>
): void => {
  const end = bytes.length
  if (start + COMPOUND_HEADER_BYTES > end) {
    errors.push(error("Truncated", "compound without a part count"))
    return
  }
  const count = bytes[start + 1]!
  let len = start + COMPOUND_HEADER_BYTES
  let at = len + COMPOUND_PART_BYTES * count
  if (at > end) {
    errors.push(error("Truncated", `compound header for ${count} parts runs past the end`))
    return
  }
  for (let i = 0; i < count; i++) {
    const size = (bytes[len]! << 8) | bytes[len + 1]!
    len += COMPOUND_PART_BYTES
    if (at + size > end) {
      // Parts are contiguous: once one runs past the end, none after it has any bytes.
      errors.push(error("Truncated", `compound part ${i} of ${size} bytes runs past the end`))
      at = end + 1
      continue
    }
    decodePart(r, bytes, at, at + size, messages, errors)
    at += size
  }
  if (at < end) errors.push(error("Malformed", `${end - at} trailing bytes after compound`))
}

const NO_ERRORS: ReadonlyArray<DecodeError> = Object.freeze([])

/**
 * The messages of a packet built from `parts`: those an in-memory codec encoded are read from
 * the part, any other part is decoded from its bytes.
 */
const messagesOf = (parts: ReadonlyArray<Uint8Array>, interner: Interner | undefined): DecodedPacket => {
  const messages: Array<PacketMessage> = []
  const errors: Array<DecodeError> = []
  for (const part of parts) {
    if (part instanceof EncodedMessage) {
      messages.push(part.message)
      continue
    }
    const bytes = asPlainBytes(part)
    decodePart(new Reader(bytes, 0, bytes.length, true, interner), bytes, 0, bytes.length, messages, errors)
  }
  return { messages, errors }
}

/**
 * Never throws: every failure becomes a `DecodeError` in the result. Byte fields are views of
 * `input`, or with an `interner` its shared copies when short; names too come from it. With
 * `inMemory`, a datagram an in-memory codec built is read from what it carries (see `InMemory.ts`).
 */
export const decodePacket = (input: Uint8Array, interner?: Interner, inMemory = false): DecodedPacket => {
  if (inMemory) {
    if (input instanceof BuiltPacket) {
      return input.messages !== undefined ? { messages: input.messages, errors: NO_ERRORS } : messagesOf(input.parts, interner)
    }
    if (input instanceof EncodedMessage) return { messages: [input.message], errors: NO_ERRORS }
  }
  const bytes = asPlainBytes(input)
  const messages: Array<PacketMessage> = []
  const errors: Array<DecodeError> = []
  try {
    let start = 0
    if (bytes.length === 0) {
      errors.push(error("Empty", "empty packet"))
      return { messages, errors }
    }
    if (bytes[0] === MessageType.hasCrc) {
      if (bytes.length < CHECKSUM_HEADER_BYTES) {
        errors.push(error("Truncated", "checksum header runs past the end"))
        return { messages, errors }
      }
      const expected = ((bytes[1]! << 24) | (bytes[2]! << 16) | (bytes[3]! << 8) | bytes[4]!) >>> 0
      if (crc32(bytes, CHECKSUM_HEADER_BYTES, bytes.length) !== expected) {
        errors.push(error("Checksum", "CRC32 mismatch"))
        return { messages, errors }
      }
      start = CHECKSUM_HEADER_BYTES
    }
    const r = new Reader(bytes, start, bytes.length, true, interner)
    if (bytes[start] === MessageType.compound) decodeCompound(r, bytes, start, messages, errors)
    else decodePart(r, bytes, start, bytes.length, messages, errors)
  } catch (e) {
    // Unreachable by design (each part is guarded); kept so the contract holds regardless.
    errors.push(toDecodeError(e))
  }
  return { messages, errors }
}
