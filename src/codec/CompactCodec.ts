/**
 * `CompactCodec`: a small, fast binary `Codec` for the in-memory simulator and
 * for clusters that need no memberlist compatibility. Type bytes are memberlist's
 * (`MessageType`) so logs read the same; fields are varints, length-prefixed
 * strings and nullable byte fields in the order of `Messages.ts`. The layouts
 * are described in `compact/Encode.ts`, `compact/Packet.ts` and `compact/Stream.ts`.
 *
 * Per-message work is plain synchronous code over `Uint8Array`s; decoding never
 * throws. Stream label and initiator options do not apply to this format and
 * are ignored.
 */
import { Layer } from "effect"
import type { PacketMessage } from "../protocol/Messages.ts"
import { Codec, type CodecShape } from "./Codec.ts"
import { writePacketMessage } from "./compact/Encode.ts"
import { COMPOUND_HEADER_BYTES, COMPOUND_PART_BYTES, decodePacket, encodePacket, Slabs } from "./compact/Packet.ts"
import { EntryBytes } from "./compact/EntryBytes.ts"
import { EncodedMessage } from "./compact/InMemory.ts"
import { decodeStream, encodeStream } from "./compact/Stream.ts"
import { Writer } from "./compact/Writer.ts"
import { Interner } from "./Interner.ts"

/** The scratch an in-memory codec keeps: room for the state of ten thousand members. */
const IN_MEMORY_SCRATCH = 1 << 20

/**
 * A compact codec instance. It owns one scratch buffer that every encode reuses
 * (encoding is synchronous, so encodes never overlap), then copies the result out,
 * and one `Interner` for the names and short fields it decodes.
 * Encoding throws `RangeError` only for a message no decoder would accept
 * (port out of range, vsn not 6 bytes, non-uint32 numbers, oversized fields).
 *
 * `inMemory`: the codec of a simulated network, whose receivers get the arrays
 * their senders built; they read the messages those arrays carry (`InMemory.ts`),
 * datagrams and stream frames alike.
 */
export const makeCompactCodec = (options: { readonly inMemory?: boolean } = {}): CodecShape => {
  const inMemory = options.inMemory === true
  const writer = new Writer(inMemory ? IN_MEMORY_SCRATCH : undefined)
  const interner = new Interner()
  const slabs = new Slabs()
  const entries = inMemory ? new EntryBytes() : undefined
  return {
    name: "compact",
    encodeMessage: (message: PacketMessage) => {
      writer.reset(0)
      writePacketMessage(writer, message)
      return inMemory ? writer.finishInto(0, (n) => new EncodedMessage(n, message)) : writer.finish(0)
    },
    compoundHeaderOverhead: COMPOUND_HEADER_BYTES,
    compoundPartOverhead: COMPOUND_PART_BYTES,
    packetOverhead: 0,
    encodePacket: (parts, options) => encodePacket(parts, options.checksum, slabs, inMemory),
    decodePacket: (bytes) => decodePacket(bytes, interner, inMemory),
    encodeStream: (message) => encodeStream(writer, message, inMemory, entries),
    decodeStream: (buffer) => decodeStream(buffer, interner, inMemory)
  }
}

/** Provides `Codec` with one shared compact codec (it holds no per-node state, only interned fields). */
export const CompactCodec = {
  layer: Layer.succeed(Codec, makeCompactCodec()),
  /** For nodes on a `SimNetwork` that shares datagrams: receivers read the messages senders encoded. */
  layerInMemory: Layer.succeed(Codec, makeCompactCodec({ inMemory: true }))
} as const
