/**
 * What members announce about themselves, interned: a name, and the address,
 * metadata and versions of an alive message, are stored once however many
 * member tables hold them. A table keeps small integer ids into a directory.
 *
 * A node makes its own directory; nodes that run in one process (a simulated
 * network) may share one, which is what lets ten thousand tables of ten
 * thousand members fit in memory. Entries are reference-counted: a name or an
 * announcement no table (or queued broadcast) holds any more is forgotten and
 * its id reused. Plain data, no I/O.
 */
import { addressOf, formatIp } from "../Address.ts"
import type { Application } from "./Application.ts"
import { splitMeta } from "./Application.ts"
import type { Alive, PacketMessage } from "./Messages.ts"

/** The address, metadata and versions of one alive message; shared, never mutated. */
export interface Announcement {
  readonly addr: Uint8Array
  readonly port: number
  /** `host:port`, as transports dial it. */
  readonly address: string
  readonly host: string
  /** Metadata as announced on the wire: the application header, if any, then the metadata. */
  readonly wire: Uint8Array | null
  /** The metadata without the application header. */
  readonly meta: Uint8Array
  readonly application: Application | undefined
  /** `[pmin, pmax, pcur, dmin, dmax, dcur]`. */
  readonly vsn: Uint8Array
}

/** The last encoded alive of one announcement: nodes that gossip the same alive share its bytes. */
interface Encoded {
  /** Whatever identifies the encoding: nodes that pass the same one share bytes. */
  readonly encoding: object
  readonly name: number
  readonly incarnation: number
  readonly bytes: Uint8Array
}

interface Record {
  readonly announcement: Announcement
  /** The name id it was interned for. */
  readonly name: number
  /** The next announcement interned for the same name, or -1. */
  next: number
  refs: number
  encoded: Encoded | undefined
}

