/**
 * A channel seen as an effect `Socket`, so that effect/rpc's socket protocols
 * (client and server) run on it unchanged. effect/rpc's serialization does the
 * message framing; the channel only carries its bytes.
 *
 * Socket semantics kept here: every end of a connection fails the reader's
 * pull with a `SocketError`; closing the reader's scope closes the channel,
 * which fails a pull in progress (both transports fail a pending read on a
 * local close). The writer never fails: a failed write drops the connection,
 * and the failure reaches the protocol through the reader, as with TCP.
 */
import { Clock, Effect, Latch, Scope } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"
import { Socket } from "effect/socket"
import type { Channel, ChannelError } from "../channel/Channel.ts"
import { fromChannelError, GossipRpcError } from "./GossipRpcError.ts"

/** How a side turns the error that ended a connection into what its protocol expects. */
export type ToSocketError = (error: GossipRpcError) => Socket.SocketError

/**
 * Server side: every end is a close, which effect/rpc's server treats as a disconnect
 * (anything else would be a defect in its connection fiber).
 */
export const asClose: ToSocketError = (error) =>
  new Socket.SocketError({
    reason: new Socket.SocketCloseError({
      code: error.reason === "Closed" ? 1000 : error.reason === "Protocol" ? 1002 : 1006,
      closeReason: error.message
    })
  })

/** Client side: a read error carrying our typed error, which the client hands to its callers. */
export const asReadError: ToSocketError = (error) =>
  new Socket.SocketError({ reason: new Socket.SocketReadError({ cause: error }) })

const encoder = new TextEncoder()

const toBytes = (chunk: Uint8Array | string): Uint8Array => typeof chunk === "string" ? encoder.encode(chunk) : chunk

/** One open channel with the error that ended it, once it has ended. */
export class Link {
  /** Why the link ended; the first reason wins. */
  private failure: GossipRpcError | undefined
  /** Clock millis of the last chunk read (kept only when a clock is given: the server's idle check). */
  lastRead = 0
  readonly pull: Effect.Effect<NonEmptyReadonlyArray<Uint8Array>, Socket.SocketError>
  private readonly channel: Channel
  private readonly member: string
  /** Runs once, when the link ends. */
  onEnd: (() => void) | undefined

  constructor(channel: Channel, member: string, toSocketError: ToSocketError, clock?: Clock.Clock) {
    this.channel = channel
    this.member = member
    if (clock !== undefined) this.lastRead = clock.currentTimeMillisUnsafe()
    const onError = (e: ChannelError) => toSocketError(this.failure ?? fromChannelError(member, e))
    this.pull = Effect.mapBoth(channel.read, {
      onFailure: onError,
      onSuccess: (chunk): NonEmptyReadonlyArray<Uint8Array> => {
        if (clock !== undefined) this.lastRead = clock.currentTimeMillisUnsafe()
        return [chunk]
      }
    })
  }

  get ended(): boolean {
    return this.failure !== undefined
  }

  /** Ends the link with `error` (unless it already ended): a pending read fails with it. */
  drop(error: GossipRpcError): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.failure !== undefined) return Effect.void
      this.failure = error
      this.onEnd?.()
      return this.channel.close
    })
  }

  /** Writes, dropping the link on failure instead of failing the writer. */
  write(bytes: Uint8Array): Effect.Effect<void> {
    return Effect.catch(this.channel.write(bytes), (e) => this.drop(fromChannelError(this.member, e)))
  }
}

const closedLocally = (member: string) =>
  new GossipRpcError({ reason: "Closed", member, message: "the connection was closed on this side" })

// effect/rpc closes a connection itself only on bad input (1009: a message over the size limit)
const closedWith = (member: string, event: Socket.CloseEvent) =>
  new GossipRpcError({
    reason: event.code === 1000 ? "Closed" : "Protocol",
    member,
    message: `the connection was closed on this side (${event.toString()})`
  })

