/**
 * Configuration: memberlist's tunables with its LAN / WAN / Local defaults,
 * checked once when the layer is built so that a bad value is a typed error,
 * never a misbehaving cluster.
 */
import { Context, Duration, Effect, Layer, Option, Random, Schema } from "effect"
import type { Application, CompatibilityRule } from "./protocol/Application.ts"
import { encodeApplication, sameMajorVersion } from "./protocol/Application.ts"

/** What a user writes: every field optional except `name`; durations in any Effect form. */
export interface GossipConfigInput {
  /** Unique node name in the cluster; without one, the node takes a generated `node-<12 hex digits>`. */
  readonly name?: string
  /** Application metadata announced with this node (at most `metaMaxSize` bytes, application header included). */
  readonly meta?: Uint8Array
  /**
   * The application this node runs. Announced with its metadata; members whose application
   * is incompatible (see `compatible`) are refused at join and never enter the member table.
   */
  readonly application?: Application
  /** Which applications may share the cluster (default: same name, same semver major). */
  readonly compatible?: CompatibilityRule
  /** Start from this preset (default `lan`). */
  readonly profile?: Profile
  readonly probeInterval?: Duration.Input
  readonly probeTimeout?: Duration.Input
  readonly indirectChecks?: number
  readonly disableTcpPings?: boolean
  readonly retransmitMult?: number
  readonly suspicionMult?: number
  readonly suspicionMaxTimeoutMult?: number
  readonly awarenessMaxMultiplier?: number
  readonly gossipNodes?: number
  readonly gossipInterval?: Duration.Input
  readonly gossipToTheDeadTime?: Duration.Input
  readonly pushPullInterval?: Duration.Input
  readonly tcpTimeout?: Duration.Input
  readonly deadNodeReclaimTime?: Duration.Input
  /** How often to try a push/pull with a random failed member, so healed partitions merge (0: never). */
  readonly reconnectInterval?: Duration.Input
  /** How long a failed member stays a reconnect candidate. */
  readonly reconnectTimeout?: Duration.Input
  /** Packet budget for piggybacked gossip, in bytes (memberlist's `UDPBufferSize`). */
  readonly udpBufferSize?: number
  readonly metaMaxSize?: number
  readonly handoffQueueDepth?: number
  /** memberlist protocol version spoken (`pcur`), 1..5; default 2. */
  readonly protocolVersion?: number
  readonly delegateProtocolMin?: number
  readonly delegateProtocolMax?: number
  readonly delegateProtocolVersion?: number
  /** How long `leave` waits for its broadcast to go out. */
  readonly leaveTimeout?: Duration.Input
  /** How long `updateMetadata` waits for its broadcast to go out. */
  readonly updateTimeout?: Duration.Input
  /** Lifeguard local health awareness (on by default; off only to compare). */
  readonly awareness?: boolean
  /** Lifeguard dynamic suspicion timeouts with confirmations (on by default; off only to compare). */
  readonly dynamicSuspicion?: boolean
}

/** Which memberlist preset to start from: `lan` (default), `wan` or `local`. */
export type Profile = "lan" | "wan" | "local"

/** The validated configuration the engine runs on; durations are milliseconds. */
export interface GossipConfigValues {
  readonly name: string
  /** The application metadata, without the application header. */
  readonly meta: Uint8Array
  readonly application: Application | undefined
  readonly compatible: CompatibilityRule
  readonly profile: Profile
  readonly probeInterval: number
  readonly probeTimeout: number
  readonly indirectChecks: number
  readonly disableTcpPings: boolean
  readonly retransmitMult: number
  readonly suspicionMult: number
  readonly suspicionMaxTimeoutMult: number
  readonly awarenessMaxMultiplier: number
  readonly gossipNodes: number
  readonly gossipInterval: number
  readonly gossipToTheDeadTime: number
  readonly pushPullInterval: number
  readonly tcpTimeout: number
  readonly deadNodeReclaimTime: number
  readonly reconnectInterval: number
  readonly reconnectTimeout: number
  readonly udpBufferSize: number
  readonly metaMaxSize: number
  readonly handoffQueueDepth: number
  readonly protocolVersion: number
  readonly delegateProtocolMin: number
  readonly delegateProtocolMax: number
  readonly delegateProtocolVersion: number
  readonly leaveTimeout: number
  readonly updateTimeout: number
  readonly awareness: boolean
  readonly dynamicSuspicion: boolean
}

