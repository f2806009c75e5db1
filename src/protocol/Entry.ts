/**
 * One entry of the member table: mutable, owned by the node's state, with a
 * cached immutable `Member` snapshot rebuilt only after a change.
 */
import { addressOf, formatIp } from "../Address.ts"
import type { Member, MemberState } from "../Member.ts"
import { splitMeta } from "./Application.ts"

/** Version vectors repeat across a cluster: one shared copy of each saves ~200 bytes per member. */
const vsnPool = new Map<number, Uint8Array>()
export const internVsn = (vsn: Uint8Array): Uint8Array => {
  const low = ((vsn[2]! << 24) | (vsn[3]! << 16) | (vsn[4]! << 8) | vsn[5]!) >>> 0
  const key = vsn[0]! * 2 ** 40 + vsn[1]! * 2 ** 32 + low
  let shared = vsnPool.get(key)
  if (shared === undefined) {
    shared = Uint8Array.from(vsn)
    vsnPool.set(key, shared)
  }
  return shared
}

export class Entry {
  readonly name: string
  addr: Uint8Array
  port: number
  address: string
  /** As announced on the wire: the application header, if any, then the metadata. */
  meta: Uint8Array | null
  incarnation: number
  state: MemberState
  stateChange: number
  /** `[pmin, pmax, pcur, dmin, dmax, dcur]`. */
  vsn: Uint8Array
  /** When a push/pull last showed this (dead) member alive elsewhere: it is gossiped to again for a while. */
  contactedAt = Number.NEGATIVE_INFINITY
  private cached: Member | undefined

  constructor(
    name: string,
    addr: Uint8Array,
    port: number,
    meta: Uint8Array | null,
    incarnation: number,
    state: MemberState,
    stateChange: number,
    vsn: Uint8Array
  ) {
    this.name = name
    this.addr = addr
    this.port = port
    this.address = addressOf(addr, port)
    this.meta = meta
    this.incarnation = incarnation
    this.state = state
    this.stateChange = stateChange
    this.vsn = vsn
  }

  get deadOrLeft(): boolean {
    return this.state === "dead" || this.state === "left"
  }

  get pMax(): number {
    return this.vsn[1]!
  }

  setAddress(addr: Uint8Array, port: number): void {
    if (addr !== this.addr || port !== this.port) {
      this.addr = addr
      this.port = port
      this.address = addressOf(addr, port)
    }
  }

  /** Marks the snapshot stale after a change. */
  touch(): void {
    this.cached = undefined
  }

  get snapshot(): Member {
    if (this.cached === undefined) {
      const v = this.vsn
      const { application, meta } = splitMeta(this.meta)
      this.cached = {
        name: this.name,
        addr: this.addr,
        host: formatIp(this.addr),
        port: this.port,
        address: this.address,
        meta,
        application,
        incarnation: this.incarnation,
        state: this.state,
        stateChange: this.stateChange,
        protocolMin: v[0]!,
        protocolMax: v[1]!,
        protocolCur: v[2]!,
        delegateMin: v[3]!,
        delegateMax: v[4]!,
        delegateCur: v[5]!
      }
    }
    return this.cached
  }
}

/** The six version bytes we read from an alive: exactly 6, anything else is unusable. */
export const validVsn = (vsn: Uint8Array | null): vsn is Uint8Array =>
  vsn !== null && vsn.length === 6 && vsn[0] !== 0 && vsn[1] !== 0 && vsn[0]! <= vsn[1]!
