/**
 * Application broadcasts spread epidemically: every member that receives one for
 * the first time delivers it and gossips it on, so it reaches the whole cluster
 * and not only the few members its origin talks to. The envelope names the
 * origin and numbers the broadcast, which is how duplicates are recognised.
 *
 * `[0xEB][id: u32 BE][origin length: u8][origin UTF-8][payload]`. The marker is
 * outside serf's message types (0–9), so serf agents ignore it; direct
 * messages (`sendBestEffort`, `sendReliable`) carry the bare payload.
 */
const MARKER = 0xeb
const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

export interface Envelope {
  readonly origin: string
  readonly id: number
  readonly payload: Uint8Array
}

export const wrap = (origin: string, id: number, payload: Uint8Array): Uint8Array => {
  const name = encoder.encode(origin)
  const out = new Uint8Array(6 + name.length + payload.length)
  out[0] = MARKER
  new DataView(out.buffer).setUint32(1, id >>> 0)
  out[5] = name.length
  out.set(name, 6)
  out.set(payload, 6 + name.length)
  return out
}

/** The envelope in `bytes`, or undefined when they are not one (a direct or foreign message). */
export const unwrap = (bytes: Uint8Array): Envelope | undefined => {
  if (bytes.length < 6 || bytes[0] !== MARKER) return undefined
  const nameLength = bytes[5]!
  if (bytes.length < 6 + nameLength) return undefined
  try {
    const origin = decoder.decode(bytes.subarray(6, 6 + nameLength))
    const id = new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(1)
    return { origin, id, payload: bytes.subarray(6 + nameLength) }
  } catch {
    return undefined
  }
}

/** Recently seen broadcasts, oldest forgotten first. */
export class SeenBroadcasts {
  private readonly seen = new Set<string>()
  private readonly capacity: number

  constructor(capacity: number) {
    this.capacity = capacity
  }

  /** True the first time `(origin, id)` is offered. */
  add(origin: string, id: number): boolean {
    const key = `${id}@${origin}`
    if (this.seen.has(key)) return false
    this.seen.add(key)
    if (this.seen.size > this.capacity) this.seen.delete(this.seen.values().next().value!)
    return true
  }
}