type Preset = Omit<GossipConfigValues, "name" | "meta" | "profile" | "application" | "compatible">

const lan: Preset = {
  probeInterval: 1000,
  probeTimeout: 500,
  indirectChecks: 3,
  disableTcpPings: false,
  retransmitMult: 4,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  awarenessMaxMultiplier: 8,
  gossipNodes: 3,
  gossipInterval: 200,
  gossipToTheDeadTime: 30_000,
  pushPullInterval: 30_000,
  tcpTimeout: 10_000,
  deadNodeReclaimTime: 0,
  reconnectInterval: 30_000,
  reconnectTimeout: 24 * 3600_000,
  udpBufferSize: 1400,
  metaMaxSize: 512,
  handoffQueueDepth: 1024,
  protocolVersion: 2,
  delegateProtocolMin: 0,
  delegateProtocolMax: 0,
  delegateProtocolVersion: 0,
  leaveTimeout: 5_000,
  updateTimeout: 5_000,
  awareness: true,
  dynamicSuspicion: true
}

/** memberlist's `DefaultLANConfig`, `DefaultWANConfig` and `DefaultLocalConfig`. */
export const presets: Readonly<Record<Profile, Preset>> = {
  lan,
  wan: {
    ...lan,
    tcpTimeout: 30_000,
    suspicionMult: 6,
    pushPullInterval: 60_000,
    probeInterval: 5_000,
    probeTimeout: 3_000,
    gossipNodes: 4,
    gossipInterval: 500,
    gossipToTheDeadTime: 60_000,
    reconnectInterval: 60_000
  },
  local: {
    ...lan,
    tcpTimeout: 1_000,
    indirectChecks: 1,
    retransmitMult: 2,
    suspicionMult: 3,
    pushPullInterval: 15_000,
    probeTimeout: 200,
    gossipInterval: 100,
    gossipToTheDeadTime: 15_000,
    reconnectInterval: 15_000
  }
}

/** A configuration value is out of range; `field` names it. */
export class GossipConfigError extends Schema.TaggedError<GossipConfigError>()("GossipConfigError", {
  field: Schema.String,
  message: Schema.String
}) {}

const durationFields = [
  "probeInterval",
  "probeTimeout",
  "gossipInterval",
  "gossipToTheDeadTime",
  "pushPullInterval",
  "tcpTimeout",
  "deadNodeReclaimTime",
  "reconnectInterval",
  "reconnectTimeout",
  "leaveTimeout",
  "updateTimeout"
] as const

type Check = readonly [field: keyof Preset, ok: (v: GossipConfigValues) => boolean, message: string]

const positiveInt = (field: keyof Preset, min = 1, max = Number.MAX_SAFE_INTEGER): Check => [
  field,
  (v) => Number.isInteger(v[field]) && (v[field] as number) >= min && (v[field] as number) <= max,
  `must be a whole number in [${min}, ${max === Number.MAX_SAFE_INTEGER ? "∞" : max}]`
]

const checks: ReadonlyArray<Check> = [
  ["probeInterval", (v) => v.probeInterval > 0, "must be positive"],
  ["probeTimeout", (v) => v.probeTimeout > 0 && v.probeTimeout <= v.probeInterval, "must be positive and at most probeInterval"],
  ["gossipInterval", (v) => v.gossipInterval > 0, "must be positive"],
  ["pushPullInterval", (v) => v.pushPullInterval >= 0, "must not be negative (0 disables periodic push/pull)"],
  ["tcpTimeout", (v) => v.tcpTimeout > 0, "must be positive"],
  ["gossipToTheDeadTime", (v) => v.gossipToTheDeadTime >= 0, "must not be negative"],
  ["deadNodeReclaimTime", (v) => v.deadNodeReclaimTime >= 0, "must not be negative"],
  ["reconnectInterval", (v) => v.reconnectInterval >= 0, "must not be negative (0 disables reconnection)"],
  ["reconnectTimeout", (v) => v.reconnectTimeout >= 0, "must not be negative"],
  ["leaveTimeout", (v) => v.leaveTimeout >= 0, "must not be negative"],
  ["updateTimeout", (v) => v.updateTimeout >= 0, "must not be negative"],
  positiveInt("indirectChecks", 0, 64),
  positiveInt("retransmitMult", 1, 64),
  positiveInt("suspicionMult", 1, 64),
  positiveInt("suspicionMaxTimeoutMult", 1, 64),
  positiveInt("awarenessMaxMultiplier", 1, 64),
  positiveInt("gossipNodes", 0, 1024),
  positiveInt("udpBufferSize", 256, 65_000),
  positiveInt("metaMaxSize", 0, 512),
  positiveInt("handoffQueueDepth", 1),
  positiveInt("protocolVersion", 1, 5),
  positiveInt("delegateProtocolMin", 0, 255),
  positiveInt("delegateProtocolMax", 0, 255),
  positiveInt("delegateProtocolVersion", 0, 255),
  [
    "delegateProtocolVersion",
    (v) => v.delegateProtocolMin <= v.delegateProtocolVersion && v.delegateProtocolVersion <= v.delegateProtocolMax,
    "must lie within [delegateProtocolMin, delegateProtocolMax]"
  ]
]

