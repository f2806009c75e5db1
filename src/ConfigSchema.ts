/**
 * The one `Schema` that checks what a user configures: every field with its
 * type and range, unknown keys refused by name, every problem reported at once.
 * The same table of fields tells `GossipLive` which environment variables to read.
 */
import { Duration, Option, Schema, SchemaIssue } from "effect"
import type { Application, CompatibilityRule } from "./protocol/Application.ts"

/** Anything `Duration.fromInput` takes that makes a finite, non-negative duration. */
export const DurationInput = Schema.declare(
  (u: unknown): u is Duration.Input => {
    if (typeof u === "number") return Number.isFinite(u) && u >= 0
    try {
      const d = Duration.fromInput(u as Duration.Input)
      return Option.isSome(d) && Duration.isFinite(d.value) && Duration.toMillis(d.value) >= 0
    } catch {
      return false
    }
  },
  { expected: "a finite duration (milliseconds, \"1 second\", or a Duration)" }
)

const int = (minimum: number, maximum: number) =>
  Schema.Int.check(Schema.isBetween({ minimum, maximum }))

/** How a field is written in the environment. */
export type FieldKind = "duration" | "int" | "boolean" | "string"

/** memberlist's tunables: schema and environment kind. Ranges are memberlist's own sane bounds. */
export const tunables = {
  probeInterval: [DurationInput, "duration"],
  probeTimeout: [DurationInput, "duration"],
  indirectChecks: [int(0, 64), "int"],
  disableTcpPings: [Schema.Boolean, "boolean"],
  retransmitMult: [int(1, 64), "int"],
  suspicionMult: [int(1, 64), "int"],
  suspicionMaxTimeoutMult: [int(1, 64), "int"],
  awarenessMaxMultiplier: [int(1, 64), "int"],
  gossipNodes: [int(0, 1024), "int"],
  gossipInterval: [DurationInput, "duration"],
  gossipToTheDeadTime: [DurationInput, "duration"],
  pushPullInterval: [DurationInput, "duration"],
  tcpTimeout: [DurationInput, "duration"],
  deadNodeReclaimTime: [DurationInput, "duration"],
  reconnectInterval: [DurationInput, "duration"],
  reconnectTimeout: [DurationInput, "duration"],
  udpBufferSize: [int(256, 65_000), "int"],
  metaMaxSize: [int(0, 512), "int"],
  handoffQueueDepth: [int(1, 1_000_000), "int"],
  protocolVersion: [int(1, 5), "int"],
  delegateProtocolMin: [int(0, 255), "int"],
  delegateProtocolMax: [int(0, 255), "int"],
  delegateProtocolVersion: [int(0, 255), "int"],
  leaveTimeout: [DurationInput, "duration"],
  updateTimeout: [DurationInput, "duration"],
  awareness: [Schema.Boolean, "boolean"],
  dynamicSuspicion: [Schema.Boolean, "boolean"]
} as const

export type TunableName = keyof typeof tunables

/** The tunables that are durations (milliseconds once resolved). */
export const durationFields = (Object.keys(tunables) as Array<TunableName>).filter((k) => tunables[k][1] === "duration")

const optionalTunables = Object.fromEntries(
  Object.entries(tunables).map(([k, [schema]]) => [k, Schema.optional(schema)])
) as { readonly [K in TunableName]: Schema.optional<(typeof tunables)[K][0]> }

const ApplicationInput = Schema.Struct({
  name: Schema.String.check(Schema.isMinLength(1)),
  version: Schema.String
})

const Rule = Schema.declare((u: unknown): u is CompatibilityRule => typeof u === "function", { expected: "a function" })

/** Every key `GossipConfigInput` accepts. */
export const configFields = {
  name: Schema.optional(Schema.String.check(Schema.isBetweenLength(1, 255))),
  meta: Schema.optional(Schema.Uint8Array),
  application: Schema.optional(ApplicationInput),
  compatible: Schema.optional(Rule),
  profile: Schema.optional(Schema.Literals(["lan", "wan", "local"])),
  ...optionalTunables
}

