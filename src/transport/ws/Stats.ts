/**
 * Counters of the WebSocket transport and the typed error for input it
 * refuses. Every refusal is counted by reason (and as the metric
 * `gossip_ws_refused`, labelled by reason); the node keeps running.
 */
import { Effect, Metric, Schema } from "effect"

/** Why the transport refused a request, a connection or a frame. */
export const RefusalReason = Schema.Literals([
  /** A request for another path than the gossip path (standalone server). */
  "WrongPath",
  /** A request on the gossip path that is not a WebSocket upgrade. */
  "NotUpgrade",
  /** A frame that does not decode, a text frame, or a frame that breaks the protocol. */
  "BadFrame",
  /** A frame over `maxFrameSize`. */
  "FrameTooLarge",
  /** No complete upgrade request, or no hello, within `handshakeTimeout`. */
  "HandshakeTimeout",
  /** A hello with another protocol version. */
  "BadVersion",
  /** More than `maxConnectionsPerPeer` connections from one source IP. */
  "PeerLimit",
  /** More than `maxConnections` connections in all. */
  "ConnectionLimit",
  /** A malformed HTTP request (the server's parser refused it). */
  "BadRequest"
])
export type RefusalReason = typeof RefusalReason.Type

/** Input the WebSocket transport refused; `peer` is the source it came from. */
export class WebSocketRefusal extends Schema.TaggedError<WebSocketRefusal>()("WebSocketRefusal", {
  reason: RefusalReason,
  peer: Schema.String,
  message: Schema.String
}) {}

/** What the WebSocket transport has done and thrown away. */
export interface WebSocketStats {
  /** Outbound connections established, and attempts that failed. */
  readonly connectionsOpened: number
  readonly connectFailures: number
  /** Inbound connections accepted (hello received). */
  readonly connectionsAccepted: number
  /** Connections open now, each way. */
  readonly outboundOpen: number
  readonly inboundOpen: number
  /** Outbound connections closed for being idle, and connections closed because the peer went silent. */
  readonly idleClosed: number
  readonly keepaliveTimeouts: number
  /** Bytes of frames written to and read from connections, both ways round. */
  readonly bytesSent: number
  readonly bytesReceived: number
  readonly packetsSent: number
  readonly packetsReceived: number
  /** Datagrams lost here: a full peer queue (oldest first), a failed connection, a full inbound queue. */
  readonly packetsDropped: number
  /** Datagrams refused at once because their peer is waiting out a reconnection backoff. */
  readonly packetsRefused: number
  readonly streamsOpened: number
  readonly streamsAccepted: number
  /** Inbound streams reset: too many on a connection, or the engine's queue was full. */
  readonly streamsRejected: number
  /** Refusals by reason. */
  readonly refused: Readonly<Record<RefusalReason, number>>
}

const refusedMetric = Metric.counter("gossip_ws_refused", {
  description: "Requests, connections and frames the WebSocket transport refused",
  incremental: true
})

/** Mutable counters owned by one transport; `snapshot` copies them. */
export class Counters {
  connectionsOpened = 0
  connectFailures = 0
  connectionsAccepted = 0
  outboundOpen = 0
  inboundOpen = 0
  idleClosed = 0
  keepaliveTimeouts = 0
  bytesSent = 0
  bytesReceived = 0
  packetsSent = 0
  packetsReceived = 0
  packetsDropped = 0
  packetsRefused = 0
  streamsOpened = 0
  streamsAccepted = 0
  streamsRejected = 0
  readonly refused: Record<RefusalReason, number> = {
    WrongPath: 0,
    NotUpgrade: 0,
    BadFrame: 0,
    FrameTooLarge: 0,
    HandshakeTimeout: 0,
    BadVersion: 0,
    PeerLimit: 0,
    ConnectionLimit: 0,
    BadRequest: 0
  }

  /** Counts a refusal and returns an effect that logs it and updates the metric. */
  refuse(refusal: WebSocketRefusal): Effect.Effect<void> {
    this.refused[refusal.reason]++
    return Metric.update(refusedMetric.pipe(Metric.withAttributes({ reason: refusal.reason })), 1).pipe(
      Effect.andThen(Effect.logDebug("gossip transport: refused", refusal.reason, refusal.peer, refusal.message))
    )
  }

  snapshot(): WebSocketStats {
    return {
      connectionsOpened: this.connectionsOpened,
      connectFailures: this.connectFailures,
      connectionsAccepted: this.connectionsAccepted,
      outboundOpen: this.outboundOpen,
      inboundOpen: this.inboundOpen,
      idleClosed: this.idleClosed,
      keepaliveTimeouts: this.keepaliveTimeouts,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      packetsSent: this.packetsSent,
      packetsReceived: this.packetsReceived,
      packetsDropped: this.packetsDropped,
      packetsRefused: this.packetsRefused,
      streamsOpened: this.streamsOpened,
      streamsAccepted: this.streamsAccepted,
      streamsRejected: this.streamsRejected,
      refused: { ...this.refused }
    }
  }
}
