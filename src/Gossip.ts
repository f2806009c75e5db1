/**
 * Ready-made layers for Node: the membership engine on real UDP/TCP sockets (or
 * WebSocket connections) with the memberlist wire codec, configured in code
 * (`Gossip.layer`, `Gossip.webSocket`) or from the environment (`GossipLive`,
 * `GossipLiveWebSocket`).
 */
import type { Config } from "effect"
import { Context, Effect, Layer } from "effect"
import type { HttpServer } from "effect/http"
import { isIP } from "node:net"
import { splitHostPort } from "./Address.ts"
import type { CodecConfigError } from "./codec/MemberlistCodec.ts"
import { MemberlistCodec } from "./codec/MemberlistCodec.ts"
import { CompactCodec } from "./codec/CompactCodec.ts"
import type { GossipConfigInput } from "./Config.ts"
import { GossipConfig, GossipConfigError } from "./Config.ts"
import type { ConfigProblem } from "./ConfigSchema.ts"
import { checkFields, GossipOptionsSchema, GossipWebSocketOptionsSchema, networkFields, webSocketFields } from "./ConfigSchema.ts"
import { options } from "./GossipEnv.ts"
import { Membership } from "./Membership.ts"
import type { KeyringError } from "./security/Keyring.ts"
import { Keyring } from "./security/Keyring.ts"
import type { Transport, TransportError } from "./transport/Transport.ts"
import { UdpTcpTransport } from "./transport/UdpTcpTransport.ts"
import { limitsFromInput, type WebSocketLimitsInput } from "./transport/ws/Limits.ts"
import type { WebSocketTlsOptions, WebSocketTransportOptions } from "./transport/ws/WebSocketTransport.ts"
import { webSocketOptions } from "./transport/ws/WebSocketEnv.ts"
import { WebSocketTransport } from "./transport/ws/WebSocketTransport.ts"

/** Everything `Gossip.layer` needs: the engine's configuration plus network and security settings. */
export interface GossipOptions extends GossipConfigInput {
  /**
   * `ip:port` to bind UDP and TCP on (port 0: let the OS choose). Default `0.0.0.0:7946`, which
   * advertises the machine's first private IPv4 (as memberlist does) or fails without one.
   */
  readonly bind?: string
  /** `ip:port` other nodes should use, when it differs from the bound one (NAT, containers, no private IPv4). */
  readonly advertise?: string
  /** AES keys (16, 24 or 32 bytes) in standard base64, as serf takes them; the first one encrypts. */
  readonly encryptionKeys?: ReadonlyArray<string>
  /** Refuse unencrypted traffic when keys are set (default true; false while rolling encryption out). */
  readonly verifyIncoming?: boolean
  /** Encrypt what we send when keys are set (default true; false while rolling encryption out). */
  readonly verifyOutgoing?: boolean
  /** LZW-compress packets and streams as memberlist does (default true). */
  readonly compression?: boolean
  /** Cluster label (newer memberlist); traffic without the same label is dropped. */
  readonly label?: string
  /** `memberlist` (default): talks to Go memberlist/serf nodes. `compact`: a smaller format, ours only. */
  readonly wireFormat?: "memberlist" | "compact"
}

/**
 * The keys this node encrypts with (install, use and remove them at runtime), or
 * `undefined` when the node was started without encryption.
 */
export class ClusterKeyring extends Context.Service<ClusterKeyring, Keyring | undefined>()("effect-gossip/ClusterKeyring") {}

/** What building `Gossip.layer` can fail with. */
export type GossipError = GossipConfigError | TransportError | KeyringError | CodecConfigError

const DEFAULT_PORT = 7946

/** `host:port` (port optional), or the problem with it. */
const parseEndpoint = (field: string, text: string): { readonly host: string; readonly port: number } | ConfigProblem => {
  const { host, port } = splitHostPort(text)
  if (host === "" || (text.includes(":") && port === undefined && !text.includes("::"))) {
    return { field, message: `expected ip:port, got "${text}"` }
  }
  return { host, port: port ?? DEFAULT_PORT }
}

const networkKeys = new Set(Object.keys(networkFields))

/** The keyring and the codec the options ask for. */
const codecFor = (options: GossipOptions) =>
  Effect.gen(function*() {
    const keys = options.encryptionKeys ?? []
    const keyring = keys.length === 0 ? undefined : yield* Keyring.fromBase64(keys)
    const codec = options.wireFormat === "compact"
      ? CompactCodec.layer
      : MemberlistCodec.layer({
        compression: options.compression ?? true,
        ...(keyring === undefined ? {} : { keyring }),
        ...(options.label === undefined ? {} : { label: options.label }),
        verifyIncoming: options.verifyIncoming ?? true,
        verifyOutgoing: options.verifyOutgoing ?? true,
        encryptionVersion: (options.protocolVersion ?? 2) >= 2 ? 1 : 0
      })
    return { keyring, codec }
  })