const concat = (chunks: NonEmptyReadonlyArray<Uint8Array | string>): Uint8Array => {
  if (chunks.length === 1) return toBytes(chunks[0])
  const parts = chunks.map(toBytes)
  let size = 0
  for (const p of parts) size += p.length
  const out = new Uint8Array(size)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** The writer over whatever link is current; `idle` says what to do while there is none. */
const makeWriter = (
  current: () => Link | undefined,
  member: string,
  idle: (retry: Effect.Effect<void>) => Effect.Effect<void>
): Socket.Writer => {
  const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void> =>
    Effect.suspend(() => {
      const link = current()
      if (link === undefined || link.ended) return idle(write(chunk))
      if (Socket.isCloseEvent(chunk)) return link.drop(closedWith(member, chunk))
      return link.write(toBytes(chunk))
    })
  // one frame for the batch: one seal and one write instead of one per message
  const writeAll = (chunks: NonEmptyReadonlyArray<Uint8Array | string>): Effect.Effect<void> =>
    Effect.suspend(() => {
      const link = current()
      if (link === undefined || link.ended) return idle(writeAll(chunks))
      return link.write(concat(chunks))
    })
  return { write, writeAll }
}

/**
 * The socket of one accepted channel (server side). Its reader can be acquired once;
 * writes after the end are dropped, since nothing will ever read them.
 */
export const serverSocket = (link: Link, member: string): Socket.Socket => {
  let acquired = false
  let current: Link | undefined = link
  const reader: Socket.Socket["reader"] = Effect.suspend(() => {
    if (acquired) return Effect.fail(asClose(closedLocally(member)))
    acquired = true
    return Effect.as(
      Effect.addFinalizer(() => Effect.suspend(() => {
        current = undefined
        return link.drop(closedLocally(member))
      })),
      { pull: link.pull, upgrade: Socket.SocketUpgradeError.unsupported }
    )
  })
  const writer = makeWriter(() => current, member, () => Effect.void)
  return Socket.make({ reader, writer: Effect.succeed(writer) })
}

/** A client socket: its reader opens a link with `connect`; `drop` ends the current one. */
export interface ClientSocket {
  readonly socket: Socket.Socket
  /** Ends the current link, if any, with `error`: calls in flight fail with it. */
  drop(error: GossipRpcError): Effect.Effect<void>
}

/**
 * The client side: each reader acquisition is one connection, opened by `connect`
 * (the protocol reconnects by acquiring again). Writes made while disconnected wait for
 * the next connection, as the `Socket` contract asks; the rpc client fails the calls
 * behind them when the connection attempt fails.
 */
export const clientSocket = (
  member: string,
  connect: Effect.Effect<Channel, GossipRpcError, Scope.Scope>
): ClientSocket => {
  let current: Link | undefined
  const connected = Latch.makeUnsafe(false)
  const reader: Socket.Socket["reader"] = Effect.gen(function*() {
    const scope = yield* Effect.scope
    const channel = yield* Effect.mapError(
      connect,
      (error) => new Socket.SocketError({ reason: new Socket.SocketOpenError({ kind: "Unknown", cause: error }) })
    )
    const link = new Link(channel, member, asReadError)
    // writes wait from the moment the link ends, not from when the protocol notices
    link.onEnd = () => {
      if (current === link) {
        current = undefined
        connected.closeUnsafe()
      }
    }
    current = link
    connected.openUnsafe()
    yield* Scope.addFinalizer(scope, link.drop(closedLocally(member)))
    return { pull: link.pull, upgrade: Socket.SocketUpgradeError.unsupported }
  })
  const writer = makeWriter(() => current, member, (retry) => connected.whenOpen(retry))
  return {
    socket: Socket.make({ reader, writer: Effect.succeed(writer) }),
    drop: (error) => Effect.suspend(() => current === undefined ? Effect.void : current.drop(error))
  }
}
