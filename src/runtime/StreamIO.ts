/**
 * Reading messages from a reliable stream: bytes are accumulated until the
 * codec can decode a whole message (memberlist streams carry no outer length).
 * A push/pull or stream ping holds one message each way; a channel holds many,
 * so the reader keeps what follows a message for the next one.
 */
import { Effect } from "effect"
import type { CodecShape, StreamOptions } from "../codec/Codec.ts"
import { DecodeError } from "../codec/Codec.ts"
import type { StreamMessage } from "../protocol/Messages.ts"
import type { StreamConnection, TransportError } from "../transport/Transport.ts"

/** Upper bound on what one stream message may buffer before decoding gives up. */
const MAX_STREAM_BYTES = 64 * 1024 * 1024

const EMPTY = new Uint8Array(0)

/** Successive messages of one stream. */
export class StreamReader {
  private buffer: Uint8Array = EMPTY
  private readonly conn: StreamConnection
  private readonly codec: CodecShape
  private limit: number

  constructor(conn: StreamConnection, codec: CodecShape, limit = MAX_STREAM_BYTES) {
    this.conn = conn
    this.codec = codec
    this.limit = limit
  }

  /** Changes how much one message may buffer (a channel's frames are small, a push/pull may be large). */
  setLimit(limit: number): void {
    this.limit = limit
  }

  /** The next whole message; what was read past it stays buffered. */
  next(options: StreamOptions): Effect.Effect<StreamMessage, TransportError | DecodeError> {
    return Effect.suspend(() => {
      const ready = this.tryDecode(options)
      return ready !== undefined ? ready : this.readMore(options)
    })
  }

  private tryDecode(options: StreamOptions): Effect.Effect<StreamMessage, DecodeError> | undefined {
    if (this.buffer.length === 0) return undefined
    const result = this.codec.decodeStream(this.buffer, options)
    if (result._tag === "Complete") {
      this.buffer = result.consumed >= this.buffer.length ? EMPTY : this.buffer.subarray(result.consumed)
      return Effect.succeed(result.message)
    }
    if (result._tag === "Failed") return Effect.fail(result.error)
    if (this.buffer.length > this.limit) {
      return Effect.fail(new DecodeError({ reason: "TooLarge", message: `stream message over ${this.limit} bytes` }))
    }
    return undefined
  }

  private readMore(options: StreamOptions): Effect.Effect<StreamMessage, TransportError | DecodeError> {
    return Effect.flatMap(this.conn.read, (chunk) => {
      this.append(chunk)
      return this.next(options)
    })
  }

  private append(chunk: Uint8Array): void {
    if (this.buffer.length === 0) {
      this.buffer = chunk
      return
    }
    const next = new Uint8Array(this.buffer.length + chunk.length)
    next.set(this.buffer, 0)
    next.set(chunk, this.buffer.length)
    this.buffer = next
  }
}

/** Reads the one message a push/pull, stream ping or reliable message carries. */
export const readStreamMessage = (
  conn: StreamConnection,
  codec: CodecShape,
  options: StreamOptions
): Effect.Effect<StreamMessage, TransportError | DecodeError> => new StreamReader(conn, codec).next(options)
