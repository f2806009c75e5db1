/**
 * The `Codec` service: protocol messages <-> bytes. The engine encodes each
 * message once (broadcast queues keep the bytes and resend them), then asks the
 * codec to assemble a datagram from parts: bare when one, a compound when
 * several, then whatever wrappers the codec applies (compression, checksum,
 * encryption). Decoding never throws: bad bytes come back as `DecodeError`s.
 */
import { Context, Schema } from "effect"
import type { PacketMessage, StreamMessage } from "../protocol/Messages.ts"

/** Why bytes could not be decoded. */
export const DecodeReason = Schema.Literals([
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
export type DecodeReason = typeof DecodeReason.Type

/** Bytes that are not a valid message: counted and dropped, never applied. */
export class DecodeError extends Schema.TaggedError<DecodeError>()("DecodeError", {
  reason: DecodeReason,
  message: Schema.String
}) {}

/** What one datagram held: the messages that decoded, and an error for each part that did not. */
export interface DecodedPacket {
  readonly messages: ReadonlyArray<PacketMessage>
  readonly errors: ReadonlyArray<DecodeError>
}

/** Result of trying to decode a stream message from the bytes read so far. */
export type StreamRead =
  | { readonly _tag: "Complete"; readonly message: StreamMessage; readonly consumed: number }
  | { readonly _tag: "NeedMore" }
  | { readonly _tag: "Failed"; readonly error: DecodeError }

/** How one datagram is assembled. */
export interface PacketOptions {
  /** Add an integrity checksum (memberlist: CRC32, only for peers speaking protocol ≥ 5). */
  readonly checksum: boolean
}

/** Which end of a stream encodes or decodes. */
export interface StreamOptions {
  /** True on the side that opened the stream (it alone writes a label header, if any). */
  readonly initiator: boolean
}

/** What a codec does: protocol messages to datagrams and stream messages, and back. */
export interface CodecShape {
  /** Short name for logs and metrics. */
  readonly name: string
  /** Encodes one message (type first); the result can be a packet part or a whole packet. */
  encodeMessage(message: PacketMessage): Uint8Array
  /** Bytes a compound adds once, and for each part. */
  readonly compoundHeaderOverhead: number
  readonly compoundPartOverhead: number
  /** Bytes the packet wrappers may add (encryption), to leave out of the piggyback budget. */
  readonly packetOverhead: number
  /** One part goes out bare, several as a compound; wrappers are applied last. */
  encodePacket(parts: ReadonlyArray<Uint8Array>, options: PacketOptions): Uint8Array
  /** Never throws; a compound with a bad part still yields its good parts. */
  decodePacket(bytes: Uint8Array): DecodedPacket
  /** Encodes a whole stream message with its wrappers. */
  encodeStream(message: StreamMessage, options: StreamOptions): Uint8Array
  /** Decodes the first message of `buffer` once enough bytes have arrived. Never throws. */
  decodeStream(buffer: Uint8Array, options: StreamOptions): StreamRead
}

/** How protocol messages become bytes. */
export class Codec extends Context.Service<Codec, CodecShape>()("effect-gossip/Codec") {}
