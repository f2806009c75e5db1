/**
 * The transport's own HTTP(S) server, for a node that does not share an
 * application's: `@effect/platform-node`'s `HttpServer` on a Node server made
 * here, so that what the application server would leave to its owner is
 * bounded too. That package is an optional peer, loaded only when such a
 * server starts: a node on UDP/TCP, or mounted on an application's server,
 * never needs it. A client that does not finish its upgrade request within
 * `handshakeTimeout` is answered 408 and cut off, a malformed request 400,
 * and connections over the limits are closed at accept; each is counted.
 */
import type * as NodeHttpServerModule from "@effect/platform-node/NodeHttpServer"
import { Effect, Exit, FiberSet, Scope } from "effect"
import { HttpServerRequest } from "effect/http"
import type * as Http from "node:http"
import type * as Https from "node:https"
import { createRequire } from "node:module"
import type { Socket as NetSocket } from "node:net"
import { canonicalIp } from "../Resolve.ts"
import { TransportError } from "../Transport.ts"
import type { Core } from "./Core.ts"
import { makeHandler } from "./Http.ts"
import type { WebSocketLimits } from "./Limits.ts"
import { WebSocketRefusal } from "./Stats.ts"

/** Where and how the server listens. */
export interface StandaloneOptions {
  readonly host: string
  readonly port: number
  readonly path: string
  readonly limits: WebSocketLimits
  /** Certificate and key (PEM): the server speaks HTTPS (wss). */
  readonly tls?: { readonly cert: string | Uint8Array; readonly key: string | Uint8Array } | undefined
}

const requireBuiltin = createRequire(import.meta.url)

const causeText = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

const bindAddress = (host: string, port: number): string => `${host.includes(":") ? `[${host}]` : host}:${port}`

/** `@effect/platform-node`'s HTTP server module, or a bind failure that says to install it. */
const loadNodeHttpServer = (address: string): Effect.Effect<typeof NodeHttpServerModule, TransportError> =>
  Effect.tryPromise({
    try: () => import("@effect/platform-node/NodeHttpServer"),
    catch: (cause) =>
      new TransportError({
        reason: "Bind",
        address,
        message: `a standalone WebSocket server needs the package @effect/platform-node: ${causeText(cause)}`
      })
  })

/**
 * Listens in the current scope; returns the bound port and `attach`, which
 * starts serving the gossip path with `core` (requests wait until then).
 */
