/**
 * Ready-made layers for Node: the membership engine on real UDP/TCP sockets with
 * the memberlist wire codec, configured in code (`Gossip.layer`) or from the
 * environment (`GossipLive`).
 */
import type { Config } from "effect"
import { Context, Effect, Layer } from "effect"
import { splitHostPort } from "./Address.ts"
import type { CodecConfigError } from "./codec/MemberlistCodec.ts"
import { MemberlistCodec } from "./codec/MemberlistCodec.ts"
import { CompactCodec } from "./codec/CompactCodec.ts"
import type { GossipConfigInput } from "./Config.ts"
import { GossipConfig, GossipConfigError } from "./Config.ts"
import type { ConfigProblem } from "./ConfigSchema.ts"
import { checkFields, GossipOptionsSchema, networkFields } from "./ConfigSchema.ts"
import { options } from "./GossipEnv.ts"
import { Membership } from "./Membership.ts"
import type { KeyringError } from "./security/Keyring.ts"
import { Keyring } from "./security/Keyring.ts"
import type { TransportError } from "./transport/Transport.ts"
import { UdpTcpTransport } from "./transport/UdpTcpTransport.ts"

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
    const config = Object.fromEntries(Object.entries(options).filter(([k]) => !networkKeys.has(k))) as GossipConfigInput
    const keys = options.encryptionKeys ?? []
    const keyring = keys.length === 0 ? undefined : yield* Keyring.fromBase64(keys)
    const transport = UdpTcpTransport.layerNode({
      bindAddress: bind.host,
      bindPort: bind.port,
      ...(advertise === undefined ? {} : { advertiseAddress: advertise.host, advertisePort: advertise.port })
    })
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
    return Membership.layer.pipe(
      Layer.provideMerge(transport),
      Layer.provide(codec),
      Layer.provide(GossipConfig.layer(config)),
      Layer.merge(Layer.succeed(ClusterKeyring, keyring))
    )
  }))

/** The ready-made node layers for Node: `layer(options)`, the `options` `GossipLive` reads, and `joining(seeds)`. */
export const Gossip = {
  /** The engine on UDP/TCP with the memberlist wire codec (or `compact`), configured in code. */
  layer,
  /** The options `GossipLive` reads: every option as `GOSSIP_<NAME IN CAPITALS>`, the keys as a redacted value (see `GossipEnv`). */
  options,
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
