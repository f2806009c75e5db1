/**
 * The channels a node serves, by name, and the acceptor side of the hello:
 * an unknown channel or one at its connection limit is refused with an error
 * message (counted by the caller), never left hanging.
 */
import { Effect } from "effect"
import type { CodecShape } from "../codec/Codec.ts"
import * as Msg from "../protocol/Messages.ts"
import type { StreamReader } from "../runtime/StreamIO.ts"
import type { StreamConnection, TransportError } from "../transport/Transport.ts"
import type { Channel } from "./Channel.ts"
import { makeChannel } from "./Channel.ts"
import type { Hello } from "./Hello.ts"
import { encodeHello } from "./Hello.ts"

/** What serves one channel name. */
export interface ChannelHandler {
  readonly handle: (channel: Channel) => Effect.Effect<void>
  /** Connections served at once; more are refused. */
  readonly maxConnections: number
}

interface Served {
  readonly handler: ChannelHandler
  active: number
}

/** How an inbound hello ended. */
export type AcceptOutcome = "Served" | "Unknown" | "Busy"

export class ChannelRegistry {
  private readonly served = new Map<string, Served>()

  /** Serves `name` with `handler`; false when the name is already served. */
  register(name: string, handler: ChannelHandler): boolean {
    if (this.served.has(name)) return false
    this.served.set(name, { handler, active: 0 })
    return true
  }

  /** Stops serving `name` (connections already accepted run on). */
  unregister(name: string, handler: ChannelHandler): void {
    if (this.served.get(name)?.handler === handler) this.served.delete(name)
  }

  /**
   * Answers an opener's hello: refuses an unknown or busy channel with an error message,
   * otherwise sends our hello and runs the handler until it ends.
   */
  accept(
    conn: StreamConnection,
    reader: StreamReader,
    codec: CodecShape,
    hello: Hello,
    self: string,
    onAccepted: () => void
  ): Effect.Effect<AcceptOutcome, TransportError> {
    return Effect.suspend(() => {
      const entry = this.served.get(hello.channel)
      const refuse = (outcome: AcceptOutcome, error: string) =>
        Effect.as(conn.write(codec.encodeStream(Msg.errResp(error), { initiator: false })), outcome)
      if (entry === undefined) return refuse("Unknown", `no channel named "${hello.channel}"`)
      if (entry.active >= entry.handler.maxConnections) {
        return refuse("Busy", `channel "${hello.channel}" is at its limit of ${entry.handler.maxConnections} connections`)
      }
      // Counted from the check on, so that simultaneous hellos cannot pass the limit together.
      entry.active++
      onAccepted()
      const answer = encodeHello({ channel: hello.channel, name: self })!
      return conn.write(codec.encodeStream(Msg.user(answer), { initiator: false })).pipe(
        Effect.andThen(entry.handler.handle(makeChannel(conn, reader, codec, hello.channel, hello.name))),
        Effect.as("Served" as const),
        Effect.ensuring(Effect.sync(() => entry.active--))
      )
    })
  }
}
