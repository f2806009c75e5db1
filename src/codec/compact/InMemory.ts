/**
 * Datagrams and stream frames that carry what they were made from, for a transport that hands the
 * receiver the very array the sender built (`SimNetwork` with `shareBytes`).
 * A simulated cluster delivers each broadcast thousands of times, piggybacked in
 * compounds, and every receiver would decode the same bytes into the same message.
 * An in-memory codec instead encodes each message into an `EncodedMessage` that
 * keeps the message, and builds each compound as a `BuiltPacket` that keeps its
 * parts; its receivers read those messages rather than the bytes. A stream frame
 * is an `EncodedStream` that keeps its message: a node joining a cluster of ten
 * thousand pulls a state of ten thousand members, which its seed would otherwise
 * write out and the joiner read back, name by name, for every join.
 *
 * What they read is the very object the sender encoded: an alive or a push/pull entry that a
 * shared `Directory` built also carries its directory ids (`Directory.announcementOf`).
 *
 * The bytes are still written in full, so sizes, budgets, checksums and traffic
 * figures are those of the real format. Sound because every array involved is
 * immutable once built (encoders copy into fresh arrays; `SimNetwork` never
 * writes into a datagram) and messages are read-only values. Arrays from anywhere
 * else (a socket, a test, a copy) are decoded from their bytes as usual.
 */
import type { PacketMessage, StreamMessage } from "../../protocol/Messages.ts"

/** Bytes, and the message they encode. */
class Carrying<M> extends Uint8Array {
  // a slice or copy is plain bytes: it no longer vouches for what it holds
  static get [Symbol.species]() {
    return Uint8Array
  }

  readonly message: M

  constructor(length: number, message: M) {
    super(length)
    this.message = message
  }
}

/** One encoded packet message, and the message. */
export class EncodedMessage extends Carrying<PacketMessage> {}

/** One stream frame (length prefix included), and the message it encodes. */
export class EncodedStream extends Carrying<StreamMessage> {}

/** A datagram (a compound, or one part behind a checksum), and the parts it was built from. */
export class BuiltPacket extends Uint8Array {
  static get [Symbol.species]() {
    return Uint8Array
  }

  readonly parts: ReadonlyArray<Uint8Array>

  constructor(buffer: ArrayBuffer, byteOffset: number, length: number, parts: ReadonlyArray<Uint8Array>) {
    super(buffer, byteOffset, length)
    this.parts = parts
  }
}