/** The keys `Gossip.layer` adds for the network, the codec and encryption. */
export const networkFields = {
  bind: Schema.optional(Schema.String),
  advertise: Schema.optional(Schema.String),
  encryptionKeys: Schema.optional(Schema.Array(Schema.String)),
  verifyIncoming: Schema.optional(Schema.Boolean),
  verifyOutgoing: Schema.optional(Schema.Boolean),
  compression: Schema.optional(Schema.Boolean),
  label: Schema.optional(Schema.String),
  wireFormat: Schema.optional(Schema.Literals(["memberlist", "compact"]))
}

const Pem = Schema.Union([Schema.String, Schema.Uint8Array])

/** The keys `Gossip.webSocket` adds for the WebSocket transport (see `WebSocketTransportOptions`). */
export const webSocketFields = {
  path: Schema.optional(Schema.String.check(Schema.isPattern(/^\/[^\s#]*$/, { message: "expected a path such as /gossip" }))),
  advertiseUrl: Schema.optional(Schema.String),
  tls: Schema.optional(Schema.Struct({
    cert: Schema.optional(Pem),
    key: Schema.optional(Pem),
    ca: Schema.optional(Pem),
    serverName: Schema.optional(Schema.String),
    rejectUnauthorized: Schema.optional(Schema.Boolean)
  })),
  webSocket: Schema.optional(Schema.Struct({
    maxFrameSize: Schema.optional(int(65_508, 64 * 1024 * 1024)),
    maxConnections: Schema.optional(int(1, 1_000_000)),
    maxConnectionsPerPeer: Schema.optional(int(1, 1_000_000)),
    maxStreamsPerConnection: Schema.optional(int(1, 65_536)),
    inboundStreamCapacity: Schema.optional(int(1, 1_000_000)),
    inboundPacketCapacity: Schema.optional(int(1, 1_000_000)),
    peerQueueSize: Schema.optional(int(1, 1_000_000)),
    streamWindow: Schema.optional(int(16 * 1024, 64 * 1024 * 1024)),
    idleTimeout: Schema.optional(DurationInput),
    handshakeTimeout: Schema.optional(DurationInput),
    keepaliveInterval: Schema.optional(DurationInput),
    connectTimeout: Schema.optional(DurationInput),
    reconnectBackoff: Schema.optional(DurationInput),
    reconnectBackoffMax: Schema.optional(DurationInput)
  }))
}

/** One thing wrong with a configuration. */
export interface ConfigProblem {
  readonly field: string
  readonly message: string
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()
const options = { errors: "all", onExcessProperty: "error" } as const

/** `GossipConfigInput` as a schema. */
export const GossipConfigInputSchema = Schema.Struct(configFields)

/** `GossipOptions` (what `Gossip.layer` takes) as a schema. */
export const GossipOptionsSchema = Schema.Struct({ ...configFields, ...networkFields })

/** What `Gossip.webSocket` takes, as a schema. */
export const GossipWebSocketOptionsSchema = Schema.Struct({ ...configFields, ...networkFields, ...webSocketFields })

/** Checks `input` against `schema`; every problem, each with its field, or none. */
export const checkFields = (
  schema: Schema.ConstraintDecoder<unknown, never>,
  input: unknown
): ReadonlyArray<ConfigProblem> => {
  const result = Schema.decodeUnknownResult(schema, options)(input)
  if (result._tag === "Success") return []
  return formatter(result.failure.issue).issues.map((issue) => {
    const field = (issue.path ?? []).map((p) => String(typeof p === "object" && p !== null && "key" in p ? p.key : p))
    return {
      field: field.length === 0 ? "(config)" : field.join("."),
      message: issue.message === "Expected no excess property" ? "unknown option" : issue.message
    }
  })
}

/** `application` as given, once checked. */
export type { Application }