const sameBytes = (a: Uint8Array | null, b: Uint8Array | null): boolean => {
  if (a === b) return true
  if (a === null || b === null || a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Whether `alive` announces exactly `a` (nil and empty metadata differ, as Go keeps them apart). */
export const announces = (a: Announcement, alive: Alive): boolean =>
  a.port === alive.port && sameBytes(a.addr, alive.addr) && sameBytes(a.vsn, alive.vsn) && sameBytes(a.wire, alive.meta)

const EMPTY = new Uint8Array(0)
/** Distinct version vectors kept for sharing (a cluster has a handful; forged ones are not kept). */
const MAX_VSNS = 64

export class Directory {
  private readonly nameIds = new Map<string, number>()
  private readonly names: Array<string> = []
  private nameRefs = new Int32Array(64)
  /**
   * The announcements of each name, as a chain through `Record.next`, the one interned last
   * first: a name has one announcement, or a few while a change spreads, so finding one is a
   * byte comparison or two, with no key to build.
   */
  private heads = new Int32Array(64).fill(-1)
  private readonly freeNames: Array<number> = []

  private readonly records: Array<Record | undefined> = []
  private readonly freeRecords: Array<number> = []
  private recordCount = 0
  private readonly vsns = new Map<string, Uint8Array>()
  private readonly shareEncoded: boolean

  /**
   * `shareEncoded`: keep each announcement's last encoded alive for the next node that gossips
   * it. Worth it when many nodes share the directory; a node's own directory encodes once
   * per change anyway and would only hold the bytes longer.
   */
  constructor(options: { readonly shareEncoded?: boolean } = {}) {
    this.shareEncoded = options.shareEncoded ?? false
  }

  /** Names interned right now. */
  get nameCount(): number {
    return this.nameIds.size
  }

  /** Announcements interned right now. */
  get announcementCount(): number {
    return this.recordCount
  }

  /** One more than the highest name id in use: tables size their indexes by it. */
  get nameCapacity(): number {
    return this.names.length
  }

  /** The id of `name`, or -1 when no table holds it. */
  idOf(name: string): number {
    return this.nameIds.get(name) ?? -1
  }

  name(id: number): string {
    return this.names[id]!
  }

  /** The id of `name`, interned if new; the caller holds a reference until `releaseName`. */
  retainName(name: string): number {
    let id = this.nameIds.get(name)
    if (id === undefined) {
      id = this.freeNames.pop() ?? this.names.length
      if (id === this.names.length) this.names.push(name)
      else this.names[id] = name
      this.nameIds.set(name, id)
      if (id >= this.nameRefs.length) this.growNames(id + 1)
      this.heads[id] = -1
    }
    this.nameRefs[id]!++
    return id
  }

  /** Takes one more reference to an interned name. */
  retainId(id: number): void {
    this.nameRefs[id]!++
  }

  releaseName(id: number): void {
    if (--this.nameRefs[id]! > 0) return
    this.nameIds.delete(this.names[id]!)
    this.names[id] = ""
    this.freeNames.push(id)
  }

  announcement(id: number): Announcement {
    return this.records[id]!.announcement
  }

  /**
   * The id of what `alive` announces, interned if new, with one reference for the caller.
   * `name` is the id of `alive.node`, used to find the previous announcement quickly.
   */
  retainAnnouncement(name: number, alive: Alive): number {
    let previous = -1
    let id = this.heads[name]!
    while (id >= 0 && !announces(this.records[id]!.announcement, alive)) {
      previous = id
      id = this.records[id]!.next
    }
    if (id < 0) {
      id = this.freeRecords.pop() ?? this.records.length
      // Copies: the message's fields may be views into a whole datagram. Empty metadata and
      // version vectors (a handful of distinct ones per cluster) are shared.
      const addr = Uint8Array.from(alive.addr)
      const wire = alive.meta === null ? null : alive.meta.length === 0 ? EMPTY : Uint8Array.from(alive.meta)
      const { application, meta } = splitMeta(wire)
      const record: Record = {
        announcement: {
          addr,
          port: alive.port,
          address: addressOf(addr, alive.port),
          host: formatIp(addr),
          wire,
          meta,
          application,
          vsn: this.internVsn(alive.vsn!)
        },
        name,
        next: this.heads[name]!,
        refs: 0,
        encoded: undefined
      }
      if (id === this.records.length) this.records.push(record)
      else this.records[id] = record
      this.heads[name] = id
      this.recordCount++
    } else if (previous >= 0) {
      // to the front: the announcement interned last is the one asked for next
      const record = this.records[id]!
      this.records[previous]!.next = record.next
      record.next = this.heads[name]!
      this.heads[name] = id
    }
    this.records[id]!.refs++
    return id
  }

  retainAnnouncementId(id: number): void {
    this.records[id]!.refs++
  }

  releaseAnnouncement(id: number): void {
    const record = this.records[id]!
    if (--record.refs > 0) return
    // unlink it from its name's chain
    if (this.heads[record.name] === id) {
      this.heads[record.name] = record.next
    } else {
      let at = this.heads[record.name]!
      while (this.records[at]!.next !== id) at = this.records[at]!.next
      this.records[at]!.next = record.next
    }
    this.records[id] = undefined
    this.freeRecords.push(id)
    this.recordCount--
  }

  /**
   * The encoded alive of `name` at `incarnation` announcing `announcement`, as `encode` makes
   * it: made once and shared by every node that passes the same `encoding` (its codec).
   */
  encodedAlive(
    name: number,
    incarnation: number,
    announcement: number,
    encode: (message: PacketMessage) => Uint8Array,
    encoding: object
  ): Uint8Array {
    const record = this.records[announcement]!
    const hit = record.encoded
    if (hit !== undefined && hit.encoding === encoding && hit.name === name && hit.incarnation === incarnation) return hit.bytes
    const a = record.announcement
    const bytes = encode({
      _tag: "Alive",
      incarnation,
      node: this.names[name]!,
      addr: a.addr,
      port: a.port,
      meta: a.wire,
      vsn: a.vsn
    })
    if (this.shareEncoded) record.encoded = { encoding, name, incarnation, bytes }
    return bytes
  }

  /** One shared copy of each distinct version vector. */
  private internVsn(vsn: Uint8Array): Uint8Array {
    const key = `${vsn[0]},${vsn[1]},${vsn[2]},${vsn[3]},${vsn[4]},${vsn[5]}`
    let shared = this.vsns.get(key)
    if (shared === undefined) {
      shared = Uint8Array.from(vsn)
      if (this.vsns.size < MAX_VSNS) this.vsns.set(key, shared)
    }
    return shared
  }

  private growNames(min: number): void {
    const size = Math.max(min, Math.ceil(this.nameRefs.length * 1.5))
    const refs = new Int32Array(size)
    refs.set(this.nameRefs)
    this.nameRefs = refs
    const heads = new Int32Array(size).fill(-1)
    heads.set(this.heads)
    this.heads = heads
  }
}
