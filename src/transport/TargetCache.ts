/**
 * Destination lookup for the packet and stream paths. `host:port` strings are
 * parsed once and kept, so a send to an IP literal is a `Map` hit with nothing
 * allocated; host names go through `Dns` and are kept for a short time so a
 * burst of sends costs one lookup.
 */
import { Clock, Effect, Result } from "effect"
import { Dns, NetAddress } from "effect/net"
import { networkInterfaces } from "node:os"
import { type AddressError, lookupHost, parseHostPort } from "./Resolve.ts"
import { TransportError } from "./Transport.ts"

/** A destination in the forms the sockets want. */
export interface Target {
  /** For the UDP socket: IPv4 is written IPv4-mapped when the socket is IPv6 (dual-stack). */
  readonly udp: NetAddress.InetAddress
  /** Canonical IP text for `net.connect`. */
  readonly host: string
  readonly port: number
}

/** Resolves `host:port` text to a `Target`, caching the answers. */
export interface TargetCache {
  /** Synchronous hit for IP literals (parsed on first use); `undefined` when a DNS lookup is needed. */
  readonly literal: (to: string) => Target | TransportError | undefined
  /** Any address, looking host names up through DNS (cached for `nameTtlMillis`). */
  readonly resolve: (to: string) => Effect.Effect<Target, TransportError>
}

/** How the cache builds targets. */
export interface TargetCacheOptions {
  /** The UDP socket's family: an IPv6 socket reaches IPv4 peers through IPv4-mapped addresses. */
  readonly udpFamily: "ipv4" | "ipv6"
  readonly nameTtlMillis?: number | undefined
  /** Each map is cleared when it grows past this; real clusters stay far below it. */
  readonly maxEntries?: number | undefined
}

const badAddress = (address: string, message: string) => new TransportError({ reason: "BadAddress", address, message })

const fromAddressError = (address: string) => (e: AddressError): TransportError =>
  new TransportError({ reason: e.reason === "Dns" ? "Unreachable" : "BadAddress", address, message: e.message })

let scopeIds: Map<string, number> | undefined
// only zoned IPv6 literals (fe80::1%eth0) need interface scope ids
const interfaceScopeIds = (): Map<string, number> =>
  scopeIds ??= NetAddress.scopeIdsFromInterfaces(Object.entries(networkInterfaces()))

/** Builds a cache bound to one `Dns` service and one UDP socket family. */
export const makeTargetCache = (dns: Dns.Dns["Service"], options: TargetCacheOptions): TargetCache => {
  const ttl = options.nameTtlMillis ?? 5_000
  const maxEntries = options.maxEntries ?? 8_192
  const literals = new Map<string, Target>()
  const names = new Map<string, { readonly target: Target; readonly expires: number }>()

  const build = (to: string, host: string, port: number): Target | TransportError => {
    const parsed = host.includes("%")
      ? NetAddress.inetAddressFromHostString(host, port, interfaceScopeIds())
      : NetAddress.inetAddressFromIpString(host, port)
    if (Result.isFailure(parsed)) return badAddress(to, parsed.failure.message)
    const inet = parsed.success
    let udp: NetAddress.InetAddress = inet
    if (options.udpFamily === "ipv6" && inet._tag === "InetAddressV4") {
      udp = NetAddress.inetAddressUnsafe(NetAddress.toIpv4Mapped(inet.address), port)
    } else if (options.udpFamily === "ipv4" && inet._tag === "InetAddressV6") {
      return new TransportError({ reason: "Unreachable", address: to, message: "IPv6 destination on an IPv4 socket" })
    }
    return { udp, host, port }
  }

  const literal = (to: string): Target | TransportError | undefined => {
    const hit = literals.get(to)
    if (hit !== undefined) return hit
    const parsed = parseHostPort(to)
    if (Result.isFailure(parsed)) return badAddress(to, parsed.failure.message)
    const { host, ip, port } = parsed.success
    if (!ip) return undefined
    const target = build(to, host, port)
    if (target instanceof TransportError) return target
    if (literals.size >= maxEntries) literals.clear()
    literals.set(to, target)
    return target
  }

  const lookup = Effect.fnUntraced(function*(to: string) {
    const now = yield* Clock.currentTimeMillis
    const cached = names.get(to)
    if (cached !== undefined && cached.expires > now) return cached.target
    const parsed = parseHostPort(to)
    if (Result.isFailure(parsed)) return yield* badAddress(to, parsed.failure.message)
    const { host, port } = parsed.success
    const addrs = yield* lookupHost(host, port, {
      family: options.udpFamily === "ipv4" ? "IPv4" : undefined,
      input: to
    }).pipe(Effect.provideService(Dns.Dns, dns), Effect.mapError(fromAddressError(to)))
    const first = parseHostPort(addrs[0]!)
    if (Result.isFailure(first)) return yield* badAddress(to, first.failure.message)
    const target = build(to, first.success.host, first.success.port)
    if (target instanceof TransportError) return yield* target
    if (names.size >= maxEntries) names.clear()
    names.set(to, { target, expires: now + ttl })
    return target
  })

  const resolve = (to: string): Effect.Effect<Target, TransportError> => {
    const hit = literal(to)
    if (hit === undefined) return lookup(to)
    return hit instanceof TransportError ? Effect.fail(hit) : Effect.succeed(hit)
  }

  return { literal, resolve }
}
