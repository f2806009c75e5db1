/**
 * The WebSocket transport's core over SimNetwork streams: each link is one
 * simulated stream carrying length-prefixed messages. Latency, partitions,
 * crashes and pauses then apply to WebSocket clusters exactly as to UDP ones,
 * and the whole transport (pool, backoff, keepalive, idle close) runs on
 * `TestClock`.
 */
import { Effect, Queue } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"
import { joinHostPort, splitHostPort } from "../../Address.ts"
import type { StreamConnection, TransportShape } from "../Transport.ts"
import type { Connector, Core } from "./Core.ts"
import { CloseCode, type Link, LinkError } from "./Link.ts"

const EMPTY: Uint8Array = new Uint8Array(0)

/** A `Link` over one simulated stream: each message as a 4-byte length and its bytes. */
export const streamLink = (conn: StreamConnection): Link => {
  let buffer: Uint8Array = EMPTY
  const take = (): Array<Uint8Array> => {
    const out: Array<Uint8Array> = []
    let at = 0
    while (buffer.length - at >= 4) {
      const size = new DataView(buffer.buffer, buffer.byteOffset + at, 4).getUint32(0)
      if (buffer.length - at - 4 < size) break
      out.push(buffer.subarray(at + 4, at + 4 + size))
      at += 4 + size
    }
    buffer = at === buffer.length ? EMPTY : buffer.subarray(at)
    return out
  }
  const append = (chunk: Uint8Array) => {
    if (buffer.length === 0) return void (buffer = chunk)
    const next = new Uint8Array(buffer.length + chunk.length)
    next.set(buffer)
    next.set(chunk, buffer.length)
    buffer = next
  }
  const read: Effect.Effect<NonEmptyReadonlyArray<Uint8Array>, LinkError> = Effect.flatMap(
    Effect.mapError(conn.read, (e) => new LinkError({ reason: "Closed", code: 1006, message: e.message })),
    (chunk) => {
      append(chunk)
      const messages = take()
      return messages.length > 0 ? Effect.succeed(messages as unknown as NonEmptyReadonlyArray<Uint8Array>) : read
    }
  )
  return {
    peer: splitHostPort(conn.remote).host,
    read,
    write: (messages) => {
      let size = 0
      for (const m of messages) size += 4 + m.length
      const out = new Uint8Array(size)
      const view = new DataView(out.buffer)
      let at = 0
      for (const m of messages) {
        view.setUint32(at, m.length)
        out.set(m, at + 4)
        at += 4 + m.length
      }
      return Effect.mapError(conn.write(out), (e) => new LinkError({ reason: "Closed", code: 1006, message: e.message }))
    },
    buffered: () => 0,
    close: () => conn.close
  }
}

/** Dials over the node's simulated transport: to the pinned IP, else to the URL's host and port. */
export const simConnector = (sim: TransportShape): Connector => ({
  connect: (target, timeoutMillis) =>
    Effect.map(sim.dial(joinHostPort(target.ip ?? target.host, target.port), timeoutMillis), streamLink)
})

/** Serves every stream the simulated transport accepts, within the limits of `core`, until its queue shuts down. */
export const simAcceptor = (sim: TransportShape, core: Core): Effect.Effect<void> =>
  Effect.forever(
    Effect.flatMap(Queue.take(sim.streams), (conn) => {
      const link = streamLink(conn)
      const slot = core.admit(link.peer)
      if (typeof slot === "string") return link.close(CloseCode.PolicyViolation, slot)
      return core.serve(link).pipe(
        Effect.ensuring(Effect.andThen(Effect.sync(slot.release), conn.close)),
        Effect.forkScoped,
        Effect.asVoid
      )
    })
  ).pipe(Effect.scoped, Effect.ignore)
