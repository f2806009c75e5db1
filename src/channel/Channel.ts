/**
 * Channels: long-lived, ordered byte pipes between two members, multiplexed on
 * the node's own stream port. A channel opens with a hello each way, then
 * carries frames, each one a reliable application message encoded by the
 * node's codec, so label, compression and encryption apply to channels exactly
 * as to push/pull. Protocols such as effect/rpc run on top of the bytes.
 */
import { Effect, Schema } from "effect"
import type { Scope } from "effect"
import type { CodecShape } from "../codec/Codec.ts"
import * as Msg from "../protocol/Messages.ts"
import { StreamReader } from "../runtime/StreamIO.ts"
import type { StreamConnection, TransportError, TransportShape } from "../transport/Transport.ts"
import { decodeHello, encodeHello } from "./Hello.ts"

/** Why a channel could not be opened, served or used. */
export const ChannelErrorReason = Schema.Literals([
  "UnknownMember",
  "BadName",
  "InUse",
  "Refused",
  "Closed",
  "Transport",
  "Decode"
])
export type ChannelErrorReason = typeof ChannelErrorReason.Type

/** A channel operation failed; `channel` names the channel. */
export class ChannelError extends Schema.TaggedError<ChannelError>()("ChannelError", {
  reason: ChannelErrorReason,
  channel: Schema.String,
  message: Schema.String
}) {}

/** One open channel, seen from one end. */
export interface Channel {
  /** The channel's name (what the acceptor serves). */
  readonly channel: string
  /** The member name the other end announced in its hello. */
  readonly peer: string
  /** The other end's address as the transport sees it. */
  readonly remote: string
  /** The next chunk of bytes, in order; fails with reason `Closed` once the other end has closed. */
  readonly read: Effect.Effect<Uint8Array, ChannelError>
  /** Sends bytes (split into frames of at most `MAX_CHANNEL_FRAME` bytes). */
  write(bytes: Uint8Array): Effect.Effect<void, ChannelError>
  /** Closes the channel; idempotent. */
  readonly close: Effect.Effect<void>
}

/** The largest payload one frame carries; bigger writes are split. */
export const MAX_CHANNEL_FRAME = 64 * 1024

/** What a reader buffers at most for one frame (the payload plus codec framing and encryption). */
const MAX_BUFFERED = MAX_CHANNEL_FRAME + 4096

// After the opener's hello, no frame carries the label header: in memberlist's stream framing
// only the opener's first message has one. The codec's `initiator` flag says exactly that.
const WRITE = { initiator: false } as const
const READ = { initiator: true } as const

const transportError = (channel: string) => (e: TransportError): ChannelError =>
  new ChannelError({ reason: e.reason === "Closed" ? "Closed" : "Transport", channel, message: e.message })

/** Wraps a stream whose hellos have been exchanged. */
export const makeChannel = (
  conn: StreamConnection,
  reader: StreamReader,
  codec: CodecShape,
  channel: string,
  peer: string
): Channel => {
  const fail = transportError(channel)
  const read: Effect.Effect<Uint8Array, ChannelError> = Effect.flatMap(
    Effect.mapError(reader.next(READ), (e) =>
      e._tag === "DecodeError"
        ? new ChannelError({ reason: "Decode", channel, message: `${e.reason}: ${e.message}` })
        : fail(e)),
    (message) => {
      if (message._tag === "User") {
        // An empty frame carries nothing; keep reading instead of handing out empty chunks.
        return message.payload.length === 0 ? read : Effect.succeed(message.payload)
      }
      if (message._tag === "Err") {
        return Effect.fail(new ChannelError({ reason: "Closed", channel, message: `closed by peer: ${message.error}` }))
      }
      return Effect.fail(new ChannelError({ reason: "Decode", channel, message: `unexpected ${message._tag} frame` }))
    }
  )
  const write = (bytes: Uint8Array): Effect.Effect<void, ChannelError> => {
    if (bytes.length <= MAX_CHANNEL_FRAME) {
      return Effect.mapError(conn.write(codec.encodeStream(Msg.user(bytes), WRITE)), fail)
    }
    return Effect.suspend(() => {
      const frames: Array<Effect.Effect<void, ChannelError>> = []
      for (let at = 0; at < bytes.length; at += MAX_CHANNEL_FRAME) {
        frames.push(write(bytes.subarray(at, at + MAX_CHANNEL_FRAME)))
      }
      return Effect.asVoid(Effect.all(frames, { discard: true }))
    })
  }
  return { channel, peer, remote: conn.remote, read, write, close: conn.close }
}

/** A reader with the bound channel frames have. */
export const channelReader = (conn: StreamConnection, codec: CodecShape): StreamReader =>
  new StreamReader(conn, codec, MAX_BUFFERED)

/** Bounds an existing reader (the acceptor's, which read the hello) as channel frames are bounded. */
export const boundForChannel = (reader: StreamReader): void => reader.setLimit(MAX_BUFFERED)

/**
 * Opens `channel` on the node at `address`: dial, hello, wait for the acceptor's hello
 * (or its refusal) within `timeoutMillis`. The channel closes with the scope.
 */
export const openChannel = (
  transport: TransportShape,
  codec: CodecShape,
  options: { readonly address: string; readonly channel: string; readonly self: string; readonly timeoutMillis: number }
): Effect.Effect<Channel, ChannelError, Scope.Scope> => {
  const { address, channel } = options
  const hello = encodeHello({ channel, name: options.self })
  if (hello === undefined) {
    return Effect.fail(new ChannelError({ reason: "BadName", channel, message: "channel names are 1 to 255 bytes" }))
  }
  return Effect.gen(function*() {
    const conn = yield* transport.dial(address, options.timeoutMillis)
    yield* conn.write(codec.encodeStream(Msg.user(hello), { initiator: true }))
    const reader = channelReader(conn, codec)
    const reply = yield* reader.next(READ)
    if (reply._tag === "Err") {
      return yield* new ChannelError({ reason: "Refused", channel, message: reply.error })
    }
    const accepted = reply._tag === "User" ? decodeHello(reply.payload) : undefined
    if (accepted === undefined || accepted.channel !== channel) {
      return yield* new ChannelError({ reason: "Decode", channel, message: `expected the acceptor's hello, got ${reply._tag}` })
    }
    return makeChannel(conn, reader, codec, channel, accepted.name)
  }).pipe(
    Effect.timeoutOrElse({
      duration: options.timeoutMillis,
      orElse: () =>
        Effect.fail(new ChannelError({ reason: "Transport", channel, message: `no answer within ${options.timeoutMillis} ms` }))
    }),
    Effect.mapError((e) =>
      e._tag === "ChannelError"
        ? e
        : e._tag === "DecodeError"
        ? new ChannelError({ reason: "Decode", channel, message: `${e.reason}: ${e.message}` })
        : new ChannelError({ reason: e.reason === "Refused" ? "Refused" : "Transport", channel, message: e.message })
    )
  )
}
