/**
 * The stream half of the UDP/TCP transport: accepted TCP connections become
 * `StreamConnection`s on a bounded queue, and `dial` opens outbound ones.
 * memberlist sends one request and at most one response per connection, so a
 * connection is a plain byte pipe here; framing is the engine's business.
 */
import * as NodeSocket from "@effect/platform-node-shared/NodeSocket"
import { Cause, Deferred, Duration, Effect, Exit, Option, Queue, Scope } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"
import { Socket } from "effect/socket"
import type { SocketServer } from "effect/socket"
import type { Socket as NetSocket } from "node:net"
import { joinHostPort } from "../Address.ts"
import { peerAddress } from "./Resolve.ts"
import type { TargetCache } from "./TargetCache.ts"
import { type StreamConnection, TransportError } from "./Transport.ts"

/** After the consumer closes, a peer that never reads our last bytes is cut off after this long. */
const LingerMillis = 5_000

const errorCode = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined

const closedError = (address: string) => new TransportError({ reason: "Closed", address, message: "stream closed" })

const readError = (address: string) => (e: Socket.SocketError): TransportError => {
  const reason = e.reason
  if (reason._tag === "SocketCloseError") return closedError(address)
  const code = reason._tag === "SocketReadError" ? errorCode(reason.cause) : undefined
  // a reset is the peer going away, which the engine handles like EOF
  if (code === "ECONNRESET" || code === "EPIPE") return closedError(address)
  return new TransportError({ reason: "Io", address, message: e.message })
}

const writeError = (address: string) => (e: Socket.SocketError): TransportError => {
  const code = "cause" in e.reason ? errorCode(e.reason.cause) : undefined
  if (code === "ECONNRESET" || code === "EPIPE" || code === "ERR_STREAM_DESTROYED") return closedError(address)
  return new TransportError({ reason: "Io", address, message: e.message })
}

/** Maps a failed connect to the transport's reasons. */
export const dialError = (address: string) => (e: Socket.SocketError): TransportError => {
  const reason = e.reason
  if (reason._tag === "SocketOpenError" && reason.kind === "Timeout") {
    return new TransportError({ reason: "Timeout", address, message: "connect timed out" })
  }
  const code = "cause" in reason ? errorCode(reason.cause) : undefined
  switch (code) {
    case "ECONNREFUSED":
      return new TransportError({ reason: "Refused", address, message: "connection refused" })
    case "ETIMEDOUT":
      return new TransportError({ reason: "Timeout", address, message: "connect timed out" })
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "EHOSTDOWN":
    case "ENETDOWN":
    case "EADDRNOTAVAIL":
      return new TransportError({ reason: "Unreachable", address, message: code })
    default:
      return new TransportError({ reason: "Io", address, message: e.message })
  }
}

