/**
 * The command-line flags of `gossip agent` and `gossip members`. Every value is
 * decoded with a Schema while the command line is parsed, so a malformed
 * `--bind`, `--tag` or `--encrypt` is a usage error (exit code 2, with the
 * reason) before anything binds a socket.
 */
import { Effect, Option, Schema, SchemaTransformation } from "effect"
import { CliError, Flag } from "effect/cli"
import { isIP } from "node:net"
import { hostname } from "node:os"
import { joinHostPort } from "../Address.ts"
import type { Profile } from "../Config.ts"
import { encodeTags } from "../serf/Tags.ts"
import { parseHostPort } from "../transport/Resolve.ts"
import { GoDuration } from "./GoDuration.ts"

/** memberlist's default port, used by `--bind` and `--advertise` when none is given. */
export const DEFAULT_PORT = 7946

/** serf refuses tags whose encoding exceeds memberlist's meta limit. */
export const MAX_TAGS_BYTES = 512

/** How the agent writes its log lines. */
export type LogFormat = "text" | "json"

/** How `gossip members` prints the table. */
export type TableFormat = "text" | "json"

const hasPort = (text: string): boolean => /^(\[[^\]]*\]|[^:]*):\d+$/.test(text.trim())

/**
 * `ip:port` with an IP literal (no DNS: a bind or advertise address must be
 * exact), decoded to its canonical text. `defaultPort` is used when the port is
 * left out; without one the port is required.
 */
const IpEndpoint = (defaultPort: number | undefined) =>
  Schema.String.check(Schema.makeFilter((text: string) => {
    if (defaultPort === undefined && !hasPort(text)) return "expected ip:port"
    const parsed = parseHostPort(text, defaultPort ?? 0)
    if (parsed._tag === "Failure") return `expected ip:port (${parsed.failure.message})`
    return parsed.success.ip || `expected an IP address, got "${parsed.success.host}"`
  })).pipe(Schema.decodeTo(
    Schema.String,
    SchemaTransformation.transform({
      decode: (text) => {
        const parsed = parseHostPort(text, defaultPort ?? 0)
        return parsed._tag === "Success" ? joinHostPort(parsed.success.host, parsed.success.port) : text
      },
      encode: (text) => text
    })
  ))

/** `--bind`: `ip[:port]` (port 7946 when omitted, 0 lets the OS choose). */
export const BindAddress = IpEndpoint(DEFAULT_PORT)

/** `--advertise`: `ip[:port]`, the address other members should use. */
export const AdvertiseAddress = IpEndpoint(DEFAULT_PORT)

/** `--ctl`: `ip:port` of the local HTTP control endpoint. */
export const ControlAddress = IpEndpoint(undefined)

/**
 * `--join`: whatever the library's resolver takes: `ip[:port]`, `[v6]:port`,
 * `hostname[:port]`, `srv+_service._proto.domain`, a `ws(s)://` or `http(s)://` URL,
 * or `srv+https://_service._tcp.domain/path` (the URL forms are for `--transport ws`).
 */
export const JoinAddress = Schema.String.check(Schema.makeFilter((text: string) => {
  const t = text.trim()
  if (/^srv\+_[^.\s]+\._[^.\s]+\.\S+$/i.test(t) || /^(srv\+)?(https?|wss?):\/\/\S+$/i.test(t)) return true
  const parsed = parseHostPort(t)
  return parsed._tag === "Success" || `expected host[:port] (${parsed.failure.message})`
}))

/** `--path`: where gossip is served over WebSocket, an absolute path. */
export const GossipPath = Schema.String.check(Schema.makeFilter((text: string) =>
  /^\/[^\s#]*$/.test(text) || "expected an absolute path such as /gossip"
))

/** `--advertise-url`: `ws(s)://ip:port/path` (or `http(s)://`); members are announced by IP and port. */
export const AdvertiseUrl = Schema.String.check(Schema.makeFilter((text: string) => {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return "expected a URL such as ws://10.0.0.5:7946/gossip"
  }
  if (!/^(wss?|https?):$/.test(url.protocol)) return "expected a ws://, wss://, http:// or https:// URL"
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname
  return isIP(host) !== 0 || `expected an IP address as the host, got "${host}" (members are announced by IP and port)`
}))

/** `--name`: 1 to 255 characters, as the engine requires. */
export const NodeName = Schema.String.check(Schema.makeFilter((name: string) =>
  (name.length > 0 && name.length <= 255) || "must be 1 to 255 characters"
))

