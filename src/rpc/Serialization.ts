/**
 * The serialization both ends of an rpc channel use unless the application
 * provides its own `RpcSerialization` (both ends must then provide the same).
 *
 * The default is effect's SchemaBinary: a channel carries bytes, and
 * SchemaBinary writes bytes directly (ndjson would build a string and encode
 * it again per message), keeps `Uint8Array` fields as raw bytes instead of
 * base64, and frames each message with its length, so a message may span
 * channel frames and one frame may hold several messages. Its envelope
 * carries a fingerprint, so two ends with incompatible effect/rpc envelopes
 * fail with a protocol error instead of misreading each other; payloads are
 * not fingerprinted, so compatible schema changes keep working.
 */
import { Data, Effect, Option } from "effect"
import { RpcSerialization } from "effect/rpc"

/**
 * The largest rpc message the default serialization buffers (4 MiB): what one
 * connection may hold in memory for a message that has not fully arrived. A bigger
 * message closes the connection, like any input that does not decode.
 */
export const DEFAULT_MAX_MESSAGE = 4 * 1024 * 1024

type Serialization = RpcSerialization.RpcSerialization["Service"]

/**
 * Input that does not decode. effect/rpc's server closes a connection only for a parser
 * error tagged `MaxBufferSizeExceeded` (for any other it answers with a defect and reads
 * on), and a SchemaBinary parser refuses everything after its first error, so any decode
 * error wears that tag: the connection closes and the client reconnects with fresh parsers.
 */
class UndecodableInput extends Data.TaggedError("MaxBufferSizeExceeded")<{ readonly cause: unknown }> {
  override get message() {
    return `rpc input does not decode: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

/** `serialization` whose parsers report every decode error as `UndecodableInput`. */
const closingOnDecodeError = (serialization: Serialization): Serialization =>
  RpcSerialization.RpcSerialization.of({
    ...serialization,
    makeUnsafe: () => {
      const parser = serialization.makeUnsafe()
      return {
        encode: parser.encode,
        decode: (data) => {
          try {
            return parser.decode(data)
          } catch (cause) {
            throw cause instanceof UndecodableInput ? cause : new UndecodableInput({ cause })
          }
        }
      }
    }
  })

// built once: it holds no connection state (each connection makes its own parser)
let fallback: Serialization | undefined
const defaultSerialization: Effect.Effect<Serialization> = Effect.suspend(() =>
  fallback !== undefined ? Effect.succeed(fallback) : Effect.tap(
    Effect.provide(
      RpcSerialization.RpcSerialization,
      RpcSerialization.layerSchemaBinary({ maxFrameSize: DEFAULT_MAX_MESSAGE })
    ),
    (s) => Effect.sync(() => void (fallback = s))
  )
)

/**
 * The `RpcSerialization` in context, or SchemaBinary bounded at `DEFAULT_MAX_MESSAGE`;
 * either way, input that does not decode closes the connection.
 */
export const serializationOrDefault: Effect.Effect<Serialization> = Effect.map(
  Effect.flatMap(
    Effect.serviceOption(RpcSerialization.RpcSerialization),
    Option.match({ onSome: Effect.succeed, onNone: () => defaultSerialization })
  ),
  closingOnDecodeError
)
