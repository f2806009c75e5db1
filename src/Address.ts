/**
 * Addresses as memberlist carries them: an IP as raw bytes (4, or 16 for IPv6 and
 * Go's IPv4-mapped form) plus a port, and the `host:port` text a transport dials.
 * Plain functions, usable by the protocol core: no platform imports.
 */

// The literal forms Node's `net.isIPv4` and `net.isIPv6` accept (its own expressions).
const v4Seg = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
const v4Str = `(?:${v4Seg}\\.){3}${v4Seg}`
const IPV4 = new RegExp(`^${v4Str}$`)
const v6Seg = "(?:[0-9a-fA-F]{1,4})"
const IPV6 = new RegExp(
  "^(?:" +
    `(?:${v6Seg}:){7}(?:${v6Seg}|:)|` +
    `(?:${v6Seg}:){6}(?:${v4Str}|:${v6Seg}|:)|` +
    `(?:${v6Seg}:){5}(?::${v4Str}|(?::${v6Seg}){1,2}|:)|` +
    `(?:${v6Seg}:){4}(?:(?::${v6Seg}){0,1}:${v4Str}|(?::${v6Seg}){1,3}|:)|` +
    `(?:${v6Seg}:){3}(?:(?::${v6Seg}){0,2}:${v4Str}|(?::${v6Seg}){1,4}|:)|` +
    `(?:${v6Seg}:){2}(?:(?::${v6Seg}){0,3}:${v4Str}|(?::${v6Seg}){1,5}|:)|` +
    `(?:${v6Seg}:){1}(?:(?::${v6Seg}){0,4}:${v4Str}|(?::${v6Seg}){1,6}|:)|` +
    `(?::(?:(?::${v6Seg}){0,5}:${v4Str}|(?::${v6Seg}){1,7}|:))` +
    ")(?:%[0-9a-zA-Z-.:]{1,})?$"
)

/** Whether `text` is an IPv4 literal (dotted quad), as `net.isIPv4` decides. */
export const isIPv4 = (text: string): boolean => IPV4.test(text)

/** Whether `text` is an IPv6 literal (zone allowed), as `net.isIPv6` decides. */
export const isIPv6 = (text: string): boolean => IPV6.test(text)

/** Formats raw IP bytes as text; a 16-byte IPv4-mapped address prints as IPv4. */
export const formatIp = (ip: Uint8Array): string => {
  if (ip.length === 4) return `${ip[0]}.${ip[1]}.${ip[2]}.${ip[3]}`
  if (ip.length === 16) {
    let mapped = ip[10] === 0xff && ip[11] === 0xff
    for (let i = 0; mapped && i < 10; i++) mapped = ip[i] === 0
    if (mapped) return `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`
    const groups: Array<string> = []
    for (let i = 0; i < 16; i += 2) groups.push(((ip[i]! << 8) | ip[i + 1]!).toString(16))
    return compressV6(groups)
  }
  return ""
}

const compressV6 = (groups: ReadonlyArray<string>): string => {
  let bestStart = -1
  let bestLen = 0
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== "0") {
      i++
      continue
    }
    let j = i
    while (j < groups.length && groups[j] === "0") j++
    if (j - i > bestLen && j - i > 1) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  if (bestStart < 0) return groups.join(":")
  return `${groups.slice(0, bestStart).join(":")}::${groups.slice(bestStart + bestLen).join(":")}`
}

/** Parses an IPv4 or IPv6 literal into raw bytes (4 or 16); `undefined` when it is not one. */
export const parseIp = (text: string): Uint8Array | undefined => {
  if (isIPv4(text)) return Uint8Array.from(text.split(".").map(Number))
  if (!isIPv6(text)) return undefined
  const zone = text.indexOf("%")
  let body = zone >= 0 ? text.slice(0, zone) : text
  const out = new Uint8Array(16)
  const tailV4 = body.lastIndexOf(".") >= 0 ? body.slice(body.lastIndexOf(":") + 1) : undefined
  if (tailV4 !== undefined) {
    const v4 = parseIp(tailV4)!
    body = `${body.slice(0, body.lastIndexOf(":") + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${
      ((v4[2]! << 8) | v4[3]!).toString(16)
    }`
  }
  const [head, tail] = body.includes("::") ? body.split("::") as [string, string] : [body, undefined]
  const headGroups = head === "" ? [] : head.split(":")
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":")
  const groups = tail === undefined
    ? headGroups
    : [...headGroups, ...new Array<string>(8 - headGroups.length - tailGroups.length).fill("0"), ...tailGroups]
  groups.forEach((g, i) => {
    const v = parseInt(g, 16)
    out[i * 2] = v >> 8
    out[i * 2 + 1] = v & 0xff
  })
  return out
}

/** `host:port`, with brackets around IPv6 hosts. */
export const joinHostPort = (host: string, port: number): string =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`

/** `host:port` from raw IP bytes. */
export const addressOf = (ip: Uint8Array, port: number): string => joinHostPort(formatIp(ip), port)

/** Splits `host:port` / `[v6]:port`; the port is `undefined` when absent. */
export const splitHostPort = (text: string): { readonly host: string; readonly port: number | undefined } => {
  if (text.startsWith("[")) {
    const close = text.indexOf("]")
    if (close < 0) return { host: text, port: undefined }
    const rest = text.slice(close + 1)
    return { host: text.slice(1, close), port: rest.startsWith(":") ? toPort(rest.slice(1)) : undefined }
  }
  const colon = text.lastIndexOf(":")
  if (colon < 0 || text.indexOf(":") !== colon) return { host: text, port: undefined }
  return { host: text.slice(0, colon), port: toPort(text.slice(colon + 1)) }
}

const toPort = (text: string): number | undefined => {
  if (!/^\d{1,5}$/.test(text)) return undefined
  const n = Number(text)
  return n <= 65535 ? n : undefined
}

/** The four bytes of an IPv4 address as one int32 (compared as a whole, never printed). */
export const ipv4Of = (addr: Uint8Array): number => (addr[0]! << 24) | (addr[1]! << 16) | (addr[2]! << 8) | addr[3]!

/** Byte-wise equality, as Go compares addresses and metadata. */
export const bytesEqual = (a: Uint8Array | null, b: Uint8Array | null): boolean => {
  const la = a === null ? 0 : a.length
  const lb = b === null ? 0 : b.length
  if (la !== lb) return false
  for (let i = 0; i < la; i++) if (a![i] !== b![i]) return false
  return true
}