/**
 * `--tag key=value`, decoded to a `[key, value]` pair. Like serf, the value may
 * be empty (`role=`) and may itself contain `=`; the key may not be empty.
 */
export const Tag = Schema.String.check(Schema.makeFilter((text: string) =>
  text.indexOf("=") > 0 || "expected key=value with a non-empty key"
)).pipe(Schema.decodeTo(
  Schema.Tuple([Schema.String, Schema.String]),
  SchemaTransformation.transform({
    decode: (text): readonly [string, string] => {
      const eq = text.indexOf("=")
      return [text.slice(0, eq), text.slice(eq + 1)]
    },
    encode: ([key, value]) => `${key}=${value}`
  })
))

const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** `--encrypt`: an AES key in standard, padded base64 (as `serf keygen` prints it): 16, 24 or 32 bytes. */
export const EncryptionKey = Schema.String.check(Schema.makeFilter((text: string) => {
  if (text.length === 0 || !base64Pattern.test(text)) return "expected a key in standard base64 (with padding)"
  const size = Buffer.from(text, "base64").length
  return size === 16 || size === 24 || size === 32 || `an AES key has 16, 24 or 32 bytes, this one has ${size}`
}))

/** Collects `--tag` pairs into a map; a repeated key keeps its last value, as serf does. */
export const tagsFromPairs = (pairs: ReadonlyArray<readonly [string, string]>): Readonly<Record<string, string>> => {
  const tags: Record<string, string> = {}
  for (const [key, value] of pairs) {
    // defineProperty: a tag named "__proto__" must stay an ordinary tag
    Object.defineProperty(tags, key, { value, enumerable: true, writable: true, configurable: true })
  }
  return tags
}

/** The tags as a map, refused when serf's encoding of them would not fit in the node meta. */
const checkTagsSize = (pairs: ReadonlyArray<readonly [string, string]>) => {
  const tags = tagsFromPairs(pairs)
  const size = encodeTags(tags).length
  return size <= MAX_TAGS_BYTES
    ? Effect.succeed(tags)
    : Effect.fail(
      new CliError.InvalidValue({
        option: "tag",
        value: `${pairs.length} tags`,
        expected: `at most ${MAX_TAGS_BYTES} bytes of encoded tags, these take ${size}`,
        kind: "flag"
      })
    )
}

