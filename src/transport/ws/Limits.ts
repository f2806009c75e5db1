/**
 * The bounds of the WebSocket transport: every queue, connection and frame
 * has one, with its overflow policy stated where it applies.
 */
import { Duration } from "effect"

/** Tunables of the WebSocket transport; each has a default (see `Defaults`). */
export interface WebSocketLimits {
  /** Largest frame (one WebSocket message) accepted; bigger ones close the connection (code 1009). */
  readonly maxFrameSize: number
  /** Inbound connections served at once; more are answered 503. */
  readonly maxConnections: number
  /**
   * Inbound connections from one source IP at once; more are answered 429 (or, standalone,
   * closed at accept). Behind a proxy every peer shares the proxy's IP: raise it there.
   */
  readonly maxConnectionsPerPeer: number
  /** Streams open at once on one connection; more are reset. */
  readonly maxStreamsPerConnection: number
  /** Inbound streams waiting for the engine, over all connections; more are reset. */
  readonly inboundStreamCapacity: number
  /** Inbound datagrams waiting for the engine; more are dropped (newest first) and counted. */
  readonly inboundPacketCapacity: number
  /** Datagrams waiting to go out to one peer; when full the oldest is dropped and counted. */
  readonly peerQueueSize: number
  /** Bytes one stream may have in flight before the receiver grants more credit. */
  readonly streamWindow: number
  /** An outbound connection with no stream and no traffic for this long is closed (ms). */
  readonly idleTimeout: number
  /** A peer has this long to send its upgrade request and its hello (ms). */
  readonly handshakeTimeout: number
  /** A silent outbound connection is pinged after this long and closed after twice it (ms). */
  readonly keepaliveInterval: number
  /** How long a connection attempt may take when no caller set a deadline (ms). */
  readonly connectTimeout: number
  /** First wait before reconnecting to a peer that could not be reached; doubles per failure (ms). */
  readonly reconnectBackoff: number
  /** The longest wait between reconnection attempts (ms). */
  readonly reconnectBackoffMax: number
}

/** The defaults: memberlist's push/pull limit for streams, a 64 KiB datagram with room to spare per frame. */
export const Defaults: WebSocketLimits = {
  maxFrameSize: 128 * 1024,
  maxConnections: 1024,
  maxConnectionsPerPeer: 64,
  maxStreamsPerConnection: 128,
  inboundStreamCapacity: 128,
  inboundPacketCapacity: 4096,
  peerQueueSize: 1024,
  streamWindow: 256 * 1024,
  idleTimeout: 60_000,
  handshakeTimeout: 5_000,
  keepaliveInterval: 5_000,
  connectTimeout: 5_000,
  reconnectBackoff: 200,
  reconnectBackoffMax: 5_000
}

/** Stream data is sent in chunks of at most this size, well under any sane frame limit. */
export const DATA_CHUNK = 16 * 1024

/** The largest datagram, as for UDP/IPv4, so the engine sizes messages the same on both transports. */
export const MAX_PACKET_SIZE = 65_507

/** Every limit filled in, or the name of the first bad one. */
export const resolveLimits = (input: Partial<WebSocketLimits> | undefined): WebSocketLimits | string => {
  const out = { ...Defaults, ...dropUndefined(input ?? {}) }
  for (const [key, value] of Object.entries(out)) {
    if (!(Number.isSafeInteger(value) && value > 0)) return `${key} must be a positive integer, got ${value}`
  }
  if (out.maxFrameSize < MAX_PACKET_SIZE + 1) return `maxFrameSize must be at least ${MAX_PACKET_SIZE + 1}`
  if (out.streamWindow < DATA_CHUNK) return `streamWindow must be at least ${DATA_CHUNK}`
  return out
}

const dropUndefined = (input: Partial<WebSocketLimits>): Partial<WebSocketLimits> =>
  Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as Partial<WebSocketLimits>

/** `WebSocketLimits` as configuration takes them: sizes as numbers, times in any Effect duration form. */
export type WebSocketLimitsInput = {
  readonly [K in keyof WebSocketLimits]?: K extends TimeLimit ? Duration.Input : number
}

/** The limits that are durations. */
export type TimeLimit =
  | "idleTimeout"
  | "handshakeTimeout"
  | "keepaliveInterval"
  | "connectTimeout"
  | "reconnectBackoff"
  | "reconnectBackoffMax"

const timeLimits: ReadonlySet<string> = new Set<TimeLimit>([
  "idleTimeout",
  "handshakeTimeout",
  "keepaliveInterval",
  "connectTimeout",
  "reconnectBackoff",
  "reconnectBackoffMax"
])

/** Configuration input to millisecond limits (checked values: see `resolveLimits` for the ranges). */
export const limitsFromInput = (input: WebSocketLimitsInput): Partial<WebSocketLimits> =>
  Object.fromEntries(
    Object.entries(input).flatMap(([k, v]) =>
      v === undefined
        ? []
        : [[k, timeLimits.has(k) && typeof v !== "number" ? Duration.toMillis(Duration.fromInputUnsafe(v as Duration.Input)) : v]]
    )
  ) as Partial<WebSocketLimits>
