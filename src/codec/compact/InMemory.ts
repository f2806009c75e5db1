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
 * The bytes are still written in full, so sizes, budgets, checksums and traffic
 * figures are those of the real format. Sound because every array involved is
 * immutable once built (encoders copy into fresh arrays; `SimNetwork` never
 * writes into a datagram) and messages are read-only values. Arrays from anywhere
 * else (a socket, a test, a copy) are decoded from their bytes as usual.
 */
import type { PacketMessage, StreamMessage } from "../../protocol/Messages.ts"

/** One encoded message, and the message it encodes. */
export class EncodedMessage extends Uint8Array {
  // a slice or copy is plain bytes: it no longer vouches for what it holds
  static get [Symbol.species]() {
    return Uint8Array
  }

  readonly message: PacketMessage

  constructor(length: number, message: PacketMessage) {
    super(length)
    this.message = message
  }
}

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

/** One stream frame (length prefix included), and the message it encodes. */
export class EncodedStream extends Uint8Array {
  static get [Symbol.species]() {
    return Uint8Array
  }

  readonly message: StreamMessage

  constructor(length: number, message: StreamMessage) {
    super(length)
    this.message = message
  }
}
