/**
 * The WebSocket `Transport`: memberlist's datagrams and streams over
 * WebSocket connections, for nodes that can only reach each other over
 * HTTP(S) — through load balancers, ingresses and TCP proxies. The engine,
 * the codec, encryption and labels are the same as on UDP/TCP.
 *
 * A member advertises `ip:port` in its alive messages, as memberlist does; it
 * is reached at `<scheme>://ip:port<path>`, where the scheme and path are the
 * same for every member of the cluster (they come from this node's own
 * advertised URL). Seeds may be any URL (see `WsAddress.ts`).
 *
 * ```ts
 * // its own server
 * const standalone = WebSocketTransport.layerNode({ bindAddress: "0.0.0.0", bindPort: 8080 })
 * // or a route on the application's server: add `WebSocketTransport.route` to its router
 * const mounted = WebSocketTransport.layerMountedNode({ advertiseUrl: "wss://10.0.0.5:443/gossip" })
 * ```
 */
import * as NodeDns from "@effect/platform-node-shared/NodeDns"
import { Context, Effect, Layer } from "effect"
import type { HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpRouter, HttpServer } from "effect/http"
import { Dns, NetAddress } from "effect/net"
import { isIP } from "node:net"
import { addressOf, parseIp } from "../../Address.ts"
import { type Advertise, chooseAdvertise } from "../Advertise.ts"
import { canonicalIp } from "../Resolve.ts"
import { SimNetwork } from "../SimNetwork.ts"
import { Transport, TransportError } from "../Transport.ts"
import { type Connector, type Core, makeCore } from "./Core.ts"
import { makeHandler } from "./Http.ts"
import { resolveLimits, type WebSocketLimits } from "./Limits.ts"
import { nodeConnector } from "./NodeLink.ts"
import { simAcceptor, simConnector } from "./SimLink.ts"
import { listenStandalone } from "./Standalone.ts"
import type { WebSocketStats } from "./Stats.ts"
import { loadPem, type PemInput } from "./Tls.ts"
import { checkPath, type MemberEndpoint, memberUrl } from "./WsAddress.ts"

/** TLS settings: the server's certificate and key, and how this node checks the servers it dials. */
export interface WebSocketTlsOptions {
  /** Certificate chain (PEM text or a file path); with `key`, the standalone server speaks HTTPS (wss). */
  readonly cert?: PemInput | undefined
  /** Private key (PEM text or a file path). */
  readonly key?: PemInput | undefined
  /** CA certificates trusted for the members dialed (PEM text or a file path); the system's when absent. */
  readonly ca?: PemInput | undefined
  /** The name members' certificates carry, checked when a member is dialed by IP. */
  readonly serverName?: string | undefined
  /** Verify the certificates of the members dialed (default true). */
  readonly rejectUnauthorized?: boolean | undefined
}

/** How to serve and reach the WebSocket transport. */
export interface WebSocketTransportOptions {
  /** IP literal to listen on (standalone; default `0.0.0.0`). */
  readonly bindAddress?: string | undefined
  /** Port to listen on (standalone; default 7946, 0 lets the OS choose). */
  readonly bindPort?: number | undefined
  /** The path gossip is served on (default `/gossip`). */
  readonly path?: string | undefined
  /**
   * This node's URL as the others reach it: `ws(s)://ip:port/path` (`http(s)` work too). Its
   * scheme and path are how this node reaches every member; its IP and port go in the alive
   * messages. Default: the scheme of the server, the advertised IP and port, and `path`.
   */
  readonly advertiseUrl?: string | undefined
  /** IP to advertise when no `advertiseUrl` is given (as for UDP/TCP). */
  readonly advertiseAddress?: string | undefined
  /** Port to advertise when no `advertiseUrl` is given. */
  readonly advertisePort?: number | undefined
  readonly tls?: WebSocketTlsOptions | undefined
  /** Bounds of queues, connections and frames (see `WebSocketLimits`). */
  readonly limits?: Partial<WebSocketLimits> | undefined
}

/** Default path. */
export const DEFAULT_PATH = "/gossip"

const configError = (address: string, message: string) => new TransportError({ reason: "BadAddress", address, message })

interface Settings {
  readonly path: string
  readonly limits: WebSocketLimits
  readonly url: { readonly secure: boolean; readonly advertise: Advertise; readonly path: string } | undefined
}