const concat = (chunks: NonEmptyReadonlyArray<Uint8Array>): Uint8Array => {
  if (chunks.length === 1) return chunks[0]
  let size = 0
  for (const c of chunks) size += c.length
  const out = new Uint8Array(size)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

/**
 * Wraps an open socket's pull and writer. `markClosed` must run when the
 * socket's scope closes: after that a write would wait forever for a reader
 * that never comes (effect's socket writer waits for one), so it fails fast.
 */
export const makeStreamConnection = (
  remote: string,
  pull: Effect.Effect<NonEmptyReadonlyArray<Uint8Array>, Socket.SocketError>,
  writer: Socket.Writer,
  close: Effect.Effect<void>
): { readonly connection: StreamConnection; readonly markClosed: () => void } => {
  let closed = false
  const closedFail = Effect.fail(closedError(remote))
  const read = Effect.suspend(() =>
    closed ? closedFail : Effect.mapError(Effect.map(pull, concat), readError(remote))
  )
  const write = (bytes: Uint8Array): Effect.Effect<void, TransportError> =>
    Effect.suspend(() => closed ? closedFail : Effect.mapError(writer.write(bytes), writeError(remote)))
  const connection: StreamConnection = {
    remote,
    read,
    write,
    close: Effect.suspend(() => {
      closed = true
      return close
    })
  }
  return { connection, markClosed: () => void (closed = true) }
}

/** Options for serving inbound streams. */
export interface InboundOptions {
  /** Connections served at once (queued or with the consumer); more are closed on arrival. */
  readonly capacity: number
}

/** Inbound stream counters. */
export interface InboundStats {
  readonly streamsAccepted: number
  readonly streamsRejected: number
  readonly streamsOpen: number
}

/**
 * Serves `server` in the current scope: every accepted connection is offered
 * to the returned queue and held open until its consumer calls `close`.
 * Closing the scope interrupts every handler and destroys every accepted
 * socket, so a stalled peer cannot outlive the transport.
 */
export const serveInbound = Effect.fnUntraced(function*(
  server: SocketServer.SocketServer["Service"],
  options: InboundOptions
) {
  const streams = yield* Queue.bounded<StreamConnection>(options.capacity)
  const live = new Set<NetSocket>()
  let open = 0
  let accepted = 0
  let rejected = 0
  let stopping = false
  // registered before the server fiber, so it runs after that fiber's
  // handlers were interrupted: destroy() (unlike their destroySoon()) does not
  // wait for a peer that stopped reading
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      stopping = true
      for (const conn of live) conn.destroy()
      live.clear()
    }).pipe(Effect.andThen(Queue.shutdown(streams)))
  )

  const handle = (socket: Socket.Socket) =>
    Effect.gen(function*() {
      const conn = Option.getOrUndefined(yield* Effect.serviceOption(NodeSocket.NetSocket))
      if (stopping || open >= options.capacity) {
        rejected++
        // the reader was never acquired, so nothing else would close it
        conn?.destroy()
        return
      }
      open++
      yield* Effect.addFinalizer(() => Effect.sync(() => open--))
      // a socket already closed has emitted "close" and would never leave the set
      if (conn !== undefined && !conn.closed) {
        live.add(conn)
        conn.once("close", () => live.delete(conn))
      }
      const remote = conn?.remoteAddress !== undefined && conn.remotePort !== undefined
        ? peerAddress(conn.remoteAddress, conn.remotePort)
        : "unknown"
      const pull = yield* Socket.readerBytes(socket)
      const writer = yield* socket.writer
      const done = yield* Deferred.make<void>()
      const { connection, markClosed } = makeStreamConnection(remote, pull, writer, Deferred.done(done, Exit.void))
      // runs before the reader's and writer's finalizers (reverse order)
      yield* Effect.addFinalizer(() => Effect.sync(markClosed))
      if (!Queue.offerUnsafe(streams, connection)) {
        rejected++
        return
      }
      accepted++
      yield* Deferred.await(done)
      // the scope now half-closes and destroySoon()s; bound how long a peer
      // that does not drain our last write can keep the socket
      conn?.setTimeout(LingerMillis, () => conn.destroy())
    }).pipe(Effect.scoped, Effect.ignore)

  yield* server.run(handle).pipe(
    Effect.tapCause((cause) =>
      Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.logError("gossip transport: TCP server stopped", cause)
    ),
    Effect.ignore,
    Effect.forkScoped
  )

  const stats = (): InboundStats => ({ streamsAccepted: accepted, streamsRejected: rejected, streamsOpen: open })
  return { streams: streams as Queue.Dequeue<StreamConnection>, stats }
})

/**
 * Connects to `host:port` within `timeoutMillis`. The connection lives in a
 * child of the caller's scope: `close` ends it early, the caller's scope ends
 * it at the latest, and a failed connect is torn down at once.
 */
export const dial = Effect.fnUntraced(function*(targets: TargetCache, to: string, timeoutMillis: number) {
  const target = yield* targets.resolve(to)
  const scope = yield* Scope.fork(yield* Effect.scope, "sequential")
  const { pull, writer } = yield* Effect.gen(function*() {
    const socket = yield* NodeSocket.makeNet({
      host: target.host,
      port: target.port,
      noDelay: true,
      openTimeout: Duration.millis(Math.max(0, timeoutMillis))
    })
    const pull = yield* Socket.readerBytes(socket)
    const writer = yield* socket.writer
    return { pull, writer }
  }).pipe(
    Scope.provide(scope),
    Effect.mapError(dialError(to)),
    Effect.onError(() => Scope.close(scope, Exit.void))
  )
  const { connection, markClosed } = makeStreamConnection(
    joinHostPort(target.host, target.port),
    pull,
    writer,
    Scope.close(scope, Exit.void)
  )
  yield* Scope.addFinalizer(scope, Effect.sync(markClosed))
  return connection
})
