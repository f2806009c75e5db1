/**
 * Turns the addresses people type (seed lists, `--join` flags, config) into
 * `ip:port` strings a transport can use: `ip:port`, `[v6]:port`, a bare IP,
 * `hostname[:port]` (DNS A/AAAA through the `Dns` service), `srv+_svc._proto.domain`
 * (every SRV target, resolved) and `http(s)://` / `ws(s)://` URLs (reduced to
 * `host:port` without resolving, for a future WebSocket transport that needs the
 * name for TLS).
 */
import { Effect, Result, Schema } from "effect"
import { Dns, NetAddress } from "effect/net"
import { isIP } from "node:net"
import { formatIp, joinHostPort, parseIp } from "../Address.ts"

/** memberlist's default port, used when an address names none. */
export const DefaultPort = 7946

/** Why an address could not be turned into `ip:port`s. */
export const AddressErrorReason = Schema.Literals(["Invalid", "NotFound", "Dns"])
export type AddressErrorReason = typeof AddressErrorReason.Type

/** An address that is malformed (`Invalid`), unknown to DNS (`NotFound`) or not resolvable right now (`Dns`). */
export class AddressError extends Schema.TaggedError<AddressError>()("AddressError", {
  input: Schema.String,
  reason: AddressErrorReason,
  message: Schema.String
}) {}

/** A parsed `host[:port]`; `ip` tells whether `host` is an IP literal (no lookup needed). */
export interface HostPort {
  readonly host: string
  readonly port: number
  readonly ip: boolean
}

const invalid = (input: string, message: string) => new AddressError({ input, reason: "Invalid", message })

const portOf = (text: string): number | undefined => {
  if (!/^\d{1,5}$/.test(text)) return undefined
  const n = Number(text)
  return n <= 65535 ? n : undefined
}

// RFC 1123 labels; underscores are allowed because SRV owner names and some
// internal zones use them.
const hostnamePattern = /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/

/**
 * Canonical text of an IP literal: IPv4-mapped IPv6 prints as IPv4 and IPv6 is
 * compressed, so the same node always yields the same `ip:port` key. A zoned
 * IPv6 literal (`fe80::1%eth0`) is kept as written, because the zone matters.
 */
export const canonicalIp = (ip: string): string => {
  if (ip.includes("%")) return ip
  const bytes = parseIp(ip)
  return bytes === undefined ? ip : formatIp(bytes)
}

/** `ip:port` for a socket's peer, with IPv4-mapped IPv6 (dual-stack sockets) shown as IPv4. */
export const peerAddress = (host: string, port: number): string => joinHostPort(canonicalIp(host), port)

/**
 * Parses `ip:port`, `[v6]:port`, a bare IP (IPv6 without brackets is taken as
 * having no port) or `hostname[:port]`, without any lookup.
 */
export const parseHostPort = (
  input: string,
  defaultPort: number = DefaultPort
): Result.Result<HostPort, AddressError> => {
  const text = input.trim()
  if (text === "") return Result.fail(invalid(input, "empty address"))
  let host: string
  let port = defaultPort
  if (text.startsWith("[")) {
    const close = text.indexOf("]")
    if (close < 0) return Result.fail(invalid(input, "missing ']'"))
    host = text.slice(1, close)
    const rest = text.slice(close + 1)
    if (rest !== "") {
      const p = rest.startsWith(":") ? portOf(rest.slice(1)) : undefined
      if (p === undefined) return Result.fail(invalid(input, "bad port"))
      port = p
    }
    if (isIP(host) !== 6) return Result.fail(invalid(input, "brackets must hold an IPv6 address"))
  } else if (isIP(text) !== 0) {
    host = text
  } else {
    const colon = text.lastIndexOf(":")
    if (colon >= 0) {
      if (text.indexOf(":") !== colon) return Result.fail(invalid(input, "IPv6 with a port needs brackets"))
      const p = portOf(text.slice(colon + 1))
      if (p === undefined) return Result.fail(invalid(input, "bad port"))
      port = p
      host = text.slice(0, colon)
    } else {
      host = text
    }
  }
  if (isIP(host) !== 0) return Result.succeed({ host: canonicalIp(host), port, ip: true })
  if (!hostnamePattern.test(host)) return Result.fail(invalid(input, `not an IP or host name: ${host}`))
  return Result.succeed({ host, port, ip: false })
}