const notTunables = new Set(["name", "meta", "profile", "application", "compatible"])

/** Resolves a preset plus overrides into validated values, or the first offending field. */
export const resolveConfig = (input: GossipConfigInput): Effect.Effect<GossipConfigValues, GossipConfigError> =>
  input.name === undefined
    ? Effect.flatMap(generatedName, (name) => resolveNamed({ ...input, name }))
    : resolveNamed(input as GossipConfigInput & { readonly name: string })

/** `node-` and 12 hex digits from the `Random` in context (seeded in tests, so repeatable there). */
export const generatedName: Effect.Effect<string> = Effect.map(
  Effect.all([Random.nextIntBetween(0, 0xffffff), Random.nextIntBetween(0, 0xffffff)]),
  ([a, b]) => `node-${a.toString(16).padStart(6, "0")}${b.toString(16).padStart(6, "0")}`
)

const resolveNamed = (input: GossipConfigInput & { readonly name: string }): Effect.Effect<GossipConfigValues, GossipConfigError> =>
  Effect.suspend(() => {
    const profile = input.profile ?? "lan"
    if (!(profile in presets)) {
      return Effect.fail(new GossipConfigError({ field: "profile", message: `unknown profile "${profile}"` }))
    }
    if (typeof input.name !== "string" || input.name.length === 0 || input.name.length > 255) {
      return Effect.fail(new GossipConfigError({ field: "name", message: "must be 1 to 255 characters" }))
    }
    const merged: Record<string, unknown> = { ...presets[profile] }
    for (const [key, value] of Object.entries(input)) {
      if (value !== undefined && !notTunables.has(key)) merged[key] = value
    }
    for (const field of durationFields) {
      const raw = merged[field] as Duration.Input
      const decoded = typeof raw === "number" ? Option.some(raw) : Option.map(Duration.fromInput(raw), Duration.toMillis)
      if (Option.isNone(decoded) || !Number.isFinite(decoded.value)) {
        return Effect.fail(new GossipConfigError({ field, message: `not a finite duration: ${String(raw)}` }))
      }
      merged[field] = decoded.value
    }
    const values = {
      ...merged,
      name: input.name,
      meta: input.meta ?? new Uint8Array(0),
      profile,
      application: input.application,
      compatible: input.compatible ?? sameMajorVersion
    } as GossipConfigValues
    for (const [field, ok, message] of checks) {
      if (!ok(values)) {
        return Effect.fail(new GossipConfigError({ field, message: `${message} (got ${String(values[field])})` }))
      }
    }
    const header = values.application === undefined ? new Uint8Array(0) : encodeApplication(values.application)
    if (header === undefined || (values.application !== undefined && values.application.name === "")) {
      return Effect.fail(
        new GossipConfigError({ field: "application", message: "name must be 1 to 255 bytes and version at most 255 bytes" })
      )
    }
    if (header.length + values.meta.length > values.metaMaxSize) {
      return Effect.fail(
        new GossipConfigError({
          field: "meta",
          message: `${values.meta.length} bytes${header.length > 0 ? ` plus a ${header.length}-byte application header` : ""} exceeds metaMaxSize ${values.metaMaxSize}`
        })
      )
    }
    return Effect.succeed(values)
  })

/** The node's configuration as a service. */
export class GossipConfig extends Context.Service<GossipConfig, GossipConfigValues>()("effect-gossip/GossipConfig") {
  /** Validates `input` (preset + overrides) when the layer is built. */
  static readonly layer = (input: GossipConfigInput): Layer.Layer<GossipConfig, GossipConfigError> =>
    Layer.effect(GossipConfig, resolveConfig(input))
}
