/**
 * One multiplexed connection over a `Link`, either way round. The dialing
 * side (`client`) sends datagrams and opens streams; the accepting side
 * (`server`) hands both to the engine and answers on the streams. Each side
 * first sends a `Hello` naming its advertised address, which is what the
 * engine sees as the sender of a datagram. A frame that breaks the protocol
 * closes the connection and is counted as a refusal; the node goes on.
 *
 * Three fibers run per connection, in the scope of `run`: a reader (frames
 * in), a writer (the `Outbound` queue out) and a ticker (keepalive, idle close).
 */
import { Clock, Deferred, Effect, Exit, Fiber } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"
import { addressOf } from "../../Address.ts"
import { TransportError } from "../Transport.ts"
import {
  decodeFrame,
  encodeHello,
  encodeOpen,
  encodePacket,
  encodePing,
  encodePong,
  encodeReset,
  type Frame,
  PROTOCOL_VERSION
} from "./Frame.ts"
import type { WebSocketLimits } from "./Limits.ts"
import { CloseCode, type Link } from "./Link.ts"
import { MuxStream, type StreamHost } from "./MuxStream.ts"
import { Outbound } from "./Outbound.ts"
import type { Counters, RefusalReason } from "./Stats.ts"
import { WebSocketRefusal } from "./Stats.ts"

/** Past this many bytes buffered in the socket, the writer waits for it to drain. */
const HIGH_WATER = 1024 * 1024

/** How long a closing connection waits for the peer to answer its close. */
const CLOSE_WAIT = 1000

/** Queued by `shutdown`: the writer sends everything queued before it, then ends the connection. */
const FLUSH = new Uint8Array(0)

/** What a connection hands to its transport. */
export interface ConnectionHandlers {
  /** A datagram from the peer whose advertised address is `from`, arrived at `at` (Clock millis). */
  readonly onPacket: (from: string, bytes: Uint8Array, at: number) => void
  /** A stream the peer opened (server side); false refuses it. */
  readonly onStream: (stream: MuxStream) => boolean
}

/** Why a connection ends: a close code, and the refusal to count when it was the peer's fault. */
interface Ending {
  readonly code: number
  readonly reason: string
  readonly refusal?: RefusalReason | undefined
  /** The link is already gone: do not send a close. */
  readonly dropped?: boolean
}

export class Connection implements StreamHost {
  readonly role: "client" | "server"
  /** What streams report as `remote` on the client side (the dialed address). */
  readonly label: string
  readonly outbound: Outbound
  readonly streams = new Map<number, MuxStream>()
  /** The peer's advertised `ip:port`, once its hello has arrived. */
  identity: string | undefined
  private nextId = 1
  private highestId = 0
  private nonce = 0
  private lastReceived = 0
  private lastActivity = 0
  /** Something was sent since the last tick (sending has no clock at hand; the tick stamps it). */
  private sentSinceTick = false
  private gone: TransportError | undefined
  private closing: Ending | undefined
  private readonly stop = Deferred.makeUnsafe<Ending>()
  /** Completes when `run` has ended (its link closed); `running` says whether it started. */
  readonly finished = Deferred.makeUnsafe<void>()
  running = false
  private readonly limits: WebSocketLimits
  private readonly counters: Counters
  private readonly handlers: ConnectionHandlers

  constructor(
    role: "client" | "server",
    label: string,
    self: { readonly addr: Uint8Array; readonly port: number },
    limits: WebSocketLimits,
    counters: Counters,
    handlers: ConnectionHandlers
  ) {
    this.role = role
    this.label = label
    this.limits = limits
    this.counters = counters
    this.handlers = handlers
    this.outbound = new Outbound(limits.peerQueueSize, () => void counters.packetsDropped++)
    // queued first, so it leads whatever else is sent
    this.outbound.pushControl(encodeHello(self.addr, self.port))
  }

  /** Queues a datagram; false when the connection is gone. */
  sendPacket(bytes: Uint8Array): boolean {
    if (!this.outbound.pushPacket(encodePacket(bytes))) return false
    this.counters.packetsSent++
    this.sentSinceTick = true
    return true
  }

  /** Opens a stream to the peer (client side). */
  openStream(): MuxStream | TransportError {
    if (this.gone !== undefined) return this.gone
    if (this.streams.size >= this.limits.maxStreamsPerConnection) {
      return new TransportError({ reason: "Refused", address: this.label, message: "too many streams on one connection" })
    }
    const id = this.nextId++
    const stream = new MuxStream(id, this.label, this, this.limits.streamWindow)
    this.streams.set(id, stream)
    this.outbound.pushControl(encodeOpen(id))
    this.counters.streamsOpened++
    return stream
  }