const fromDnsError = (input: string) => (error: Dns.DnsError): AddressError =>
  new AddressError({
    input,
    reason: error.reason === "NotFound" ? "NotFound" : error.reason === "BadName" ? "Invalid" : "Dns",
    message: error.message
  })

/**
 * Every address of `host` as `ip:port`, in the resolver's order. `family`
 * restricts the lookup (an IPv4-only socket cannot use AAAA answers); `input`
 * is what errors report (defaults to `host`).
 */
export const lookupHost = Effect.fnUntraced(function*(
  host: string,
  port: number,
  options?: { readonly family?: "IPv4" | "IPv6" | undefined; readonly input?: string | undefined }
) {
  const dns = yield* Dns.Dns
  const family = options?.family
  const ips = yield* dns.lookup(host, family === undefined ? undefined : { family }).pipe(
    Effect.mapError(fromDnsError(options?.input ?? host))
  )
  return ips.map((ip) => joinHostPort(canonicalIp(NetAddress.formatIp(ip)), port)) as ReadonlyArray<string>
})

const resolveSrv = Effect.fnUntraced(function*(input: string, name: string) {
  const dns = yield* Dns.Dns
  const records = yield* dns.resolve(name, "SRV").pipe(Effect.mapError(fromDnsError(input)))
  // lower priority first; within a priority, heavier weight first
  const sorted = [...records].sort((a, b) => a.priority - b.priority || b.weight - a.weight)
  const out: Array<string> = []
  for (const srv of sorted) {
    const target: string = srv.target
    const literal = target.endsWith(".") ? target.slice(0, -1) : target
    const addrs = isIP(literal) !== 0
      ? [joinHostPort(canonicalIp(literal), srv.port)]
      : yield* lookupHost(target, srv.port, { input })
    for (const a of addrs) if (!out.includes(a)) out.push(a)
  }
  return out as ReadonlyArray<string>
})

const urlPattern = /^(https?|wss?):\/\//i

const parseUrl = (input: string): Result.Result<ReadonlyArray<string>, AddressError> => {
  let url: URL
  try {
    url = new URL(input.trim())
  } catch {
    return Result.fail(invalid(input, "malformed URL"))
  }
  const secure = url.protocol === "https:" || url.protocol === "wss:"
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port)
  const raw = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname
  if (raw === "") return Result.fail(invalid(input, "URL has no host"))
  const host = isIP(raw) !== 0 ? canonicalIp(raw) : raw
  return Result.succeed([joinHostPort(host, port)])
}

/**
 * Resolves one user-supplied address to `ip:port` strings (URLs: `host:port`,
 * unresolved). IP literals never touch DNS. Duplicates are removed.
 */
export const resolveAddress = (
  input: string,
  defaultPort: number = DefaultPort
): Effect.Effect<ReadonlyArray<string>, AddressError, Dns.Dns> => {
  const text = input.trim()
  if (text.toLowerCase().startsWith("srv+")) {
    const name = text.slice(4)
    if (!/^_[^.]+\._[^.]+\..+/.test(name) || !hostnamePattern.test(name)) {
      return Effect.fail(invalid(input, "SRV names look like srv+_service._proto.domain"))
    }
    return resolveSrv(input, name)
  }
  if (urlPattern.test(text)) return Effect.fromResult(parseUrl(text))
  const parsed = parseHostPort(text, defaultPort)
  if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
  const { host, ip, port } = parsed.success
  if (ip) return Effect.succeed([joinHostPort(host, port)])
  return lookupHost(host, port, { input })
}

/** Resolves many addresses, keeping the order and dropping duplicates; fails on the first bad one. */
export const resolveAll = (
  inputs: ReadonlyArray<string>,
  defaultPort: number = DefaultPort
): Effect.Effect<ReadonlyArray<string>, AddressError, Dns.Dns> =>
  Effect.map(
    Effect.forEach(inputs, (input) => resolveAddress(input, defaultPort)),
    (lists) => [...new Set(lists.flat())]
  )