/** The engine's own options: everything but the network's and the codec's. */
const engineConfig = (options: object, networkOnly: ReadonlySet<string>): GossipConfigInput =>
  Object.fromEntries(Object.entries(options).filter(([k]) => !networkOnly.has(k))) as GossipConfigInput

/** The engine on `transport` with the codec and keyring the options ask for. */
const nodeOn = <T, E, R>(
  options: GossipOptions,
  networkOnly: ReadonlySet<string>,
  transport: Layer.Layer<T | Transport, E, R>
) =>
  Effect.map(codecFor(options), ({ codec, keyring }) =>
    Membership.layer.pipe(
      Layer.provideMerge(transport),
      Layer.provide(codec),
      Layer.provide(GossipConfig.layer(engineConfig(options, networkOnly))),
      Layer.merge(Layer.succeed(ClusterKeyring, keyring))
    ))

/** The engine on UDP/TCP with the chosen codec, as one layer. */
const layer = (options: GossipOptions): Layer.Layer<Membership | ClusterKeyring | UdpTcpTransport, GossipError> =>
  Layer.unwrap(Effect.gen(function*() {
    // Every problem at once: unknown options, bad values, unusable addresses.
    const problems = [...checkFields(GossipOptionsSchema, options)]
    const bind = parseEndpoint("bind", typeof options.bind === "string" ? options.bind : `0.0.0.0:${DEFAULT_PORT}`)
    const advertise = typeof options.advertise === "string" ? parseEndpoint("advertise", options.advertise) : undefined
    for (const parsed of [bind, advertise]) if (parsed !== undefined && "message" in parsed) problems.push(parsed)
    if (problems.length > 0 || "message" in bind || (advertise !== undefined && "message" in advertise)) {
      return yield* GossipConfigError.of(problems)
    }
    const transport = UdpTcpTransport.layerNode({
      bindAddress: bind.host,
      bindPort: bind.port,
      ...(advertise === undefined ? {} : { advertiseAddress: advertise.host, advertisePort: advertise.port })
    })
    return yield* nodeOn(options, networkKeys, transport)
  }))

/**
 * Everything `Gossip.webSocket` needs: `GossipOptions` (`bind` and `advertise` are the
 * WebSocket listener's) plus the WebSocket transport's own settings.
 */
export interface GossipWebSocketOptions extends GossipOptions {
  /** The path gossip is served on (default `/gossip`). */
  readonly path?: string
  /**
   * This node's URL as others reach it, `ws(s)://ip:port/path`: its scheme and path are how
   * every member is reached. Default: ws (wss with a certificate), the advertised address, `path`.
   */
  readonly advertiseUrl?: string
  /** Certificate and key to serve wss (PEM text or file paths), and how servers dialed are checked. */
  readonly tls?: WebSocketTlsOptions
  /** Bounds of the WebSocket transport's queues, connections and frames. */
  readonly webSocket?: WebSocketLimitsInput
}

const webSocketKeys = new Set([...networkKeys, ...Object.keys(webSocketFields)])

/** An advertised URL is ws(s) or http(s) with an IP host: members are announced by IP and port. */
const checkAdvertiseUrl = (text: string): string | undefined => {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return `expected a URL such as ws://10.0.0.5:7946/gossip, got "${text}"`
  }
  if (!/^(wss?|https?):$/.test(url.protocol)) return "expected a ws://, wss://, http:// or https:// URL"
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname
  return isIP(host) === 0 ? `the host must be an IP address (members are announced by IP and port), got "${host}"` : undefined
}