/** Checks what does not depend on binding: path, limits, the advertised URL. */
const settings = (options: WebSocketTransportOptions): Effect.Effect<Settings, TransportError> =>
  Effect.suspend((): Effect.Effect<Settings, TransportError> => {
    const path = options.path ?? DEFAULT_PATH
    const bad = checkPath(path)
    if (bad !== undefined) return Effect.fail(configError(path, bad))
    const limits = resolveLimits(options.limits)
    if (typeof limits === "string") return Effect.fail(configError("", `limits: ${limits}`))
    if (options.advertiseUrl === undefined) return Effect.succeed({ path, limits, url: undefined })
    let url: URL
    try {
      url = new URL(options.advertiseUrl)
    } catch {
      return Effect.fail(configError(options.advertiseUrl, "advertiseUrl is not a URL"))
    }
    if (!/^(wss?|https?):$/.test(url.protocol)) return Effect.fail(configError(options.advertiseUrl, "advertiseUrl must be ws://, wss://, http:// or https://"))
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname
    // memberlist's alive messages carry an IP and a port, nothing else
    if (isIP(host) === 0) return Effect.fail(configError(options.advertiseUrl, "advertiseUrl must name an IP address: members are announced by IP and port"))
    const secure = url.protocol === "wss:" || url.protocol === "https:"
    const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port)
    const urlPath = `${url.pathname}${url.search}`
    return Effect.succeed({ path, limits, url: { secure, path: urlPath, advertise: { addr: parseIp(canonicalIp(host))!, port } } })
  })

const advertiseOf = (
  s: Settings,
  options: WebSocketTransportOptions,
  bound: { readonly host: string; readonly port: number },
  secureServer: boolean
): Effect.Effect<{ readonly advertise: Advertise; readonly endpoint: MemberEndpoint }, TransportError> => {
  if (s.url !== undefined) return Effect.succeed({ advertise: s.url.advertise, endpoint: { secure: s.url.secure, path: s.url.path } })
  const advertise = chooseAdvertise({
    bindAddress: bound.host,
    boundPort: bound.port,
    advertiseAddress: options.advertiseAddress,
    advertisePort: options.advertisePort
  })
  return advertise instanceof TransportError
    ? Effect.fail(advertise)
    : Effect.succeed({ advertise, endpoint: { secure: secureServer, path: s.path } })
}

const tlsClient = Effect.fnUntraced(function*(tls: WebSocketTlsOptions | undefined) {
  return {
    ca: tls?.ca === undefined ? undefined : yield* loadPem("CA", tls.ca),
    serverName: tls?.serverName,
    rejectUnauthorized: tls?.rejectUnauthorized
  }
})

/** What the WebSocket transport adds beyond `Transport`. */
export interface WebSocketTransportShape {
  /** This node's URL as others reach it. */
  readonly url: string
  /** The path gossip is served on. */
  readonly path: string
  /** The port listened on (standalone: the OS's pick when `bindPort` was 0; mounted: the server's). */
  readonly port: number
  readonly stats: Effect.Effect<WebSocketStats>
  /** Answers a request routed to gossip (what `WebSocketTransport.route` serves), limits checked. */
  readonly handle: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<HttpServerResponse.HttpServerResponse>
}

const shapeOf = (core: Core, url: string, path: string, port: number): WebSocketTransportShape => ({
  url,
  path,
  port,
  stats: Effect.sync(() => core.counters.snapshot()),
  handle: makeHandler(core, { path: undefined, admit: true })
})

const selfUrl = (endpoint: MemberEndpoint, advertise: Advertise) => memberUrl(endpoint, addressOf(advertise.addr, advertise.port))

const context = (core: Core, shape: WebSocketTransportShape) =>
  Context.make(Transport, core.transport).pipe(Context.add(WebSocketTransport, shape))

/** Its own HTTP(S) server on `bindAddress:bindPort`. */
const makeStandalone = Effect.fnUntraced(function*(options: WebSocketTransportOptions) {
  const s = yield* settings(options)
  const host = options.bindAddress ?? "0.0.0.0"
  const port = options.bindPort ?? 7946
  if (isIP(host) === 0) return yield* configError(host, "bindAddress must be an IP literal")
  if (!Number.isInteger(port) || port < 0 || port > 65535) return yield* configError(host, `bad bindPort ${port}`)
  const tls = options.tls
  if ((tls?.cert === undefined) !== (tls?.key === undefined)) {
    return yield* configError("", "tls needs both cert and key to serve wss")
  }
  const serverTls = tls?.cert !== undefined && tls.key !== undefined
    ? { cert: yield* loadPem("certificate", tls.cert), key: yield* loadPem("key", tls.key) }
    : undefined
  const listener = yield* listenStandalone({ host, port, path: s.path, limits: s.limits, tls: serverTls })
  const { advertise, endpoint } = yield* advertiseOf(s, options, { host, port: listener.port }, serverTls !== undefined)
  const connector = nodeConnector(s.limits, yield* tlsClient(tls))
  const core = yield* makeCore({ advertise, endpoint, limits: s.limits, connector })
  yield* listener.attach(core)
  return context(core, shapeOf(core, selfUrl(endpoint, advertise), s.path, listener.port))
})

