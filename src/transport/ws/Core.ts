/**
 * The WebSocket transport without its sockets: a pool of outbound
 * connections, one per peer, opened on demand and reopened with backoff, and
 * the serving of inbound ones. Sockets come in through a `Connector` (dialing)
 * and `serve` (accepting), so the same core runs on Node's WebSockets and on
 * SimNetwork streams under `TestClock`.
 *
 * A peer that cannot be reached is a transport error, like a lost datagram:
 * datagrams queued for it are dropped (counted), datagrams sent while its
 * backoff runs are refused at once, and `dial` fails.
 */
import { Clock, Deferred, Effect, Exit, FiberSet, Queue, Scope } from "effect"
import { Dns } from "effect/net"
import type { Advertise } from "../Advertise.ts"
import type { InboundPacket, StreamConnection, TransportShape } from "../Transport.ts"
import { TransportError } from "../Transport.ts"
import { Connection } from "./Connection.ts"
import { MAX_PACKET_SIZE, type WebSocketLimits } from "./Limits.ts"
import { CloseCode, type Link } from "./Link.ts"
import type { MuxStream } from "./MuxStream.ts"
import { type RefusalReason, Counters } from "./Stats.ts"
import { type DialTarget, type MemberEndpoint, parseTarget, resolveSeed } from "./WsAddress.ts"

/** Opens links. */
export interface Connector {
  /** A link to `target` within `timeoutMillis`, owned by the current scope. */
  connect(target: DialTarget, timeoutMillis: number): Effect.Effect<Link, TransportError, Scope.Scope>
}

/** What the core needs. */
export interface CoreOptions {
  readonly advertise: Advertise
  readonly endpoint: MemberEndpoint
  readonly limits: WebSocketLimits
  readonly connector: Connector
}

/** One peer we send to. A fresh `Connection` per attempt: a failed one is closed for good. */
interface Peer {
  readonly target: DialTarget
  conn: Connection
  ready: Deferred.Deferred<Connection, TransportError>
  state: "connecting" | "open" | "backoff"
  failures: number
  retryAt: number
}

/** The core: the engine's `Transport`, `serve` for accepted links, admission, counters. */
export interface Core {
  readonly transport: TransportShape
  /** Runs the accepting side of `link` until it closes (call `admit` first). */
  serve(link: Link): Effect.Effect<void>
  /** Reserves a slot for a connection from `peer` (its IP); a refusal reason when over a limit. */
  admit(peer: string): { readonly release: () => void } | RefusalReason
  readonly counters: Counters
  /** True once the transport's scope has closed. */
  readonly isClosed: () => boolean
}

const closedError = (address: string) => new TransportError({ reason: "Closed", address, message: "transport closed" })

