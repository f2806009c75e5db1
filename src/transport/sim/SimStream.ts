/**
 * One end of a simulated stream connection. Each end has an inbox of chunks
 * written by the other end; the network moves chunks between them through its
 * delivery queue, so they arrive after the link latency and in write order.
 * The network's rules (delays, faults) live in the hub; this file is only the
 * `StreamConnection` face of one end.
 */
import { Cause, Effect, Queue, Random } from "effect"
import { TransportError } from "../Transport.ts"
import type { StreamConnection } from "../Transport.ts"
import type { SimNode } from "./Node.ts"

/** What an endpoint needs from the network to send and close. */
export interface StreamHost {
  /** Sends `bytes` to the peer end; an error when this end can no longer write. */
  write(endpoint: SimEndpoint, bytes: Uint8Array, random: Random.Random): TransportError | undefined
  /** Closes this end and tells the peer (idempotent). */
  close(endpoint: SimEndpoint, random: Random.Random): void
}

/** How a dial's handshake ended, as seen by the dialing end. */
export const Handshake = { Pending: 0, Refused: 1, Lost: 2 } as const

/** One end of a simulated stream. */
export class SimEndpoint implements StreamConnection {
  readonly remote: string
  /** The node this end belongs to. */
  readonly owner: SimNode
  /** The other end; set right after both ends are made. */
  peer: SimEndpoint = this
  /**
   * Chunks from the peer, bounded (the network resets the connection when a chunk finds it
   * full); fails with `Closed` after the peer's close arrives and the chunks are read.
   */
  readonly inbox: Queue.Queue<Uint8Array, TransportError>
  /** Closed on this side: no more reads or writes. */
  closed = false
  /** The peer's close has arrived: writes fail, reads drain then fail. */
  peerClosed = false
  /** Bytes were lost in flight (a crash, a closed receiver): it carries nothing any more, like TCP to a vanished host. */
  broken = false
  /** The network reset the connection (a stream fault or a partition); `closed` is set too. */
  reset = false
  /** Delivery time of the last chunk sent from this end, so that jitter never reorders a stream. */
  lastAt = 0
  /** Set on the dialing end by the accept step of the handshake. */
  handshake: number = Handshake.Pending

  readonly read: Effect.Effect<Uint8Array, TransportError>
  readonly close: Effect.Effect<void>
  private readonly host: StreamHost

  constructor(owner: SimNode, remote: string, inbox: Queue.Queue<Uint8Array, TransportError>, host: StreamHost) {
    this.owner = owner
    this.remote = remote
    this.inbox = inbox
    this.host = host
    this.read = Queue.take(inbox)
    this.close = Effect.withFiber((fiber) => {
      host.close(this, fiber.getRef(Random.Random))
      return Effect.void
    })
  }

  write(bytes: Uint8Array): Effect.Effect<void, TransportError> {
    return Effect.withFiber((fiber) => {
      const error = this.host.write(this, bytes, fiber.getRef(Random.Random))
      return error === undefined ? Effect.void : Effect.fail(error)
    })
  }

  /** Ends the inbox: unread chunks stay readable, then reads fail with `Closed`. */
  endInbox(): void {
    Queue.failCauseUnsafe(this.inbox, Cause.fail(closedError(this.remote, "the peer closed the stream")))
  }

  /** Discards the inbox: pending and later reads fail with `Closed` at once. */
  discardInbox(message = "the stream is closed"): void {
    Queue.failCauseUnsafe(this.inbox, Cause.fail(closedError(this.remote, message)))
    Queue.shutdownUnsafe(this.inbox)
  }
}

/** The error a closed stream reports. */
export const closedError = (address: string, message: string): TransportError =>
  new TransportError({ reason: "Closed", address, message })

/** Makes the two ends of a connection from `a` (dialing) to `b` (accepting), each inbox holding `capacity` chunks. */
export const makePair = (
  a: SimNode,
  b: SimNode,
  host: StreamHost,
  capacity: number
): Effect.Effect<readonly [dialing: SimEndpoint, accepting: SimEndpoint]> =>
  Effect.map(
    Effect.all([Queue.bounded<Uint8Array, TransportError>(capacity), Queue.bounded<Uint8Array, TransportError>(capacity)]),
    ([inboxA, inboxB]) => {
      const dialing = new SimEndpoint(a, b.address, inboxA, host)
      const accepting = new SimEndpoint(b, a.address, inboxB, host)
      dialing.peer = accepting
      accepting.peer = dialing
      return [dialing, accepting] as const
    }
  )