export const listenStandalone = Effect.fnUntraced(function*(options: StandaloneOptions) {
  const { limits } = options
  let core: Core | undefined
  const runFork = yield* FiberSet.makeRuntime<never, void, never>()
  const timeouts = {
    headersTimeout: limits.handshakeTimeout,
    requestTimeout: limits.handshakeTimeout,
    // how often Node looks for requests past their timeout
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.handshakeTimeout / 2)))
  }
  // read here, not at load: a node that never serves WebSocket never loads Node's HTTP stack; as
  // CommonJS, because the ES module facade of node:http also evaluates Node's bundled undici
  const server: Http.Server = options.tls === undefined
    ? (requireBuiltin("node:http") as typeof Http).createServer(timeouts)
    : (requireBuiltin("node:https") as typeof Https).createServer({
      ...timeouts,
      cert: options.tls.cert as string,
      key: options.tls.key as string,
      // the TLS handshake comes before any HTTP: bounded by the same time
      handshakeTimeout: limits.handshakeTimeout
    })
  const sockets = new Set<NetSocket>()
  let closing = false
  const refuse = (refusal: WebSocketRefusal) => {
    if (core !== undefined) runFork(core.counters.refuse(refusal))
  }

  const timeoutAnswer = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n"
  // A connection must have sent a whole request by then (Node's own timeouts only start at its
  // first byte). The timer is on the socket the request arrives on: the TLS socket under HTTPS.
  const handshakeTimers = new WeakMap<NetSocket, ReturnType<typeof setTimeout>>()
  const requestArrived = (socket: NetSocket) => {
    clearTimeout(handshakeTimers.get(socket))
    handshakeTimers.delete(socket)
  }
  const awaitRequest = (socket: NetSocket, peer: string) => {
    handshakeTimers.set(
      socket,
      setTimeout(() => {
        if (socket.destroyed) return
        refuse(new WebSocketRefusal({ reason: "HandshakeTimeout", peer, message: `no request within ${limits.handshakeTimeout} ms` }))
        if (socket.writable) socket.end(timeoutAnswer)
        socket.destroy()
      }, limits.handshakeTimeout)
    )
    socket.once("close", () => requestArrived(socket))
  }

  // limits at accept, before a single byte is parsed: a flood of idle connections costs nothing
  server.on("connection", (socket: NetSocket) => {
    if (closing) return void socket.destroy()
    const peer = canonicalIp(socket.remoteAddress ?? "unknown")
    const slot = core === undefined ? "ConnectionLimit" : core.admit(peer)
    if (typeof slot === "string") {
      refuse(new WebSocketRefusal({ reason: slot, peer, message: "connection closed at accept" }))
      socket.destroy()
      return
    }
    sockets.add(socket)
    if (options.tls === undefined) awaitRequest(socket, peer)
    socket.once("close", () => {
      sockets.delete(socket)
      slot.release()
    })
  })
  server.on("secureConnection", (socket: NetSocket) => awaitRequest(socket, canonicalIp(socket.remoteAddress ?? "unknown")))
  server.on("request", (request: Http.IncomingMessage) => requestArrived(request.socket))
  server.on("upgrade", (request: Http.IncomingMessage) => requestArrived(request.socket))
  server.on("clientError", (err: Error & { code?: string }, socket: NetSocket) => {
    // already cut off (and counted) by the handshake timer
    if (socket.destroyed) return
    const peer = canonicalIp(socket.remoteAddress ?? "unknown")
    // a client that hung up is not refused, just gone
    if (err.code !== "ECONNRESET" && err.code !== "EPIPE") {
      const timedOut = err.code === "ERR_HTTP_REQUEST_TIMEOUT"
      refuse(new WebSocketRefusal({ reason: timedOut ? "HandshakeTimeout" : "BadRequest", peer, message: err.message }))
      if (socket.writable) socket.end(timedOut ? timeoutAnswer : "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
    }
    socket.destroy()
  })
  server.on("tlsClientError", (err: Error & { code?: string }, socket: NetSocket) => {
    const reason = err.code === "ERR_TLS_HANDSHAKE_TIMEOUT" ? "HandshakeTimeout" : "BadRequest"
    refuse(new WebSocketRefusal({ reason, peer: canonicalIp(socket.remoteAddress ?? "unknown"), message: err.message }))
  })

  // The server lives in a scope of its own, closed by the finalizer below once the transport's
  // connections are gone: `ws` waits for every WebSocket before it lets the server close.
  const parent = yield* Effect.scope
  const serverScope = yield* Scope.fork(parent, "sequential")
  const address = bindAddress(options.host, options.port)
  const NodeHttpServer = yield* loadNodeHttpServer(address)
  const http = yield* NodeHttpServer.make(() => server, {
    host: options.host,
    port: options.port,
    // the transport closes its own connections; nothing else is worth waiting for
    disablePreemptiveShutdown: true,
    websocket: { maxPayload: limits.maxFrameSize, perMessageDeflate: false }
  }).pipe(
    Effect.mapError((e) =>
      new TransportError({
        reason: "Bind",
        address,
        message: `WebSocket server: ${causeText((e as { readonly cause?: unknown }).cause ?? e)}`
      })
    ),
    Scope.provide(serverScope)
  )
  // runs after the transport's own finalizer (registered later), which closed its connections:
  // what is still open gets a moment to flush, then is cut so `server.close` need not wait for it
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      // peers still sending would reconnect at once and hold `server.close` open
      closing = true
      for (const socket of sockets) {
        socket.end()
        setTimeout(() => socket.destroy(), 250).unref()
      }
      sockets.clear()
    }).pipe(Effect.andThen(Scope.close(serverScope, Exit.void)))
  )
  const attach = (attached: Core) =>
    Effect.suspend(() => {
      core = attached
      return http.serve(Effect.flatMap(HttpServerRequest.HttpServerRequest, makeHandler(attached, { path: options.path, admit: false })))
    }).pipe(Scope.provide(serverScope))
  return { port: http.address._tag === "UnixPathAddress" ? options.port : http.address.port, attach }
})