/** The WebSocket transport's options, or every problem with them. */
const webSocketTransportOptions = (
  options: GossipWebSocketOptions,
  mounted: boolean
): WebSocketTransportOptions | ReadonlyArray<ConfigProblem> => {
  const problems = [...checkFields(GossipWebSocketOptionsSchema, options)]
  if (mounted && options.bind !== undefined) {
    problems.push({ field: "bind", message: "a mounted node is served by the application's server, which binds" })
  }
  const bind = parseEndpoint("bind", typeof options.bind === "string" ? options.bind : `0.0.0.0:${DEFAULT_PORT}`)
  const advertise = typeof options.advertise === "string" ? parseEndpoint("advertise", options.advertise) : undefined
  for (const parsed of [bind, advertise]) if (parsed !== undefined && "message" in parsed) problems.push(parsed)
  if (options.advertise !== undefined && options.advertiseUrl !== undefined) {
    problems.push({ field: "advertiseUrl", message: "give advertise or advertiseUrl, not both" })
  }
  if (typeof options.advertiseUrl === "string") {
    const bad = checkAdvertiseUrl(options.advertiseUrl)
    if (bad !== undefined) problems.push({ field: "advertiseUrl", message: bad })
  }
  if (typeof options.tls === "object" && options.tls !== null && (options.tls.cert === undefined) !== (options.tls.key === undefined)) {
    problems.push({ field: "tls", message: "cert and key go together" })
  }
  if (problems.length > 0 || "message" in bind || (advertise !== undefined && "message" in advertise)) return problems
  return {
    bindAddress: bind.host,
    bindPort: bind.port,
    path: options.path,
    advertiseUrl: options.advertiseUrl,
    ...(advertise === undefined ? {} : { advertiseAddress: advertise.host, advertisePort: advertise.port }),
    tls: options.tls,
    limits: limitsFromInput(options.webSocket ?? {})
  }
}

/** The engine on the WebSocket transport with its own HTTP(S) server. */
const webSocket = (
  options: GossipWebSocketOptions
): Layer.Layer<Membership | ClusterKeyring | WebSocketTransport, GossipError> =>
  Layer.unwrap(Effect.gen(function*() {
    const transport = webSocketTransportOptions(options, false)
    if (Array.isArray(transport)) return yield* GossipConfigError.of(transport)
    return yield* nodeOn(options, webSocketKeys, WebSocketTransport.layerNode(transport as WebSocketTransportOptions))
  }))

/**
 * The engine on the WebSocket transport, served by the application's `HttpServer` (one port
 * for both): add `WebSocketTransport.route` to the application's router.
 */
const webSocketMounted = (
  options: Omit<GossipWebSocketOptions, "bind">
): Layer.Layer<Membership | ClusterKeyring | WebSocketTransport, GossipError, HttpServer.HttpServer> =>
  Layer.unwrap(Effect.gen(function*() {
    const transport = webSocketTransportOptions(options, true)
    if (Array.isArray(transport)) return yield* GossipConfigError.of(transport)
    const { bindAddress: _a, bindPort: _p, ...rest } = transport as WebSocketTransportOptions
    return yield* nodeOn(options, webSocketKeys, WebSocketTransport.layerMountedNode(rest))
  }))

/**
 * The ready-made node layers for Node: `layer(options)` on UDP/TCP, `webSocket(options)` and
 * `webSocketMounted(options)` on WebSocket, the options `GossipLive` and `GossipLiveWebSocket`
 * read, and `joining(seeds)`.
 */
export const Gossip = {
  /** The engine on UDP/TCP with the memberlist wire codec (or `compact`), configured in code. */
  layer,
  /** The engine on WebSocket connections, with its own HTTP(S) server. */
  webSocket,
  /** The engine on WebSocket connections, as a route of the application's `HttpServer`. */
  webSocketMounted,
  /** The options `GossipLive` reads: every option as `GOSSIP_<NAME IN CAPITALS>`, the keys as a redacted value (see `GossipEnv`). */
  options,
  /** The options `GossipLiveWebSocket` reads: `options` plus `GOSSIP_PATH`, `GOSSIP_ADVERTISE_URL`, `GOSSIP_TLS_*`. */
  webSocketOptions,
  /** Joins `seeds` once the node is up; the layer fails with `JoinError` when none answers. */
  joining: (seeds: ReadonlyArray<string>) =>
    Layer.effectDiscard(Membership.use((m) => m.join(seeds)))
} as const

/**
 * The engine configured from the environment (see `Gossip.options`): memberlist wire
 * format on UDP/TCP, `lan` profile unless `GOSSIP_PROFILE` says otherwise.
 */
export const GossipLive: Layer.Layer<Membership | ClusterKeyring | UdpTcpTransport, GossipError | Config.ConfigError> =
  Layer.unwrap(Effect.map(options, layer))

/** The engine on WebSocket connections, configured from the environment (see `Gossip.webSocketOptions`). */
export const GossipLiveWebSocket: Layer.Layer<
  Membership | ClusterKeyring | WebSocketTransport,
  GossipError | Config.ConfigError
> = Layer.unwrap(Effect.map(webSocketOptions, webSocket))