/** The flags of `gossip agent`. */
export const agentFlags = {
  name: Flag.String("name").pipe(
    Flag.withSchema(NodeName),
    Flag.withDefault(hostname()),
    Flag.withDescription("Unique node name in the cluster (default: the host name)")
  ),
  bind: Flag.String("bind").pipe(
    Flag.withSchema(BindAddress),
    Flag.withDefault(`0.0.0.0:${DEFAULT_PORT}`),
    Flag.withDescription("ip[:port] to bind UDP and TCP on (with --transport ws: the WebSocket server)")
  ),
  advertise: Flag.String("advertise").pipe(
    Flag.withSchema(AdvertiseAddress),
    Flag.optional,
    Flag.withDescription("ip[:port] other members should use to reach this node")
  ),
  join: Flag.String("join").pipe(
    Flag.withSchema(JoinAddress),
    Flag.atLeast(0),
    Flag.withDescription("Address of a member to join at startup (repeatable); the agent exits if none answers")
  ),
  tags: Flag.String("tag").pipe(
    Flag.withSchema(Tag),
    Flag.atLeast(0),
    Flag.mapEffect(checkTagsSize),
    Flag.withDescription("key=value tag announced to the cluster, shown by `serf members` (repeatable)")
  ),
  encrypt: Flag.String("encrypt").pipe(
    Flag.withSchema(EncryptionKey),
    Flag.atLeast(0),
    Flag.withDescription("Base64 AES key, as serf's -encrypt (repeatable: the first one encrypts)")
  ),
  profile: Flag.Literals("profile", ["lan", "wan", "local"]).pipe(
    Flag.withDefault<Profile>("lan"),
    Flag.withDescription("memberlist timing profile")
  ),
  ctl: Flag.String("ctl").pipe(
    Flag.withSchema(ControlAddress),
    Flag.optional,
    Flag.withDescription("ip:port for the HTTP control endpoint (GET /v1/members, POST /v1/leave); off when absent")
  ),
  transport: Flag.Literals("transport", ["udp", "ws"]).pipe(
    Flag.withDefault<TransportKind>("udp"),
    Flag.withDescription("udp: memberlist's UDP and TCP (serf-compatible); ws: WebSocket, through HTTP(S) proxies")
  ),
  path: Flag.String("path").pipe(
    Flag.withSchema(GossipPath),
    Flag.optional,
    Flag.withDescription("With --transport ws: the path gossip is served on (default /gossip)")
  ),
  advertiseUrl: Flag.String("advertise-url").pipe(
    Flag.withSchema(AdvertiseUrl),
    Flag.optional,
    Flag.withDescription("With --transport ws: ws(s)://ip:port/path other members use to reach this node")
  ),
  tlsCert: Flag.File("tls-cert", { mustExist: true }).pipe(
    Flag.optional,
    Flag.withDescription("With --transport ws: certificate (PEM) to serve wss; needs --tls-key")
  ),
  tlsKey: Flag.File("tls-key", { mustExist: true }).pipe(
    Flag.optional,
    Flag.withDescription("With --transport ws: private key (PEM) of --tls-cert")
  ),
  tlsCa: Flag.File("tls-ca", { mustExist: true }).pipe(
    Flag.optional,
    Flag.withDescription("With --transport ws: CA certificates (PEM) trusted for the members dialed over wss")
  ),
  tlsServerName: Flag.String("tls-server-name").pipe(
    Flag.optional,
    Flag.withDescription("With --transport ws: the name members' certificates carry, checked when dialing them by IP")
  ),
  keyringFile: Flag.String("keyring-file").pipe(
    Flag.optional,
    Flag.withDescription(
      "serf's keyring file (JSON array of base64 keys, primary first): read at start, rewritten on key changes; " +
        "created from --encrypt when absent"
    )
  ),
  snapshot: Flag.String("snapshot").pipe(
    Flag.optional,
    Flag.withDescription(
      "File where the agent keeps the members it knows, its clocks and its keyring, to rejoin them after a restart"
    )
  ),
  rejoin: Flag.Boolean("rejoin").pipe(
    Flag.withDefault(false),
    Flag.withDescription("With --snapshot: rejoin the previous cluster at start even after a graceful leave")
  ),
  retryJoin: Flag.String("retry-join").pipe(
    Flag.withSchema(JoinAddress),
    Flag.atLeast(0),
    Flag.withDescription("Address of a member to join, retried in the background until a join succeeds (repeatable)")
  ),
  retryInterval: Flag.String("retry-interval").pipe(
    Flag.withSchema(GoDuration(1000)),
    Flag.withDefault(30_000),
    Flag.withDescription("Time between --retry-join attempts (a duration such as 30s, at least 1s; default 30s)")
  ),
  retryMax: Flag.Int("retry-max").pipe(
    Flag.filter((n) => n >= 0, (n) => `expected 0 or more, got ${n}`),
    Flag.withDefault(0),
    Flag.withDescription("--retry-join retries before the agent exits with an error (default 0: retry forever)")
  ),
  logFormat: Flag.Literals("log-format", ["text", "json"]).pipe(
    Flag.withDefault<LogFormat>("text"),
    Flag.withDescription("text, or json: one JSON object per line")
  )
} as const

/** The flags of `gossip members`. */
export const membersFlags = {
  ctl: Flag.String("ctl").pipe(
    Flag.withSchema(ControlAddress),
    Flag.withDescription("ip:port of a running agent's control endpoint")
  ),
  format: Flag.Literals("format", ["text", "json"]).pipe(
    Flag.withDefault<TableFormat>("text"),
    Flag.withDescription("text (a table) or json")
  )
} as const

/** Which transport the agent runs on. */
export type TransportKind = "udp" | "ws"

/** Everything `gossip agent` runs with, as parsed from its flags. */
export interface AgentOptions {
  readonly name: string
  readonly bind: string
  readonly advertise: Option.Option<string>
  readonly join: ReadonlyArray<string>
  readonly tags: Readonly<Record<string, string>>
  readonly encrypt: ReadonlyArray<string>
  readonly profile: Profile
  readonly ctl: Option.Option<string>
  readonly logFormat: LogFormat
  readonly transport: TransportKind
  readonly path: Option.Option<string>
  readonly advertiseUrl: Option.Option<string>
  readonly tlsCert: Option.Option<string>
  readonly tlsKey: Option.Option<string>
  readonly tlsCa: Option.Option<string>
  readonly tlsServerName: Option.Option<string>
  readonly snapshot: Option.Option<string>
  readonly rejoin: boolean
  readonly retryJoin: ReadonlyArray<string>
  /** Milliseconds. */
  readonly retryInterval: number
  readonly retryMax: number
  readonly keyringFile: Option.Option<string>
}

/** Everything `gossip members` runs with. */
export interface MembersOptions {
  readonly ctl: string
  readonly format: TableFormat
}
