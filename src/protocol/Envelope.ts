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
import { readFields, writeFields } from "./Fields.ts"

const MARKER = 0xeb
const encoder = new TextEncoder()

export interface Envelope {
  readonly origin: string
  readonly id: number
  readonly payload: Uint8Array
}

export const wrap = (origin: string, id: number, payload: Uint8Array): Uint8Array =>
  writeFields([MARKER, (id >>> 24) & 0xff, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff], [encoder.encode(origin)], payload)

/** The envelope in `bytes`, or undefined when they are not one (a direct or foreign message). */
export const unwrap = (bytes: Uint8Array): Envelope | undefined => {
  if (bytes.length < 6 || bytes[0] !== MARKER) return undefined
  const fields = readFields(bytes, 5, 1)
  if (fields === undefined) return undefined
  const id = ((bytes[1]! << 24) | (bytes[2]! << 16) | (bytes[3]! << 8) | bytes[4]!) >>> 0
  return { origin: fields.strings[0]!, id, payload: bytes.subarray(fields.end) }
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
