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

/**
 * The first non-internal IPv4 address of the machine, or `127.0.0.1` when it
 * has none (a laptop offline, a container with loopback only). memberlist
 * prefers a private IPv4 the same way.
 */
export const defaultAdvertiseIp = (
  interfaces: Record<string, ReadonlyArray<NetworkInterfaceInfo> | undefined> = networkInterfaces()
): string => {
  for (const infos of Object.values(interfaces)) {
    for (const info of infos ?? []) {
      if (info.family === "IPv4" && !info.internal) return info.address
    }
  }
  return "127.0.0.1"
}

/**
 * The advertised address: `advertiseAddress` when given (must be an IP
 * literal), else the bind IP, else — for a wildcard bind — `defaultAdvertiseIp()`.
 * The port is `advertisePort`, else the bound port.
 */
export const chooseAdvertise = (options: {
  readonly bindAddress: string
  readonly boundPort: number
  readonly advertiseAddress?: string | undefined
  readonly advertisePort?: number | undefined
}): Advertise | TransportError => {
  const ip = options.advertiseAddress ?? (isWildcard(options.bindAddress) ? defaultAdvertiseIp() : options.bindAddress)
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
