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
 * A message's bytes are written in full, so sizes, budgets and traffic figures are those of
 * the real format. A datagram's bytes are written only when it is copied (`slice`,
 * `subarray`, which is how a network that does not share arrays hands it on): until then it
 * is a view, of the datagram's exact length, over a shared blank buffer. Writing a compound
 * reads every part it carries, scattered over the heap, for bytes that no receiver reads (a
 * tenth of the time of a simulated network of three thousand nodes). Sound because
 * every array involved is immutable once built (encoders copy into fresh arrays;
 * `SimNetwork` never writes into a datagram) and messages are read-only values. Arrays from
 * anywhere else (a socket, a test, a copy) are decoded from their bytes as usual.
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

/** What blank datagrams are views of: the largest a datagram can be (a bigger one is written out). */
const BLANK = new ArrayBuffer(0x10000)

/**
 * A datagram (a compound, or one part behind a checksum), and the parts it was built from: a
 * blank of the datagram's length, whose bytes a copy (`slice`, `subarray`) writes out.
 */
export class BuiltPacket extends Uint8Array {
  static get [Symbol.species]() {
    return Uint8Array
  }

  /** Writes a datagram's bytes (set by the packet encoder, which owns the format). */
  static write: (parts: ReadonlyArray<Uint8Array>, checksum: boolean) => Uint8Array

  /** A blank of `length` bytes for `parts`, when a datagram that long can be one. */
  static blank(length: number, parts: ReadonlyArray<Uint8Array>, checksum: boolean): BuiltPacket | undefined {
    return length <= BLANK.byteLength ? new BuiltPacket(length, parts, checksum, carried(parts)) : undefined
  }

  readonly parts: ReadonlyArray<Uint8Array>
  readonly checksum: boolean
  /**
   * The parts' messages, when every part is an `EncodedMessage`. Gathered by the sender, which
   * has just read each part for its length: its receiver then reads the messages without
   * touching the parts, one cache miss a message fewer where a simulated cluster spends most.
   */
  readonly messages: ReadonlyArray<PacketMessage> | undefined

  private constructor(
    length: number,
    parts: ReadonlyArray<Uint8Array>,
    checksum: boolean,
    messages: ReadonlyArray<PacketMessage> | undefined
  ) {
    super(BLANK, 0, length)
    this.parts = parts
    this.checksum = checksum
    this.messages = messages
  }

  /** The datagram's bytes, `[start, end)` of them, in an array of their own. */
  override slice(start?: number, end?: number): Uint8Array<ArrayBuffer> {
    return BuiltPacket.write(this.parts, this.checksum).slice(start, end)
  }

  /** The datagram's bytes, `[begin, end)` of them: a view of a copy, never of the blank. */
  override subarray(begin?: number, end?: number): Uint8Array<ArrayBuffer> {
    return this.slice().subarray(begin, end)
  }
}

/** The messages of `parts`, when each is an `EncodedMessage`; else undefined. */
const carried = (parts: ReadonlyArray<Uint8Array>): ReadonlyArray<PacketMessage> | undefined => {
  for (const part of parts) if (!(part instanceof EncodedMessage)) return undefined
  // made to size, as the packet keeps it
  const messages = new Array<PacketMessage>(parts.length)
  for (let i = 0; i < parts.length; i++) messages[i] = (parts[i] as EncodedMessage).message
  return messages
}
