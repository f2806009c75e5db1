/**
 * The `Transport` service: unreliable, size-bounded packets and reliable
 * streams between `host:port` addresses. The engine never touches sockets; it
 * only sees this interface, so the same engine runs on UDP/TCP or on the
 * in-memory `SimNetwork`.
 */
import { Context, Schema } from "effect"
import type { Effect, Queue, Scope } from "effect"

/** Why a transport operation failed. */
export const TransportReason = Schema.Literals([
  "Unreachable",
  "Refused",
  "Timeout",
  "Closed",
  "TooLarge",
  "BadAddress",
  "Bind",
  "Io"
])
export type TransportReason = typeof TransportReason.Type

/** A transport operation failed; `reason` says how, `address` where. */
export class TransportError extends Schema.TaggedError<TransportError>()("TransportError", {
  reason: TransportReason,
  address: Schema.String,
  message: Schema.String
}) {}

/** A datagram as received. `at` is the Clock time of arrival, in millis. */
export interface InboundPacket {
  readonly from: string
  readonly bytes: Uint8Array
  readonly at: number
}

/** One reliable, ordered byte stream (one request and at most one response). */
export interface StreamConnection {
  /** The peer's address as the transport sees it (not an identity: TCP source ports are ephemeral). */
  readonly remote: string
  /** The next chunk of bytes; fails with reason `Closed` once the peer has closed. */
  readonly read: Effect.Effect<Uint8Array, TransportError>
  write(bytes: Uint8Array): Effect.Effect<void, TransportError>
  /** Closes the stream; idempotent. */
  readonly close: Effect.Effect<void>
}

/** What a transport offers the engine: datagrams, streams and name resolution. */
export interface TransportShape {
  /** The address and port other nodes use to reach this node. */
  readonly advertise: { readonly addr: Uint8Array; readonly port: number }
  /** The largest datagram this transport carries; bigger sends fail with `TooLarge`. */
  readonly maxPacketSize: number
  /** Best effort: a lost packet is not an error. */
  sendPacket(to: string, bytes: Uint8Array): Effect.Effect<void, TransportError>
  /**
   * The same, done at once, for transports whose send never waits (the simulated network):
   * the node then sends without running an effect per datagram. Returns the error, if any.
   */
  readonly sendPacketNow?: (to: string, bytes: Uint8Array) => TransportError | undefined
  /**
   * For transports that queue datagrams (a connection may still be dialing): completes once
   * every datagram handed over so far has been written out, dropped, or lost with a connection
   * that failed. A leaving node waits for it before its scope closes the transport. Transports
   * whose sends leave at once (UDP) leave it out.
   */
  readonly flush?: Effect.Effect<void>
  /** Inbound datagrams, in arrival order (bounded; overflow is dropped and counted). */
  readonly packets: Queue.Dequeue<InboundPacket>
  /**
   * For transports that deliver from plain code (the simulated network): hands each
   * arriving datagram to `receive` at once instead of queueing it in `packets`, so that
   * a consumer which admits or drops datagrams itself (the node's handoff queue) saves
   * a fiber wake-up per datagram. `undefined` goes back to `packets`.
   */
  readonly receivePacketsWith?: (receive: ((from: string, bytes: Uint8Array) => void) | undefined) => void
  /** Opens a stream to `to` within `timeoutMillis`; it closes with the scope. */
  dial(to: string, timeoutMillis: number): Effect.Effect<StreamConnection, TransportError, Scope.Scope>
  /** Inbound streams. The consumer must `close` each one when done. */
  readonly streams: Queue.Dequeue<StreamConnection>
  /**
   * Turns a user-given address (`host:port`, a host name, `srv+_svc._proto.domain`, …)
   * into the addresses to contact. Transports without name resolution leave it out:
   * addresses are then used as given.
   */
  readonly resolve?: (address: string) => Effect.Effect<ReadonlyArray<string>, TransportError>
}

/** How this node reaches others. */
export class Transport extends Context.Service<Transport, TransportShape>()("effect-gossip/Transport") {}
