/**
 * The packet half of the UDP/TCP transport: binds the UDP socket, pumps
 * received datagrams into a bounded queue (one Effect step per batch, a plain
 * `offerUnsafe` per datagram) and sends datagrams to `host:port` targets.
 */
import * as NodeDatagramSocket from "@effect/platform-node-shared/NodeDatagramSocket"
import { Cause, Clock, Effect, Queue } from "effect"
import { NetAddress } from "effect/net"
import type { DatagramSocket } from "effect/socket"
import type { TargetCache } from "./TargetCache.ts"
import { type InboundPacket, TransportError } from "./Transport.ts"

/** memberlist asks the kernel for this much receive buffer, halving until accepted. */
export const KernelReceiveBuffer = 2 * 1024 * 1024

const errorCode = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined

/** An open UDP socket: its reader (owning the native socket) and writer. */
export interface BoundUdp {
  readonly reader: DatagramSocket.Reader
  readonly writer: DatagramSocket.Writer
  readonly port: number
  readonly family: "ipv4" | "ipv6"
}

/**
 * Binds UDP `host:port` in the current scope. `capacity` sizes the socket's
 * own datagram buffer, which only fills while the pump is behind (at least
 * 256, so a tiny consumer queue does not also starve the socket). The kernel
 * receive buffer starts
 * at 2 MiB and is halved while the OS rejects it (Linux accepts any size and
 * silently caps it at `net.core.rmem_max`). Bind errors are returned as-is so
 * the caller can tell "port in use" apart.
 */
export const bindUdp = Effect.fnUntraced(function*(host: string, port: number, capacity: number) {
  let size: number | undefined = KernelReceiveBuffer
  while (true) {
    const socket = yield* NodeDatagramSocket.make({
      bind: { address: host, port },
      kernelReceiveBufferSize: size,
      receiveBuffer: { capacity: Math.max(capacity, 256), strategy: "dropping" },
      // ICMP reports for datagrams to dead peers are routine in gossip
      onError: () => {}
    })
    const opened = yield* Effect.result(socket.reader)
    if (opened._tag === "Success") {
      const reader = opened.success
      const writer = yield* socket.writer
      const family: "ipv4" | "ipv6" = reader.address._tag === "InetAddressV6" ? "ipv6" : "ipv4"
      return { reader, writer, port: reader.address.port, family } satisfies BoundUdp
    }
    const reason = opened.failure.reason
    const bufferRejected = reason._tag === "DatagramSocketOpenError" && reason.kind === "Unknown" &&
      errorCode(reason.cause) === "ERR_SOCKET_BUFFER_SIZE"
    if (!bufferRejected || size === undefined) return yield* opened.failure
    size = size > 4096 ? Math.floor(size / 2) : undefined
  }
})

// The engine keys members by "ip:port"; a dual-stack socket reports IPv4
// senders as ::ffff:a.b.c.d, which must read as the plain IPv4 address.
const formatFrom = (address: NetAddress.InetAddress): string => {
  if (address._tag === "InetAddressV6" && NetAddress.isIpv4Mapped(address.address)) {
    const bytes = NetAddress.ipv6ToOctets(address.address)
    return `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}:${address.port}`
  }
  return NetAddress.formatInet(address)
}

const writeError = (address: string) => (e: DatagramSocket.DatagramSocketError): TransportError => {
  const reason = e.reason
  if (reason._tag === "DatagramSocketClosedError") {
    return new TransportError({ reason: "Closed", address, message: "UDP socket closed" })
  }
  if (reason._tag === "DatagramSocketWriteError") {
    switch (reason.kind) {
      case "MessageTooLarge":
        return new TransportError({ reason: "TooLarge", address, message: e.message })
      case "Unreachable":
        return new TransportError({ reason: "Unreachable", address, message: e.message })
      case "ConnectionRefused":
        return new TransportError({ reason: "Refused", address, message: e.message })
    }
  }
  return new TransportError({ reason: "Io", address, message: e.message })
}

/** Packet counters. */
export interface PacketStats {
  /** Datagrams that reached the socket, including dropped ones. */
  readonly packetsReceived: number
  /** Dropped because the inbound queue (or the socket's own buffer) was full. */
  readonly packetsDropped: number
}

/** Options for the packet path. */
export interface PacketOptions {
  readonly maxPacketSize: number
  readonly inboundCapacity: number
}

/**
 * Starts the receive pump in the current scope and returns the send function
 * and the inbound queue. After the scope closes, sends fail with `Closed`
 * instead of waiting for a reader that will never reopen.
 */
export const makePacketPath = Effect.fnUntraced(function*(
  udp: BoundUdp,
  targets: TargetCache,
  options: PacketOptions
) {
  const packets = yield* Queue.dropping<InboundPacket>(options.inboundCapacity)
  let received = 0
  let dropped = 0
  let closed = false
  yield* Effect.addFinalizer(() =>
    Effect.suspend(() => {
      closed = true
      return Queue.shutdown(packets)
    })
  )

  const pump = Effect.gen(function*() {
    while (true) {
      const batch = yield* udp.reader.pull
      const at = yield* Clock.currentTimeMillis
      for (const datagram of batch) {
        received++
        const packet: InboundPacket = { from: formatFrom(datagram.address), bytes: datagram.payload, at }
        if (!Queue.offerUnsafe(packets, packet)) dropped++
      }
    }
  })
  yield* pump.pipe(
    // a terminal read error leaves the socket unusable; say so loudly
    Effect.tapCause((cause) =>
      closed || Cause.hasInterruptsOnly(cause)
        ? Effect.void
        : Effect.logError("gossip transport: UDP receive stopped", cause)
    ),
    Effect.ignore,
    Effect.forkScoped
  )

  const write = (to: string, address: NetAddress.InetAddress, bytes: Uint8Array) =>
    Effect.mapError(udp.writer.write({ payload: bytes, address }), writeError(to))

  const sendPacket = (to: string, bytes: Uint8Array): Effect.Effect<void, TransportError> =>
    Effect.suspend(() => {
      // checked when run: after the scope closes the writer would wait forever
      if (closed) return Effect.fail(new TransportError({ reason: "Closed", address: to, message: "transport closed" }))
      if (bytes.length > options.maxPacketSize) {
        return Effect.fail(
          new TransportError({
            reason: "TooLarge",
            address: to,
            message: `${bytes.length} bytes exceeds the ${options.maxPacketSize}-byte packet limit`
          })
        )
      }
      const hit = targets.literal(to)
      if (hit === undefined) return Effect.flatMap(targets.resolve(to), (t) => write(to, t.udp, bytes))
      if (hit instanceof TransportError) return Effect.fail(hit)
      return write(to, hit.udp, bytes)
    })

  const stats = (): PacketStats => {
    const socketDropped = udp.reader.dropped()
    return { packetsReceived: received + socketDropped, packetsDropped: dropped + socketDropped }
  }
  return { packets: packets as Queue.Dequeue<InboundPacket>, sendPacket, stats }
})
