/**
 * Ready-made layers for Node: the membership engine on real UDP/TCP sockets with
 * the memberlist wire codec, configured in code (`Gossip.layer`) or from the
 * environment (`GossipLive`).
 */
import { Config, Context, Effect, Layer, Option } from "effect"
import { hostname } from "node:os"
import { splitHostPort } from "./Address.ts"
import type { CodecConfigError } from "./codec/MemberlistCodec.ts"
import { MemberlistCodec } from "./codec/MemberlistCodec.ts"
import { CompactCodec } from "./codec/CompactCodec.ts"
import type { GossipConfigInput, Profile } from "./Config.ts"
import { GossipConfig, GossipConfigError } from "./Config.ts"
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

const parseEndpoint = (field: string, text: string) => {
  const { host, port } = splitHostPort(text)
  if (host === "" || (text.includes(":") && port === undefined && !text.includes("::"))) {
    return Effect.fail(new GossipConfigError({ field, message: `expected ip:port, got "${text}"` }))
  }
  return Effect.succeed({ host, port: port ?? DEFAULT_PORT })
}

/** The engine on UDP/TCP with the chosen codec, as one layer. */
const layer = (options: GossipOptions): Layer.Layer<Membership | ClusterKeyring | UdpTcpTransport, GossipError> =>
  Layer.unwrap(Effect.gen(function*() {
    const bind = yield* parseEndpoint("bind", options.bind ?? `0.0.0.0:${DEFAULT_PORT}`)
    const advertise = options.advertise === undefined
      ? undefined
      : yield* parseEndpoint("advertise", options.advertise)
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
      Layer.provide(GossipConfig.layer(options)),
      Layer.merge(Layer.succeed(ClusterKeyring, keyring))
    )
  }))

/** `GossipOptions` from environment variables (`GOSSIP_NAME`, `GOSSIP_BIND`, …). */
const options: Config.Config<GossipOptions> = Config.all({
  name: Config.String("NAME").pipe(Config.withDefault(hostname())),
  bind: Config.String("BIND").pipe(Config.withDefault(`0.0.0.0:${DEFAULT_PORT}`)),
  advertise: Config.String("ADVERTISE").pipe(Config.option),
  profile: Config.Literals(["lan", "wan", "local"], "PROFILE").pipe(Config.withDefault<Profile>("lan")),
  encryptionKeys: Config.String("ENCRYPT").pipe(Config.option),
  label: Config.String("LABEL").pipe(Config.option)
}).pipe(
  Config.nested("GOSSIP"),
  Config.map((c) => ({
    name: c.name,
    bind: c.bind,
    profile: c.profile,
    ...Option.match(c.advertise, { onNone: () => ({}), onSome: (advertise) => ({ advertise }) }),
    ...Option.match(c.encryptionKeys, {
      onNone: () => ({}),
      onSome: (keys) => ({ encryptionKeys: keys.split(",").map((k) => k.trim()).filter((k) => k !== "") })
    }),
    ...Option.match(c.label, { onNone: () => ({}), onSome: (label) => ({ label }) })
  }))
)

/** The ready-made node layers for Node: `layer(options)`, the `options` `GossipLive` reads, and `joining(seeds)`. */
export const Gossip = {
  /** The engine on UDP/TCP with the memberlist wire codec (or `compact`), configured in code. */
  layer,
  /** The options `GossipLive` reads: `GOSSIP_NAME`, `GOSSIP_BIND`, `GOSSIP_ADVERTISE`, `GOSSIP_PROFILE`, `GOSSIP_ENCRYPT` (comma-separated base64 keys), `GOSSIP_LABEL`. */
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