  send(frame: Uint8Array): boolean {
    this.sentSinceTick = true
    return this.outbound.pushControl(frame)
  }

  release(id: number): void {
    this.streams.delete(id)
  }

  /**
   * Ends the connection from our side (idempotent). What is already queued goes out first (a
   * node's last gossip, such as its leave, must not die in our queue); then the link closes.
   */
  shutdown(code: number, reason: string): void {
    if (this.closing !== undefined) return
    this.closing = { code, reason }
    if (!this.running || !this.outbound.pushControl(FLUSH)) this.end(this.closing)
  }

  /** Fails everything still waiting on this connection: at its end, or when it never got a link. */
  fail(error: TransportError): void {
    if (this.gone !== undefined) return
    this.gone = error
    this.counters.packetsDropped += this.outbound.close()
    for (const stream of this.streams.values()) stream.end(error)
    this.streams.clear()
  }

  /** Serves the connection over `link` until either side ends it. */
  run(link: Link): Effect.Effect<void> {
    const self = this
    this.running = true
    return Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      self.lastReceived = now
      self.lastActivity = now
      yield* Effect.forkScoped(self.writer(link))
      yield* Effect.forkScoped(self.ticker)
      const reading = yield* Effect.forkScoped(self.reader(link))
      const ending = yield* Deferred.await(self.stop)
      if (ending.refusal !== undefined) {
        yield* self.counters.refuse(
          new WebSocketRefusal({ reason: ending.refusal, peer: link.peer, message: ending.reason })
        )
      }
      if (ending.dropped !== true) {
        yield* link.close(ending.code, ending.reason)
        // the peer's answer to our close (the reader then ends) means all we sent has arrived;
        // a process that exits right after would otherwise lose what was still in its buffers
        yield* Fiber.await(reading).pipe(Effect.timeoutOption(CLOSE_WAIT))
      }
      self.fail(new TransportError({ reason: "Closed", address: self.identity ?? self.label, message: ending.reason }))
    }).pipe(Effect.scoped, Effect.ensuring(Deferred.done(this.finished, Exit.void)))
  }

  private end(ending: Ending): void {
    Deferred.doneUnsafe(this.stop, Effect.succeed(ending))
  }

  private writer(link: Link): Effect.Effect<void> {
    const self = this
    return Effect.gen(function*() {
      while (true) {
        const taken = yield* self.outbound.take
        const flush = taken.includes(FLUSH)
        const batch = flush ? taken.filter((f) => f !== FLUSH) : taken
        for (const frame of batch) self.counters.bytesSent += frame.length
        if (batch.length > 0) yield* link.write(batch as unknown as NonEmptyReadonlyArray<Uint8Array>)
        self.outbound.settle(taken.length)
        if (flush) return self.end(self.closing!)
        // a peer that reads slowly holds our frames in the socket: wait instead of piling them up
        while (link.buffered() > HIGH_WATER) yield* Effect.sleep(10)
      }
    }).pipe(
      Effect.catch((e) => Effect.sync(() => self.end({ code: e.code, reason: e.message, dropped: true })))
    )
  }

  private get ticker(): Effect.Effect<void> {
    const self = this
    const interval = this.limits.keepaliveInterval
    return Effect.gen(function*() {
      while (true) {
        yield* Effect.sleep(interval)
        const now = yield* Clock.currentTimeMillis
        if (self.sentSinceTick) {
          self.sentSinceTick = false
          self.lastActivity = now
        }
        const silent = now - self.lastReceived
        if (self.role === "client") {
          if (silent >= 2 * interval) {
            self.counters.keepaliveTimeouts++
            return self.end({ code: CloseCode.GoingAway, reason: "keepalive timeout" })
          }
          if (silent >= interval) self.outbound.pushControl(encodePing(self.nonce++ >>> 0))
          if (self.streams.size === 0 && now - self.lastActivity >= self.limits.idleTimeout) {
            self.counters.idleClosed++
            return self.end({ code: CloseCode.Normal, reason: "idle" })
          }
        } else if (silent >= 4 * interval) {
          // a live client pings at least every other interval
          self.counters.keepaliveTimeouts++
          return self.end({ code: CloseCode.GoingAway, reason: "keepalive timeout" })
        }
      }
    })
  }

  private reader(link: Link): Effect.Effect<void> {
    const self = this
    const first = Effect.timeoutOrElse(link.read, {
      duration: this.limits.handshakeTimeout,
      orElse: () => Effect.succeed(undefined)
    })
    return Effect.gen(function*() {
      while (true) {
        const batch = self.identity === undefined ? yield* first : yield* link.read
        if (batch === undefined) {
          return self.end({
            code: CloseCode.PolicyViolation,
            reason: `no hello within ${self.limits.handshakeTimeout} ms`,
            refusal: "HandshakeTimeout"
          })
        }
        const now = yield* Clock.currentTimeMillis
        for (const message of batch) {
          const ending = self.handle(message, now)
          if (ending !== undefined) return self.end(ending)
        }
      }
    }).pipe(
      Effect.catch((e) =>
        Effect.sync(() =>
          self.end(
            e.reason === "TooLarge"
              ? { code: CloseCode.TooLarge, reason: e.message, refusal: "FrameTooLarge", dropped: true }
              : { code: e.code, reason: e.message, dropped: true }
          )
        )
      )
    )
  }

  /** One message from the peer; an `Ending` when it breaks the protocol. */
  private handle(message: Uint8Array | string, now: number): Ending | undefined {
    if (typeof message === "string") return badFrame("text message", CloseCode.UnsupportedData)
    this.counters.bytesReceived += message.length
    if (message.length > this.limits.maxFrameSize) {
      return {
        code: CloseCode.TooLarge,
        reason: `frame of ${message.length} bytes over the ${this.limits.maxFrameSize}-byte limit`,
        refusal: "FrameTooLarge"
      }
    }
    const frame = decodeFrame(message)
    if (frame._tag === "FrameError") return badFrame(frame.message)
    this.lastReceived = now
    if (this.identity === undefined) return this.hello(frame)
    return this.dispatch(frame, now)
  }

  private hello(frame: Frame): Ending | undefined {
    if (frame._tag !== "Hello") return badFrame(`expected a hello, got ${frame._tag}`)
    if (frame.version !== PROTOCOL_VERSION) {
      return {
        code: CloseCode.ProtocolError,
        reason: `protocol version ${frame.version}, expected ${PROTOCOL_VERSION}`,
        refusal: "BadVersion"
      }
    }
    if (frame.port === 0) return badFrame("hello with port 0")
    this.identity = addressOf(frame.addr, frame.port)
    return undefined
  }

  private dispatch(frame: Frame, now: number): Ending | undefined {
    switch (frame._tag) {
      case "Packet":
        this.lastActivity = now
        this.counters.packetsReceived++
        this.handlers.onPacket(this.identity!, frame.bytes, now)
        return undefined
      case "Open":
        return this.open(frame.id, now)
      case "Data": {
        this.lastActivity = now
        const stream = this.streams.get(frame.id)
        if (stream === undefined) return this.known(frame.id) ? undefined : badFrame(`data for unknown stream ${frame.id}`)
        return stream.receive(frame.bytes) ? undefined : badFrame(`stream ${frame.id} sent past its credit`)
      }
      case "Credit":
        this.streams.get(frame.id)?.grant(frame.bytes)
        return undefined
      case "Close":
      case "Reset": {
        this.lastActivity = now
        const stream = this.streams.get(frame.id)
        if (stream === undefined) return this.known(frame.id) ? undefined : badFrame(`${frame._tag} of unknown stream`)
        stream.end(
          new TransportError({
            reason: "Closed",
            address: stream.remote,
            message: frame._tag === "Close" ? "the peer closed the stream" : "the peer refused the stream"
          })
        )
        return undefined
      }
      case "Ping":
        this.outbound.pushControl(encodePong(frame.nonce))
        return undefined
      case "Pong":
        return undefined
      case "Hello":
        return badFrame("a second hello")
    }
  }

  private open(id: number, now: number): Ending | undefined {
    if (this.role === "client") return badFrame("the accepting side opened a stream")
    if (id <= this.highestId) return badFrame(`stream id ${id} reused`)
    this.highestId = id
    this.lastActivity = now
    if (this.streams.size >= this.limits.maxStreamsPerConnection) {
      this.counters.streamsRejected++
      this.outbound.pushControl(encodeReset(id))
      return undefined
    }
    const stream = new MuxStream(id, this.identity!, this, this.limits.streamWindow)
    this.streams.set(id, stream)
    if (!this.handlers.onStream(stream)) {
      this.streams.delete(id)
      this.counters.streamsRejected++
      this.outbound.pushControl(encodeReset(id))
      return undefined
    }
    this.counters.streamsAccepted++
    return undefined
  }

  /** Whether `id` belongs to a stream this connection has seen (late frames of closed streams are fine). */
  private known(id: number): boolean {
    return this.role === "client" ? id > 0 && id < this.nextId : id > 0 && id <= this.highestId
  }
}

const badFrame = (reason: string, code: number = CloseCode.ProtocolError): Ending => ({
  code,
  reason,
  refusal: "BadFrame"
})
