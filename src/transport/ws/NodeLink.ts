/**
 * Links over real WebSockets: effect's `Socket` (from an HTTP upgrade, or
 * `Socket.fromWebSocket` around a `ws` client) as a `Link`, and the connector
 * that dials peers. A pinned IP is reached through a custom `lookup`, so the
 * URL keeps its host name for the `Host` header and the certificate check.
 */
import type * as NodeWS from "@effect/platform-node-shared/NodeWS"
import { Effect, Scope } from "effect"
import { Socket } from "effect/socket"
import { isIP } from "node:net"
import type { LookupFunction } from "node:net"
import { TransportError } from "../Transport.ts"
import type { Connector } from "./Core.ts"
import type { WebSocketLimits } from "./Limits.ts"
import { type Link, LinkError } from "./Link.ts"
import { type DialTarget, targetUrl } from "./WsAddress.ts"

/** How this node checks the servers it dials over wss. */
export interface TlsClientOptions {
  /** Trusted CA certificates (PEM); the system's when absent. */
  readonly ca?: string | Uint8Array | undefined
  /** The name a member's certificate must carry, when members are dialed by IP. */
  readonly serverName?: string | undefined
  /** Verify server certificates (default true). */
  readonly rejectUnauthorized?: boolean | undefined
}

const errorCode = (cause: unknown): string | undefined => {
  // ws reports errors through ErrorEvent-like objects that carry the Error
  const inner = typeof cause === "object" && cause !== null && "error" in cause ? cause.error : cause
  return typeof inner === "object" && inner !== null && "code" in inner && typeof inner.code === "string"
    ? inner.code
    : undefined
}

const causeMessage = (cause: unknown): string => {
  const inner = typeof cause === "object" && cause !== null && "error" in cause ? cause.error : cause
  return inner instanceof Error ? inner.message : String(inner)
}

/** A socket failure as a link failure: a close keeps its code, an oversized frame is `TooLarge`. */
const linkError = (e: Socket.SocketError): LinkError => {
  const reason = e.reason
  if (reason._tag === "SocketCloseError") {
    return new LinkError({ reason: reason.code === 1009 ? "TooLarge" : "Closed", code: reason.code, message: `closed (${reason.code}${reason.closeReason ? `: ${reason.closeReason}` : ""})` })
  }
  const cause = "cause" in reason ? reason.cause : undefined
  if (errorCode(cause) === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") {
    return new LinkError({ reason: "TooLarge", code: 1009, message: causeMessage(cause) })
  }
  return new LinkError({ reason: "Io", code: 1006, message: cause === undefined ? e.message : causeMessage(cause) })
}

/** Opens `socket` in the current scope (for a client, this connects) and wraps it as a `Link`. */
export const socketLink = (
  socket: Socket.Socket,
  peer: string,
  buffered: () => number = () => 0
): Effect.Effect<Link, Socket.SocketError, Scope.Scope> =>
  Effect.gen(function*() {
    const reader = yield* socket.reader
    const writer = yield* socket.writer
    let closing = false
    return {
      peer,
      read: Effect.mapError(reader.pull, linkError),
      write: (messages) => Effect.mapError(writer.writeAll(messages), linkError),
      buffered,
      close: (code, reason) =>
        Effect.suspend(() => {
          if (closing) return Effect.void
          closing = true
          return Effect.ignore(writer.write(new Socket.CloseEvent(code, reason)))
        })
    } satisfies Link
  })

/** Maps a failed connection attempt to the transport's reasons. */
const dialError = (address: string) => (e: Socket.SocketError): TransportError => {
  const reason = e.reason
  if (reason._tag === "SocketOpenError" && reason.kind === "Timeout") {
    return new TransportError({ reason: "Timeout", address, message: "no connection in time" })
  }
  const cause = "cause" in reason ? reason.cause : undefined
  const message = cause === undefined ? e.message : causeMessage(cause)
  switch (errorCode(cause)) {
    case "ECONNREFUSED":
      return new TransportError({ reason: "Refused", address, message })
    case "ETIMEDOUT":
      return new TransportError({ reason: "Timeout", address, message })
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "EHOSTDOWN":
    case "ENETDOWN":
    case "EADDRNOTAVAIL":
      return new TransportError({ reason: "Unreachable", address, message })
  }
  // an HTTP answer instead of an upgrade: the server is there but refuses us (404, 429, 503, …)
  if (message.startsWith("Unexpected server response")) return new TransportError({ reason: "Refused", address, message })
  return new TransportError({ reason: reason._tag === "SocketCloseError" ? "Closed" : "Io", address, message })
}

/** Resolves the URL's host to the pinned IP, in both shapes Node's `lookup` callers expect. */
const pinnedLookup = (ip: string): LookupFunction => (_host, options, callback) => {
  const family = isIP(ip)
  if (options.all === true) (callback as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: ip, family }])
  else callback(null, ip, family)
}

/** The `ws` client, read at the first dial: a node that never dials over WebSocket never loads it. */
const loadWs = Effect.promise(() => import("@effect/platform-node-shared/NodeWS"))

/** Dials peers with the `ws` client, one WebSocket per link. */
export const nodeConnector = (limits: WebSocketLimits, tls: TlsClientOptions = {}): Connector => ({
  connect: (target: DialTarget, timeoutMillis: number) => {
    const url = targetUrl(target)
    let ws: NodeWS.WebSocket | undefined
    const open = Effect.acquireRelease(
      Effect.flatMap(loadWs, (client) => Effect.try({
        try: () => {
          ws = new client.WebSocket(url, {
            maxPayload: limits.maxFrameSize,
            perMessageDeflate: false,
            handshakeTimeout: Math.max(1, timeoutMillis),
            followRedirects: false,
            ...(target.ip === undefined ? {} : { lookup: pinnedLookup(target.ip) }),
            ...(tls.ca === undefined ? {} : { ca: tls.ca as string }),
            ...(tls.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: tls.rejectUnauthorized }),
            // a member dialed by IP is checked against the cluster's certificate name
            ...(tls.serverName !== undefined && isIP(target.host) !== 0 ? { servername: tls.serverName } : {})
          })
          return ws
        },
        catch: (cause) => new Socket.SocketError({ reason: new Socket.SocketOpenError({ kind: "Unknown", cause }) })
      })),
      (w) => Effect.sync(() => w.readyState === w.CONNECTING ? w.terminate() : w.close(1000))
    )
    return Effect.flatMap(
      Socket.fromWebSocket(open, { openTimeout: Math.max(1, timeoutMillis) }),
      (socket) => socketLink(socket, target.key, () => ws?.bufferedAmount ?? 0)
    ).pipe(Effect.mapError(dialError(target.key)))
  }
})