/** Builds the core in the current scope; closing it closes every connection. */
export const makeCore = Effect.fnUntraced(function*(options: CoreOptions) {
  const { advertise, connector, endpoint, limits } = options
  const counters = new Counters()
  const scope = yield* Effect.scope
  // connection attempts are started from plain code (a send), and die with the transport's scope
  const runFork = yield* FiberSet.makeRuntime<never, void, never>()
  const packets = yield* Queue.dropping<InboundPacket>(limits.inboundPacketCapacity)
  const streams = yield* Queue.bounded<StreamConnection>(limits.inboundStreamCapacity)
  const peers = new Map<string, Peer>()
  const inbound = new Set<Connection>()
  const perPeer = new Map<string, number>()
  let admitted = 0
  let closed = false
  const dns = yield* Dns.Dns

  // Every connection sends what is queued (a leaving node's last gossip) and a close frame, and
  // waits for the answer, before the server under it goes away; one that cannot is cut off.
  yield* Effect.addFinalizer(() =>
    Effect.suspend(() => {
      closed = true
      const running = [...[...peers.values()].map((p) => p.conn), ...inbound].filter((c) => c.running)
      for (const conn of running) conn.shutdown(CloseCode.GoingAway, "node shutting down")
      return Effect.forEach(running, (c) => Deferred.await(c.finished), { discard: true }).pipe(Effect.timeoutOption(1500))
    }).pipe(Effect.andThen(Queue.shutdown(packets)), Effect.andThen(Queue.shutdown(streams)))
  )

  // Peers that could not be reached are kept for their backoff, then forgotten: addresses come
  // and go (dead members, restarted pods), and the map must not grow with every one ever seen.
  yield* Effect.forkScoped(Effect.forever(Effect.sleep(limits.idleTimeout).pipe(
    Effect.andThen(Clock.currentTimeMillis),
    Effect.map((now) => {
      for (const [key, peer] of peers) {
        if (peer.state === "backoff" && now - peer.retryAt >= limits.idleTimeout) peers.delete(key)
      }
    })
  )))

  const handlers = {
    onPacket: (from: string, bytes: Uint8Array, at: number) => {
      if (!Queue.offerUnsafe(packets, { from, bytes, at })) counters.packetsDropped++
    },
    onStream: (stream: MuxStream) => Queue.offerUnsafe(streams, stream)
  }

  const backoff = (failures: number) =>
    Math.min(limits.reconnectBackoffMax, limits.reconnectBackoff * 2 ** Math.min(failures - 1, 30))

  /** Starts a connection attempt for `peer` (a fresh connection and readiness signal). */
  const attempt = (peer: Peer): void => {
    const conn = new Connection("client", peer.target.key, advertise, limits, counters, handlers)
    const ready = Deferred.makeUnsafe<Connection, TransportError>()
    peer.conn = conn
    peer.ready = ready
    peer.state = "connecting"
    runFork(connect(peer, conn, ready))
  }

  const connect = (peer: Peer, conn: Connection, ready: Deferred.Deferred<Connection, TransportError>) =>
    Effect.gen(function*() {
      const child = yield* Scope.fork(scope, "sequential")
      const timeout = limits.connectTimeout
      const link = yield* connector.connect(peer.target, timeout).pipe(
        Effect.timeoutOrElse({
          duration: timeout,
          orElse: () =>
            Effect.fail(new TransportError({ reason: "Timeout", address: peer.target.key, message: `no connection within ${timeout} ms` }))
        }),
        Scope.provide(child),
        Effect.result
      )
      if (link._tag === "Failure") {
        yield* Scope.close(child, Exit.void)
        counters.connectFailures++
        const now = yield* Clock.currentTimeMillis
        if (peer.conn === conn) {
          peer.failures++
          peer.state = "backoff"
          peer.retryAt = now + backoff(peer.failures)
        }
        conn.fail(link.failure)
        Deferred.doneUnsafe(ready, Exit.fail(link.failure))
        return
      }
      counters.connectionsOpened++
      counters.outboundOpen++
      const opened = yield* Clock.currentTimeMillis
      peer.state = "open"
      Deferred.doneUnsafe(ready, Exit.succeed(conn))
      yield* conn.run(link.success)
      counters.outboundOpen--
      if (peers.get(peer.target.key) === peer && peer.conn === conn) {
        // A connection that dies young counts as a failure, so a peer that keeps dropping us is not hammered.
        const now = yield* Clock.currentTimeMillis
        if (now - opened < limits.reconnectBackoffMax) {
          peer.failures++
          peer.state = "backoff"
          peer.retryAt = now + backoff(peer.failures)
        } else {
          peers.delete(peer.target.key)
        }
      }
      yield* Scope.close(child, Exit.void)
    }).pipe(
      // however the attempt ends (even interrupted), nobody waits on it forever
      Effect.onExit(() =>
        Effect.sync(() => {
          conn.fail(closedError(peer.target.key))
          Deferred.doneUnsafe(ready, Exit.fail(closedError(peer.target.key)))
        })
      )
    )

  /** The peer for `to`, creating it (and its first attempt) when new. */
  const peerFor = (to: string): Peer | TransportError => {
    const existing = peers.get(to)
    if (existing !== undefined) return existing
    const target = parseTarget(to, endpoint)
    if (target instanceof TransportError) return target
    const peer = { target, failures: 0, retryAt: 0 } as Peer
    peers.set(to, peer)
    attempt(peer)
    return peer
  }

  const sendPacket = (to: string, bytes: Uint8Array): Effect.Effect<void, TransportError> =>
    Effect.clockWith((clock) => {
      if (closed) return Effect.fail(closedError(to))
      if (bytes.length > MAX_PACKET_SIZE) {
        return Effect.fail(
          new TransportError({ reason: "TooLarge", address: to, message: `${bytes.length} bytes exceeds the ${MAX_PACKET_SIZE}-byte packet limit` })
        )
      }
      const peer = peerFor(to)
      if (peer instanceof TransportError) return Effect.fail(peer)
      if (peer.state === "backoff") {
        const wait = peer.retryAt - clock.currentTimeMillisUnsafe()
        if (wait > 0) {
          counters.packetsRefused++
          return Effect.fail(new TransportError({ reason: "Unreachable", address: to, message: `unreachable, retrying in ${wait} ms` }))
        }
        attempt(peer)
      }
      // a connection that just died takes the datagram with it, like a lost packet
      if (!peer.conn.sendPacket(bytes)) counters.packetsDropped++
      return Effect.void
    })

  /** A stream on `peer`'s connection, once it is up; a connection that died since it was ready gets one fresh attempt. */
  const openOn = (peer: Peer, to: string, timeoutMillis: number, retry: boolean): Effect.Effect<StreamConnection, TransportError, Scope.Scope> =>
    Effect.flatMap(Deferred.await(peer.ready), (conn) => {
      const stream = conn.openStream()
      if (stream instanceof TransportError) {
        if (!retry || closed || stream.reason !== "Closed") return Effect.fail(stream)
        // the peer may have been forgotten meanwhile (idle close): take whatever is current
        const current = peerFor(to)
        if (current instanceof TransportError) return Effect.fail(current)
        if (current.conn === conn) attempt(current)
        return openOn(current, to, timeoutMillis, false)
      }
      return Effect.as(Effect.addFinalizer(() => stream.close), stream as StreamConnection)
    })

  const dial = (to: string, timeoutMillis: number): Effect.Effect<StreamConnection, TransportError, Scope.Scope> =>
    Effect.suspend(() => {
      if (closed) return Effect.fail(closedError(to))
      const peer = peerFor(to)
      if (peer instanceof TransportError) return Effect.fail(peer)
      // an explicit dial does not wait out the backoff: it tries now
      if (peer.state === "backoff") attempt(peer)
      return openOn(peer, to, timeoutMillis, true).pipe(
        Effect.timeoutOrElse({
          duration: Math.max(0, timeoutMillis),
          orElse: () => Effect.fail(new TransportError({ reason: "Timeout", address: to, message: `no connection within ${timeoutMillis} ms` }))
        })
      )
    })

  const serve = (link: Link): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (closed) return link.close(CloseCode.GoingAway, "node shutting down")
      const conn = new Connection("server", link.peer, advertise, limits, counters, handlers)
      inbound.add(conn)
      counters.connectionsAccepted++
      counters.inboundOpen++
      return conn.run(link).pipe(
        Effect.ensuring(Effect.sync(() => {
          inbound.delete(conn)
          counters.inboundOpen--
        }))
      )
    })

  const admit = (peer: string): { readonly release: () => void } | RefusalReason => {
    if (admitted >= limits.maxConnections) return "ConnectionLimit"
    const count = perPeer.get(peer) ?? 0
    if (count >= limits.maxConnectionsPerPeer) return "PeerLimit"
    perPeer.set(peer, count + 1)
    admitted++
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        admitted--
        const left = (perPeer.get(peer) ?? 1) - 1
        if (left === 0) perPeer.delete(peer)
        else perPeer.set(peer, left)
      }
    }
  }

  // every peer's datagrams so far written out, or given up with a dial that failed
  const flush = Effect.suspend(() =>
    Effect.forEach([...peers.values()], (peer) => peer.conn.outbound.settled, { concurrency: "unbounded", discard: true })
  )

  const transport: TransportShape = {
    advertise,
    maxPacketSize: MAX_PACKET_SIZE,
    sendPacket,
    flush,
    packets,
    dial,
    streams,
    resolve: (address) =>
      resolveSeed(address).pipe(
        Effect.provideService(Dns.Dns, dns),
        Effect.mapError((e) => new TransportError({ reason: "BadAddress", address, message: e.message }))
      )
  }
  return { transport, serve, admit, counters, isClosed: () => closed } satisfies Core
})
