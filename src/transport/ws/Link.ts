/**
 * A `Link` is one message-oriented connection between two nodes: what a
 * WebSocket is to the transport. The multiplexer runs on a `Link` only, so the
 * same code runs over a real WebSocket (`NodeLink.ts`) or over a SimNetwork
 * stream under `TestClock` (`SimLink.ts`).
 */
import { Schema } from "effect"
import type { Effect } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"

/** How a link failed: closed by either end (with the WebSocket close code), a frame over the limit, or an I/O error. */
export class LinkError extends Schema.TaggedError<LinkError>()("LinkError", {
  reason: Schema.Literals(["Closed", "TooLarge", "Io"]),
  code: Schema.Number,
  message: Schema.String
}) {}

/** One open connection carrying whole messages in order. It closes with the scope it was opened in. */
export interface Link {
  /** The remote end as the socket sees it (`ip` or `ip:port`), for per-peer limits and logs. */
  readonly peer: string
  /** The next messages, in order; a `string` is a text message (never sent by a peer of ours). */
  readonly read: Effect.Effect<NonEmptyReadonlyArray<Uint8Array | string>, LinkError>
  /** Sends messages in order. */
  write(messages: NonEmptyReadonlyArray<Uint8Array>): Effect.Effect<void, LinkError>
  /** Bytes written but not yet handed to the operating system (0 when the link cannot tell). */
  readonly buffered: () => number
  /** Closes with a WebSocket close code and reason; idempotent. */
  close(code: number, reason: string): Effect.Effect<void>
}

/** WebSocket close codes used here (RFC 6455 §7.4.1). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  PolicyViolation: 1008,
  TooLarge: 1009
} as const
