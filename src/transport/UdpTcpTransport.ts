/**
 * The real network `Transport`: UDP datagrams for packets and one TCP
 * connection per stream, both on the same port number as memberlist expects.
 *
 * ```ts
 * const live = UdpTcpTransport.layerNode({ bindAddress: "0.0.0.0", bindPort: 7946 })
 * ```
 */
import * as NodeDns from "@effect/platform-node-shared/NodeDns"
import * as NodeSocketServer from "@effect/platform-node-shared/NodeSocketServer"
import { Context, Effect, Exit, Layer, Result, Scope } from "effect"
import { Dns } from "effect/net"
import type { DatagramSocket, SocketServer } from "effect/socket"
import { isIP } from "node:net"
import { chooseAdvertise } from "./Advertise.ts"
import { isPositiveInt } from "./Options.ts"
import { makeTargetCache } from "./TargetCache.ts"
import { type InboundStats, dial, serveInbound } from "./TcpStreams.ts"
import { resolveAddress } from "./Resolve.ts"
import { Transport, TransportError } from "./Transport.ts"
import { type BoundUdp, bindUdp, makePacketPath, type PacketStats } from "./UdpPackets.ts"

/** How to bind and size the transport. */
export interface UdpTcpTransportOptions {
  /** IPv4 or IPv6 literal to bind; `0.0.0.0` (default) or `::` listens everywhere (`::` is dual-stack). */
  readonly bindAddress?: string | undefined
  /** Port for both UDP and TCP (default 7946). `0` lets the OS pick one free for both. */
  readonly bindPort?: number | undefined
  /**
   * IP literal other nodes should use. Default: the bind IP, or for a
   * wildcard bind the machine's first non-internal IPv4 (127.0.0.1 if none).
   */
  readonly advertiseAddress?: string | undefined
  /** Port other nodes should use (default: the bound port, e.g. behind NAT port mapping set it). */
  readonly advertisePort?: number | undefined
  /** Largest datagram `sendPacket` accepts (default 65 507, the IPv4 UDP maximum). */
  readonly maxPacketSize?: number | undefined
  /** Inbound datagrams buffered for the consumer (default 4096); overflow is dropped and counted. */
  readonly inboundPacketCapacity?: number | undefined
  /** Inbound TCP streams served at once (default 128, memberlist's push/pull limit); more are closed and counted. */
  readonly inboundStreamCapacity?: number | undefined
}

/** Counters for operators: what arrived and what was thrown away. */
export interface UdpTcpTransportStats extends PacketStats, InboundStats {}

/** Defaults, as memberlist uses them. */
export const Defaults = {
  bindAddress: "0.0.0.0",
  bindPort: 7946,
  maxPacketSize: 65_507,
  inboundPacketCapacity: 4096,
  inboundStreamCapacity: 128
} as const

// With bindPort 0, TCP picks a port and UDP must get the same one; another
// process may hold that UDP port, so try a few fresh TCP ports.
const BindAttempts = 8

const bindError = (host: string, port: number, message: string) =>
  new TransportError({ reason: "Bind", address: `${host.includes(":") ? `[${host}]` : host}:${port}`, message })

/** The OS's own words (EADDRINUSE, EADDRNOTAVAIL, …) say more than the error's name. */
const causeText = (cause: unknown): string =>
  cause instanceof Error ? cause.message : cause === undefined ? "" : String(cause)

const serverBindError = (host: string, port: number) => (e: SocketServer.SocketServerError) => {
  const cause = causeText((e.reason as { readonly cause?: unknown }).cause)
  return bindError(host, port, `TCP: ${cause === "" ? e.message : cause}`)
}

const udpInUse = (e: DatagramSocket.DatagramSocketError): boolean =>
  e.reason._tag === "DatagramSocketOpenError" && e.reason.kind === "AddressInUse"

interface Bound {
  readonly server: SocketServer.SocketServer["Service"]
  readonly udp: BoundUdp
  readonly port: number
}

/**
 * Binds TCP first (so port 0 yields a concrete port), then UDP on that port.
 * Each attempt lives in its own child scope so a half-bound attempt is closed
 * before the next one.
 */
const bindBoth = Effect.fnUntraced(function*(host: string, port: number, packetCapacity: number) {
  const parent = yield* Effect.scope
  for (let attempt = 1;; attempt++) {
    const scope = yield* Scope.fork(parent, "sequential")
    const bound: Result.Result<Bound | undefined, TransportError> = yield* Effect.gen(function*() {
      const server = yield* NodeSocketServer.make({ host, port }).pipe(Effect.mapError(serverBindError(host, port)))
      const tcpPort = server.address._tag === "UnixPathAddress" ? -1 : server.address.port
      const udp = yield* bindUdp(host, tcpPort, packetCapacity).pipe(
        Effect.map((udp): BoundUdp | undefined => udp),
        Effect.catch((e) =>
          port === 0 && attempt < BindAttempts && udpInUse(e)
            ? Effect.succeed(undefined)
            : Effect.fail(bindError(host, tcpPort, `UDP: ${e.message}`))
        )
      )
      return udp === undefined ? undefined : { server, udp, port: tcpPort }
    }).pipe(Scope.provide(scope), Effect.result)
    if (Result.isSuccess(bound) && bound.success !== undefined) return bound.success
    yield* Scope.close(scope, Exit.void)
    if (Result.isFailure(bound)) return yield* bound.failure
  }
})

