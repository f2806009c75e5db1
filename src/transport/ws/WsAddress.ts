/**
 * Addresses on a WebSocket cluster. Members are known to the engine by the
 * `ip:port` of their alive messages (memberlist's wire format has room for
 * nothing else); a member at `ip:port` is reached at
 * `<scheme>://ip:port<path>`, with the scheme and path every member of the
 * cluster shares. Seeds may be full URLs: `ws://`, `wss://`, `http://` (ws),
 * `https://` (wss) and `srv+https://_service._tcp.domain/path`. A seed whose
 * host name has several addresses becomes one URL per address, each pinned to
 * its IP in the fragment (`wss://seed.example.com/gossip#10.0.0.7`): the
 * connection goes to that IP while the name is still sent as the `Host` and
 * checked against the server's certificate.
 */
import { Effect, Result } from "effect"
import { Dns } from "effect/net"
import { isIP } from "node:net"
import { joinHostPort, splitHostPort } from "../../Address.ts"
import { AddressError, canonicalIp, lookupHost, parseHostPort, resolveAddress } from "../Resolve.ts"
import { TransportError } from "../Transport.ts"

/** How every member of the cluster is reached: the scheme and path shared by all. */
export interface MemberEndpoint {
  readonly secure: boolean
  /** Path and query, starting with `/`. */
  readonly path: string
}

/** Where one connection goes. */
export interface DialTarget {
  /** The address as the engine gave it: the pool key and the stream's `remote`. */
  readonly key: string
  readonly secure: boolean
  /** The URL's host (a name or an IP, without brackets): the `Host` header and the TLS server name. */
  readonly host: string
  readonly port: number
  /** Path and query. */
  readonly path: string
  /** The IP to connect to, when `host` is a name that was resolved already. */
  readonly ip: string | undefined
}

const schemePattern = /^(wss?|https?):\/\//i
const srvPattern = /^srv\+(wss?|https?):\/\/(.*)$/i

const secureScheme = (scheme: string): boolean => {
  const s = scheme.toLowerCase()
  return s === "wss" || s === "https" || s === "wss:" || s === "https:"
}

/** The URL a target is dialed at (without the pinned IP). */
export const targetUrl = (t: DialTarget): string =>
  `${t.secure ? "wss" : "ws"}://${joinHostPort(t.host, t.port)}${t.path}`

/** A member's URL from its `ip:port`. */
export const memberUrl = (endpoint: MemberEndpoint, address: string): string =>
  `${endpoint.secure ? "wss" : "ws"}://${address}${endpoint.path}`

/** Checks a path: absolute, no fragment. */
export const checkPath = (path: string): string | undefined =>
  path.startsWith("/") && !path.includes("#") && !/\s/.test(path) ? undefined : `expected a path such as /gossip, got "${path}"`

interface ParsedUrl {
  readonly secure: boolean
  readonly host: string
  readonly ip: boolean
  readonly port: number
  readonly path: string
  readonly pin: string | undefined
}

const parseUrl = (input: string): ParsedUrl | string => {
  let url: URL
  try {
    url = new URL(input)
  } catch {
    return "malformed URL"
  }
  const secure = secureScheme(url.protocol)
  const raw = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname
  if (raw === "") return "URL has no host"
  const ip = isIP(raw) !== 0
  const pinText = url.hash === "" ? undefined : decodeURIComponent(url.hash.slice(1))
  if (pinText !== undefined && isIP(pinText) === 0) return `the fragment must be an IP address, got "${pinText}"`
  return {
    secure,
    host: ip ? canonicalIp(raw) : raw,
    ip,
    port: url.port === "" ? (secure ? 443 : 80) : Number(url.port),
    path: `${url.pathname}${url.search}`,
    pin: pinText === undefined ? undefined : canonicalIp(pinText)
  }
}

const format = (u: Omit<ParsedUrl, "ip">): string =>
  `${u.secure ? "wss" : "ws"}://${joinHostPort(u.host, u.port)}${u.path}${u.pin === undefined ? "" : `#${u.pin}`}`

/**
 * Where `to` leads: a URL (with an optional pinned IP), or `host:port` of a
 * member, reached with the cluster's scheme and path.
 */
export const parseTarget = (to: string, endpoint: MemberEndpoint): DialTarget | TransportError => {
  const text = to.trim()
  if (schemePattern.test(text)) {
    const url = parseUrl(text)
    if (typeof url === "string") return new TransportError({ reason: "BadAddress", address: to, message: url })
    return { key: to, secure: url.secure, host: url.host, port: url.port, path: url.path, ip: url.pin }
  }
  const parsed = parseHostPort(text)
  if (Result.isFailure(parsed)) return new TransportError({ reason: "BadAddress", address: to, message: parsed.failure.message })
  const { host, port } = parsed.success
  return { key: to, secure: endpoint.secure, host, port, path: endpoint.path, ip: undefined }
}

const invalid = (input: string, message: string) => new AddressError({ input, reason: "Invalid", message })

/** One URL per address of `url.host` (none to look up for an IP), keeping the name for `Host` and TLS. */
const pinned = (input: string, url: Omit<ParsedUrl, "pin">) =>
  url.ip
    ? Effect.succeed([format({ ...url, pin: undefined })] as ReadonlyArray<string>)
    : Effect.map(lookupHost(url.host, url.port, { input }), (addrs) =>
      addrs.map((a) => format({ ...url, pin: splitHostPort(a).host })))

const resolveSrv = Effect.fnUntraced(function*(input: string, secure: boolean, rest: string) {
  const slash = rest.indexOf("/")
  const name = slash < 0 ? rest : rest.slice(0, slash)
  const path = slash < 0 ? "/" : rest.slice(slash)
  if (!/^_[^.]+\._[^.]+\..+/.test(name)) return yield* invalid(input, "SRV seeds look like srv+https://_service._tcp.domain/path")
  const dns = yield* Dns.Dns
  const records = yield* dns.resolve(name, "SRV").pipe(
    Effect.mapError((e) => new AddressError({ input, reason: e.reason === "NotFound" ? "NotFound" : "Dns", message: e.message }))
  )
  // lower priority first; within a priority, heavier weight first
  const sorted = [...records].sort((a, b) => a.priority - b.priority || b.weight - a.weight)
  const out: Array<string> = []
  for (const srv of sorted) {
    const target: string = srv.target.endsWith(".") ? srv.target.slice(0, -1) : srv.target
    const ip = isIP(target) !== 0
    const urls = yield* pinned(input, { secure, host: ip ? canonicalIp(target) : target, ip, port: srv.port, path })
    for (const u of urls) if (!out.includes(u)) out.push(u)
  }
  return out as ReadonlyArray<string>
})

/**
 * Resolves a seed to the addresses to contact: URLs (pinned per address) for
 * URL and `srv+<scheme>://` seeds, `ip:port` for the forms UDP/TCP seeds take
 * (`ip:port`, host names, `srv+_svc._proto.domain`), which are then reached
 * with the cluster's scheme and path.
 */
export const resolveSeed = (input: string): Effect.Effect<ReadonlyArray<string>, AddressError, Dns.Dns> => {
  const text = input.trim()
  const srv = srvPattern.exec(text)
  if (srv !== null) return resolveSrv(input, secureScheme(srv[1]!), srv[2]!)
  if (!schemePattern.test(text)) return resolveAddress(text)
  const url = parseUrl(text)
  if (typeof url === "string") return Effect.fail(invalid(input, url))
  if (url.pin !== undefined) return Effect.succeed([format(url)])
  return pinned(input, url)
}
