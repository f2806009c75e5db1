/**
 * One entry of the member table: mutable, owned by the node's state, with a
 * cached immutable `Member` snapshot rebuilt only after a change.
 */
import { addressOf, formatIp } from "../Address.ts"
import type { Member, MemberState } from "../Member.ts"

export class Entry {
  readonly name: string
  addr: Uint8Array
  port: number
  address: string
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
      this.cached = {
        name: this.name,
        addr: this.addr,
        host: formatIp(this.addr),
        port: this.port,
        address: this.address,
        meta: this.meta ?? new Uint8Array(0),
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