/** On the application's `HttpServer`: advertises its address unless told otherwise. */
const makeMounted = Effect.fnUntraced(function*(options: WebSocketTransportOptions) {
  const s = yield* settings(options)
  const server = yield* HttpServer.HttpServer
  const address = server.address
  if (address._tag === "UnixPathAddress" && s.url === undefined) {
    return yield* configError(address.path, "a server on a Unix socket needs an advertiseUrl")
  }
  const bound = address._tag === "UnixPathAddress"
    ? { host: "0.0.0.0", port: 0 }
    : { host: canonicalIp(NetAddress.formatIp(address.address)), port: address.port }
  const { advertise, endpoint } = yield* advertiseOf(s, options, bound, false)
  const connector = nodeConnector(s.limits, yield* tlsClient(options.tls))
  const core = yield* makeCore({ advertise, endpoint, limits: s.limits, connector })
  return context(core, shapeOf(core, selfUrl(endpoint, advertise), s.path, bound.port))
})

/** Over SimNetwork streams at `address`, for whole WebSocket clusters under `TestClock`. */
const makeSim = Effect.fnUntraced(function*(address: string, options: WebSocketTransportOptions) {
  const s = yield* settings(options)
  const sim = yield* (yield* SimNetwork).bind(address)
  const advertise = s.url?.advertise ?? sim.advertise
  const endpoint = s.url === undefined ? { secure: false, path: s.path } : { secure: s.url.secure, path: s.url.path }
  const connector: Connector = simConnector(sim)
  const core = yield* makeCore({ advertise, endpoint, limits: s.limits, connector })
  yield* Effect.forkScoped(simAcceptor(sim, core))
  return context(core, shapeOf(core, selfUrl(endpoint, advertise), s.path, advertise.port))
})

const staticDns = Dns.layerStatic({}).pipe(Layer.orDie)

/**
 * The WebSocket transport's own face: its URL, counters and request handler.
 * Provided alongside `Transport` by the layers below.
 */
export class WebSocketTransport extends Context.Service<WebSocketTransport, WebSocketTransportShape>()(
  "effect-gossip/WebSocketTransport"
) {
  /** Its own HTTP(S) server; bind and TLS failures fail the layer. Seeds' host names go through `Dns`. */
  static readonly layer = (
    options: WebSocketTransportOptions = {}
  ): Layer.Layer<Transport | WebSocketTransport, TransportError, Dns.Dns> => Layer.effectContext(makeStandalone(options))

  /** `layer` with the operating system's resolver. */
  static readonly layerNode = (
    options: WebSocketTransportOptions = {}
  ): Layer.Layer<Transport | WebSocketTransport, TransportError> =>
    WebSocketTransport.layer(options).pipe(Layer.provide(NodeDns.layer))

  /**
   * On the application's `HttpServer` (one port for the application and gossip): add
   * `WebSocketTransport.route` to the application's router. The server's address is
   * advertised, as `ws`, unless `advertiseUrl` (`wss://…` for an HTTPS server) or
   * `advertiseAddress` says otherwise. The application's server owns the connections below
   * the upgrade: give it `websocket: { maxPayload }` so that `ws` refuses oversized frames
   * before buffering them, and its own request timeouts.
   */
  static readonly layerMounted = (
    options: WebSocketTransportOptions = {}
  ): Layer.Layer<Transport | WebSocketTransport, TransportError, Dns.Dns | HttpServer.HttpServer> =>
    Layer.effectContext(makeMounted(options))

  /** `layerMounted` with the operating system's resolver. */
  static readonly layerMountedNode = (
    options: WebSocketTransportOptions = {}
  ): Layer.Layer<Transport | WebSocketTransport, TransportError, HttpServer.HttpServer> =>
    WebSocketTransport.layerMounted(options).pipe(Layer.provide(NodeDns.layer))

  /** The gossip route (any method, the transport's path) for the application's `HttpRouter`. */
  static readonly route: Layer.Layer<never, never, HttpRouter.HttpRouter | WebSocketTransport> = HttpRouter.use(
    (router) =>
      WebSocketTransport.use((t) => router.add("*", t.path as `/${string}`, t.handle))
  )

  /** Over SimNetwork at `address` (seeds by IP only), for deterministic tests of WebSocket clusters. */
  static readonly layerSim = (
    address: string,
    options: WebSocketTransportOptions = {}
  ): Layer.Layer<Transport | WebSocketTransport, TransportError, SimNetwork> =>
    Layer.effectContext(makeSim(address, options)).pipe(Layer.provide(staticDns))
}
