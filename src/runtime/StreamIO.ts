/**
 * Reading one message from a reliable stream: bytes are accumulated until the
 * codec can decode a whole message (memberlist streams carry no outer length).
 */
import { Effect } from "effect"
import type { CodecShape, StreamOptions } from "../codec/Codec.ts"
import { DecodeError } from "../codec/Codec.ts"
import type { StreamMessage } from "../protocol/Messages.ts"
import type { StreamConnection, TransportError } from "../transport/Transport.ts"

/** Upper bound on what one stream message may buffer before decoding gives up. */
const MAX_STREAM_BYTES = 64 * 1024 * 1024

export const readStreamMessage = (
  conn: StreamConnection,
  codec: CodecShape,
  options: StreamOptions
): Effect.Effect<StreamMessage, TransportError | DecodeError> =>
  Effect.gen(function*() {
    let buffer = new Uint8Array(0)
    while (true) {
      const chunk = yield* conn.read
      const next = new Uint8Array(buffer.length + chunk.length)
      next.set(buffer, 0)
      next.set(chunk, buffer.length)
      buffer = next
      const result = codec.decodeStream(buffer, options)
      if (result._tag === "Complete") return result.message
      if (result._tag === "Failed") return yield* result.error
      if (buffer.length > MAX_STREAM_BYTES) {
        return yield* new DecodeError({ reason: "TooLarge", message: `stream message over ${MAX_STREAM_BYTES} bytes` })
      }
    }
  })