const sizeOption = (name: string, value: number) =>
  isPositiveInt(value)
    ? Effect.succeed(value)
    : Effect.fail(new TransportError({ reason: "Bind", address: "", message: `${name} must be a positive integer` }))

/**
 * Binds the sockets in the current scope and builds the service. Everything —
 * sockets, accepted connections, background fibers — closes with that scope.
 */
const make = Effect.fnUntraced(function*(options: UdpTcpTransportOptions) {
  const host = options.bindAddress ?? Defaults.bindAddress
  const port = options.bindPort ?? Defaults.bindPort
  const maxPacketSize = yield* sizeOption("maxPacketSize", options.maxPacketSize ?? Defaults.maxPacketSize)
  const packetCapacity = yield* sizeOption(
    "inboundPacketCapacity",
    options.inboundPacketCapacity ?? Defaults.inboundPacketCapacity
  )
  const streamCapacity = yield* sizeOption(
    "inboundStreamCapacity",
    options.inboundStreamCapacity ?? Defaults.inboundStreamCapacity
  )
  if (isIP(host) === 0) {
    return yield* new TransportError({
      reason: "BadAddress",
      address: host,
      message: "bindAddress must be an IP literal"
    })
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    return yield* new TransportError({ reason: "BadAddress", address: host, message: `bad bindPort ${port}` })
  }

  const bound = yield* bindBoth(host, port, packetCapacity)
  const advertise = chooseAdvertise({
    bindAddress: host,
    boundPort: bound.port,
    advertiseAddress: options.advertiseAddress,
    advertisePort: options.advertisePort
  })
  if (advertise instanceof TransportError) return yield* advertise

  const dns = yield* Dns.Dns
  const targets = makeTargetCache(dns, { udpFamily: bound.udp.family })
  const packetPath = yield* makePacketPath(bound.udp, targets, { maxPacketSize, inboundCapacity: packetCapacity })
  const inbound = yield* serveInbound(bound.server, { capacity: streamCapacity })

  let closed = false
  yield* Effect.addFinalizer(() => Effect.sync(() => void (closed = true)))
  const closedError = (to: string) => new TransportError({ reason: "Closed", address: to, message: "transport closed" })

  const transport = Transport.of({
    advertise,
    maxPacketSize,
    sendPacket: packetPath.sendPacket,
    packets: packetPath.packets,
    dial: (to, timeoutMillis) =>
      Effect.suspend(() => closed ? Effect.fail(closedError(to)) : dial(targets, to, timeoutMillis)),
    streams: inbound.streams,
    resolve: (address) =>
      resolveAddress(address).pipe(
        Effect.provideService(Dns.Dns, dns),
        Effect.mapError((e) => new TransportError({ reason: "BadAddress", address, message: e.message }))
      )
  })
  const info = UdpTcpTransport.of({
    bindAddress: host,
    port: bound.port,
    stats: Effect.sync(() => ({ ...packetPath.stats(), ...inbound.stats() }))
  })
  return { transport, info }
})

/**
 * What the UDP/TCP transport adds beyond `Transport`: where it is bound and
 * its counters. Provided alongside `Transport` by the layers below.
 */
export class UdpTcpTransport extends Context.Service<UdpTcpTransport, {
  /** The IP the sockets are bound to. */
  readonly bindAddress: string
  /** The port both the UDP and TCP sockets are bound to (the OS's pick when `bindPort` was 0). */
  readonly port: number
  readonly stats: Effect.Effect<UdpTcpTransportStats>
}>()("effect-gossip/UdpTcpTransport") {
  /** Binds in the caller's scope; host names are resolved through the `Dns` service. */
  static readonly make = make

  /** `Transport` (and `UdpTcpTransport`) over UDP + TCP; bind failures fail the layer with reason `Bind`. */
  static readonly layer = (
    options: UdpTcpTransportOptions = {}
  ): Layer.Layer<Transport | UdpTcpTransport, TransportError, Dns.Dns> =>
    Layer.effectContext(
      Effect.map(make(options), ({ info, transport }) =>
        Context.make(Transport, transport).pipe(Context.add(UdpTcpTransport, info)))
    )

  /** `layer` with the operating system's resolver. */
  static readonly layerNode = (
    options: UdpTcpTransportOptions = {}
  ): Layer.Layer<Transport | UdpTcpTransport, TransportError> =>
    UdpTcpTransport.layer(options).pipe(Layer.provide(NodeDns.layer))
}
