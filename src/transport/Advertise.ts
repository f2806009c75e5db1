/**
 * Which address this node tells others to use. memberlist refuses to
 * advertise `0.0.0.0`, so a wildcard bind advertises a real interface address.
 */
import { networkInterfaces, type NetworkInterfaceInfo } from "node:os"
import { parseIp } from "../Address.ts"
import { TransportError } from "./Transport.ts"

/** What the transport advertises: IP bytes (4 or 16) and a port. */
export interface Advertise {
  readonly addr: Uint8Array
  readonly port: number
}

/** True for `0.0.0.0`, `::` and their spellings: the socket listens on every interface. */
export const isWildcard = (ip: string): boolean => {
  const bytes = parseIp(ip)
  return bytes !== undefined && bytes.every((b) => b === 0)
}

/** RFC 1918 and RFC 6598 (carrier-grade NAT) IPv4: what memberlist calls a private address. */
export const isPrivateIpv4 = (ip: string): boolean => {
  const b = parseIp(ip)
  if (b === undefined || b.length !== 4) return false
  return b[0] === 10 ||
    (b[0] === 172 && b[1]! >= 16 && b[1]! <= 31) ||
    (b[0] === 192 && b[1] === 168) ||
    (b[0] === 100 && b[1]! >= 64 && b[1]! <= 127)
}

/**
 * The first private IPv4 address of the machine's interfaces, as memberlist picks one for a
 * wildcard bind; undefined when there is none (then the node needs an explicit advertise address).
 */
export const defaultAdvertiseIp = (
  interfaces: Record<string, ReadonlyArray<NetworkInterfaceInfo> | undefined> = networkInterfaces()
): string | undefined => {
  for (const infos of Object.values(interfaces)) {
    for (const info of infos ?? []) {
      if (info.family === "IPv4" && !info.internal && isPrivateIpv4(info.address)) return info.address
    }
  }
  return undefined
}

/**
 * The advertised address: `advertiseAddress` when given (must be an IP
 * literal), else the bind IP, else — for a wildcard bind — the machine's first
 * private IPv4; with none, a `BadAddress` error that asks for an explicit one.
 * The port is `advertisePort`, else the bound port.
 */
export const chooseAdvertise = (options: {
  readonly bindAddress: string
  readonly boundPort: number
  readonly advertiseAddress?: string | undefined
  readonly advertisePort?: number | undefined
  readonly interfaces?: Record<string, ReadonlyArray<NetworkInterfaceInfo> | undefined> | undefined
}): Advertise | TransportError => {
  const wildcard = options.advertiseAddress === undefined && isWildcard(options.bindAddress)
  const ip = options.advertiseAddress ?? (wildcard ? defaultAdvertiseIp(options.interfaces) : options.bindAddress)
  if (ip === undefined) {
    return new TransportError({
      reason: "BadAddress",
      address: options.bindAddress,
      message: `bound to ${options.bindAddress}, but the machine has no private IPv4 address to advertise: ` +
        "set the advertise address (advertise: \"ip:port\", --advertise, GOSSIP_ADVERTISE)"
    })
  }
  const addr = parseIp(ip)
  if (addr === undefined) {
    return new TransportError({ reason: "BadAddress", address: ip, message: "advertise address must be an IP literal" })
  }
  const port = options.advertisePort ?? options.boundPort
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return new TransportError({ reason: "BadAddress", address: ip, message: `bad advertise port ${port}` })
  }
  return { addr, port }
}
