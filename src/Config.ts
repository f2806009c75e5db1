/**
 * Configuration: memberlist's tunables with its LAN / WAN / Local defaults,
 * checked once when the layer is built so that a bad value is a typed error,
 * never a misbehaving cluster.
 */
import { Context, Duration, Effect, Layer, Random, Schema } from "effect"
import type { ConfigProblem, TunableName } from "./ConfigSchema.ts"
import { checkFields, durationFields, GossipConfigInputSchema, tunables } from "./ConfigSchema.ts"
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

/**
 * A configuration is unusable. `problems` lists every one (an unknown option, a value out of
 * range, two values that contradict each other), each with its field; `field` and `message`
 * name the first and describe them all.
 */
export class GossipConfigError extends Schema.TaggedError<GossipConfigError>()("GossipConfigError", {
  field: Schema.String,
  message: Schema.String,
  problems: Schema.Array(Schema.Struct({ field: Schema.String, message: Schema.String }))
}) {
  /** The error for `problems` (at least one). */
  static of(problems: ReadonlyArray<ConfigProblem>): GossipConfigError {
    return new GossipConfigError({
      field: problems[0]!.field,
      message: problems.map((p) => `${p.field}: ${p.message}`).join("; "),
      problems
    })
  }
}

/** Checks that need several values at once, on the resolved configuration. */
const crossChecks = (v: GossipConfigValues): Array<ConfigProblem> => {
  const problems: Array<ConfigProblem> = []
  // Names travel in one-byte-length fields (broadcast envelopes, topic frames, hellos).
  if (new TextEncoder().encode(v.name).length > 255) problems.push({ field: "name", message: "must be at most 255 bytes of UTF-8" })
  const positive = ["probeInterval", "probeTimeout", "gossipInterval", "tcpTimeout"] as const
  for (const field of positive) if (!(v[field] > 0)) problems.push({ field, message: `must be positive (got ${v[field]})` })
  if (v.probeTimeout > v.probeInterval) {
    problems.push({ field: "probeTimeout", message: `must be at most probeInterval (${v.probeTimeout} > ${v.probeInterval})` })
  }
  if (v.delegateProtocolVersion < v.delegateProtocolMin || v.delegateProtocolVersion > v.delegateProtocolMax) {
    problems.push({
      field: "delegateProtocolVersion",
      message: `must lie within [delegateProtocolMin, delegateProtocolMax] (got ${v.delegateProtocolVersion} outside [${v.delegateProtocolMin}, ${v.delegateProtocolMax}])`
    })
  }
  const header = v.application === undefined ? new Uint8Array(0) : encodeApplication(v.application)
  if (header === undefined) {
    problems.push({ field: "application", message: "name and version must each be at most 255 bytes of UTF-8" })
  } else if (header.length + v.meta.length > v.metaMaxSize) {
    problems.push({
      field: "meta",
      message: `${v.meta.length} bytes${header.length > 0 ? ` plus a ${header.length}-byte application header` : ""} exceed metaMaxSize ${v.metaMaxSize}`
    })
  }
  return problems
}

/**
 * Resolves a preset plus overrides into validated values. Unknown options are refused by
 * name, and every problem is reported at once in one `GossipConfigError`.
 */
export const resolveConfig = (input: GossipConfigInput): Effect.Effect<GossipConfigValues, GossipConfigError> =>
  Effect.suspend(() => {
    const problems = checkFields(GossipConfigInputSchema, input)
    if (problems.length > 0) return Effect.fail(GossipConfigError.of(problems))
    return input.name === undefined
      ? Effect.flatMap(generatedName, (name) => resolveNamed({ ...input, name }))
      : resolveNamed(input as GossipConfigInput & { readonly name: string })
  })

/** `node-` and 12 hex digits from the `Random` in context (seeded in tests, so repeatable there). */
export const generatedName: Effect.Effect<string> = Effect.map(
  Effect.all([Random.nextIntBetween(0, 0xffffff), Random.nextIntBetween(0, 0xffffff)]),
  ([a, b]) => `node-${a.toString(16).padStart(6, "0")}${b.toString(16).padStart(6, "0")}`
)

const millis = (input: Duration.Input): number =>
  typeof input === "number" ? input : Duration.toMillis(Duration.fromInputUnsafe(input))

const resolveNamed = (input: GossipConfigInput & { readonly name: string }): Effect.Effect<GossipConfigValues, GossipConfigError> =>
  Effect.suspend(() => {
    const profile = input.profile ?? "lan"
    const merged: Record<string, unknown> = { ...presets[profile] }
    for (const key of Object.keys(tunables) as Array<TunableName>) {
      const value = input[key]
      if (value !== undefined) merged[key] = value
    }
    for (const field of durationFields) merged[field] = millis(merged[field] as Duration.Input)
    const values = {
      ...merged,
      name: input.name,
      meta: input.meta ?? new Uint8Array(0),
      profile,
      application: input.application,
      compatible: input.compatible ?? sameMajorVersion
    } as GossipConfigValues
    const problems = crossChecks(values)
    return problems.length > 0 ? Effect.fail(GossipConfigError.of(problems)) : Effect.succeed(values)
  })

/** The node's configuration as a service. */
export class GossipConfig extends Context.Service<GossipConfig, GossipConfigValues>()("effect-gossip/GossipConfig") {
  /** Validates `input` (preset + overrides) when the layer is built. */
  static readonly layer = (input: GossipConfigInput): Layer.Layer<GossipConfig, GossipConfigError> =>
    Layer.effect(GossipConfig, resolveConfig(input))
}
