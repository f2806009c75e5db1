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
import { addressOf, formatIp, ipv4Of } from "../Address.ts"
import type { Application } from "./Application.ts"
import { splitMeta } from "./Application.ts"
import { grownColumn, int32Column } from "./Columns.ts"
import type { Alive, PacketMessage, PushNodeState, PushPull, WireState } from "./Messages.ts"
import type { Digested, StateDigest } from "./StateDigest.ts"
import { ANNOUNCEMENT, GENERATION, INCARNATION, NAME, STATE, WORDS } from "./StateDigest.ts"

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

/**
 * A record's row in `Directory.rows`: what a hit needs side by side, so that finding an
 * announcement already interned reads the name's chain head and one row per candidate.
 */
const ROW = 4
/** Port (16 bits), `V4`, the metadata's kind (2 bits) and the version vector's index (7 bits). */
const KEY = 0
/** The IPv4 address as an int32 (with `V4` in the key). */
const IPV4 = 1
/** The next record interned for the same name, or -1. */
const NEXT = 2
const REFS = 3

const V4 = 1 << 16
const WIRE_SHIFT = 17
const WIRE_NULL = 0
const WIRE_EMPTY = 1
const WIRE_BYTES = 2
const VSN_SHIFT = 19
/** The version vector index of one not among the shared ones: compared byte by byte. */
const VSN_OTHER = 127

const wireKind = (wire: Uint8Array | null): number =>
  wire === null ? WIRE_NULL : wire.length === 0 ? WIRE_EMPTY : WIRE_BYTES

const sameBytes = (a: Uint8Array | null, b: Uint8Array | null): boolean => {
  if (a === b) return true
  if (a === null || b === null || a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * A message a directory built from what it interned, carrying the ids of the name and the
 * announcement. Nodes that share the directory and read each other's messages (a simulated
 * network, see `InMemory.ts`) then find the member and compare its address by id: a cluster of
 * ten thousand hears each alive thousands of times and merges states of ten thousand entries,
 * and hashing the name and reading the address bytes were cache misses every time. The ids
 * are private fields, so an encoder (or `JSON.stringify`) sees exactly the message.
 */
class Interned {
  readonly #directory: Directory
  readonly #nameId: number
  readonly #name: string
  readonly #announcementId: number
  /** The announcement as interned when this was built: a reused id holds another object. */
  readonly #record: Announcement

  constructor(directory: Directory, nameId: number, announcementId: number) {
    this.#directory = directory
    this.#nameId = nameId
    this.#name = directory.name(nameId)
    this.#announcementId = announcementId
    this.#record = directory.announcement(announcementId)
  }

  /**
   * The announcement id of `message` when `directory` built it and that announcement and its
   * name are still interned as they were then; else -1.
   */
  static announcementIn(message: object, directory: Directory): number {
    if (!(message instanceof Interned) || message.#directory !== directory) return -1
    const id = message.#announcementId
    return directory.announcement(id) === message.#record && directory.name(message.#nameId) === message.#name ? id : -1
  }
}

/** An alive built by `Directory.encodedAlive`. */
class InternedAlive extends Interned implements Alive {
  readonly _tag = "Alive" as const
  readonly incarnation: number
  readonly node: string
  readonly addr: Uint8Array
  readonly port: number
  readonly meta: Uint8Array | null
  readonly vsn: Uint8Array

  constructor(directory: Directory, nameId: number, announcementId: number, incarnation: number) {
    super(directory, nameId, announcementId)
    const record = directory.announcement(announcementId)
    this.incarnation = incarnation
    this.node = directory.name(nameId)
    this.addr = record.addr
    this.port = record.port
    this.meta = record.wire
    this.vsn = record.vsn
  }
}

/** A push/pull entry built by `Directory.pushNode`. */
class InternedPushNode extends Interned implements PushNodeState {
  readonly name: string
  readonly addr: Uint8Array
  readonly port: number
  readonly meta: Uint8Array | null
  readonly incarnation: number
  readonly state: WireState
  readonly vsn: Uint8Array

  constructor(directory: Directory, nameId: number, announcementId: number, incarnation: number, state: WireState) {
    super(directory, nameId, announcementId)
    const record = directory.announcement(announcementId)
    this.name = directory.name(nameId)
    this.addr = record.addr
    this.port = record.port
    this.meta = record.wire
    this.incarnation = incarnation
    this.state = state
    this.vsn = record.vsn
  }
}

/** A state built by `Directory.pushPull`: its entries, and their ids in a digest. */
class InternedPushPull implements PushPull, Digested {
  readonly _tag = "PushPull" as const
  readonly join: boolean
  readonly nodes: ReadonlyArray<PushNodeState>
  readonly userState: Uint8Array
  readonly #directory: Directory
  readonly #digest: Uint32Array

  constructor(directory: Directory, join: boolean, nodes: ReadonlyArray<PushNodeState>, digest: Uint32Array) {
    this.join = join
    this.nodes = nodes
    this.userState = EMPTY
    this.#directory = directory
    this.#digest = digest
  }

  stateDigest(): StateDigest {
    return { directory: this.#directory, words: this.#digest }
  }
}

const EMPTY = new Uint8Array(0)
/** Distinct version vectors kept for sharing (a cluster has a handful; forged ones are not kept). */
const MAX_VSNS = 64

export class Directory {
  private readonly nameIds = new Map<string, number>()
  private readonly names: Array<string> = []
  private nameRefs = int32Column(64)
  /**
   * The announcements of each name, as a chain through `Record.next`, the one interned last
   * first: a name has one announcement, or a few while a change spreads, so finding one is a
   * byte comparison or two, with no key to build.
   */
  private heads = int32Column(64).fill(-1)
  private readonly freeNames: Array<number> = []

  private readonly announcements: Array<Announcement | undefined> = []
  private readonly encoded: Array<Encoded | undefined> = []
  /** Per record, its last push/pull entry (with `shareEncoded`). */
  private readonly pushNodes: Array<PushNodeState | undefined> = []
  /** Per record: `ROW` words (see `KEY`…`REFS`). */
  private rows = int32Column(64 * ROW)
  /** Per record: the name id it was interned for. */
  private recordNames = int32Column(64)
  /** Per record id: bumped each time the record is forgotten, so that a digest made before can tell. */
  private generations = int32Column(64)
  private readonly freeRecords: Array<number> = []
  private recordCount = 0
  /** The shared version vectors; a record keeps the index of its own. */
  private readonly vsnList: Array<Uint8Array> = []
  /** The version vector looked up last, and its index: the codec hands out the same array again and again. */
  private lastVsn: Uint8Array | undefined = undefined
  private lastVsnIndex = 0
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
    return this.announcements[id]!
  }

  /**
   * The version vector of announcement `id`, the very array `announcement(id).vsn` holds; a
   * shared one is found from the record's row, without reading the announcement.
   */
  vsnOf(id: number): Uint8Array {
    const index = this.rows[id * ROW + KEY]! >>> VSN_SHIFT
    return index === VSN_OTHER ? this.announcements[id]!.vsn : this.vsnList[index]!
  }

  /**
   * The id of what `alive` announces, interned if new, with one reference for the caller.
   * `name` is the id of `alive.node`, used to find the previous announcement quickly.
   */
  retainAnnouncement(name: number, alive: Alive): number {
    const vsnIndex = this.vsnIndex(alive.vsn!)
    const v4 = alive.addr.length === 4
    const key = alive.port | (v4 ? V4 : 0) | (wireKind(alive.meta) << WIRE_SHIFT) | (vsnIndex << VSN_SHIFT)
    const ipv4 = v4 ? ipv4Of(alive.addr) : 0
    const rows = this.rows
    let previous = -1
    let id = this.heads[name]!
    while (id >= 0) {
      const row = id * ROW
      if (rows[row + KEY] === key && rows[row + IPV4] === ipv4 && this.sameRest(id, key, alive)) break
      previous = id
      id = rows[row + NEXT]!
    }
    if (id < 0) {
      id = this.intern(name, alive, key, ipv4, vsnIndex)
    } else if (previous >= 0) {
      // to the front: the announcement interned last is the one asked for next
      this.rows[previous * ROW + NEXT] = this.rows[id * ROW + NEXT]!
      this.rows[id * ROW + NEXT] = this.heads[name]!
      this.heads[name] = id
    }
    this.rows[id * ROW + REFS]!++
    return id
  }

  /**
   * The announcement id of an alive or push/pull entry this directory built, while its
   * announcement and name are still interned as they were when it was built; else -1.
   */
  announcementOf(message: Alive | PushNodeState): number {
    return Interned.announcementIn(message, this)
  }

  /** The id of the name announcement `id` was interned for. */
  nameOfAnnouncement(id: number): number {
    return this.recordNames[id]!
  }

  /** Announcement `id`'s port, with bit 16 set when its address is IPv4. */
  addressWord(id: number): number {
    return this.rows[id * ROW + KEY]! & (V4 | 0xffff)
  }

  /** Announcement `id`'s IPv4 address as an int32 (0 when it is not IPv4). */
  ipv4(id: number): number {
    return this.rows[id * ROW + IPV4]!
  }

  retainAnnouncementId(id: number): void {
    this.rows[id * ROW + REFS]!++
  }

  releaseAnnouncement(id: number): void {
    const rows = this.rows
    if (--rows[id * ROW + REFS]! > 0) return
    // unlink it from its name's chain
    const name = this.recordNames[id]!
    const next = rows[id * ROW + NEXT]!
    if (this.heads[name] === id) {
      this.heads[name] = next
    } else {
      let at = this.heads[name]!
      while (rows[at * ROW + NEXT] !== id) at = rows[at * ROW + NEXT]!
      rows[at * ROW + NEXT] = next
    }
    this.announcements[id] = undefined
    this.encoded[id] = undefined
    this.pushNodes[id] = undefined
    this.generations[id] = this.generations[id]! + 1
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
    const hit = this.encoded[announcement]
    if (hit !== undefined && hit.encoding === encoding && hit.name === name && hit.incarnation === incarnation) return hit.bytes
    const bytes = encode(new InternedAlive(this, name, announcement, incarnation))
    if (this.shareEncoded) this.encoded[announcement] = { encoding, name, incarnation, bytes }
    return bytes
  }

  /**
   * The push/pull entry of `name` at `incarnation` in `state`, announcing `announcement`: with
   * `shareEncoded`, made once and shared by every node whose state lists it so.
   */
  pushNode(name: number, announcement: number, incarnation: number, state: WireState): PushNodeState {
    if (!this.shareEncoded) return new InternedPushNode(this, name, announcement, incarnation, state)
    const hit = this.pushNodes[announcement]
    if (hit !== undefined && hit.incarnation === incarnation && hit.state === state && hit.name === this.names[name]) {
      return hit
    }
    const made = new InternedPushNode(this, name, announcement, incarnation, state)
    this.pushNodes[announcement] = made
    return made
  }

  /**
   * A push/pull state from `digest`, which holds the name, announcement, incarnation and state
   * of each entry (see `StateDigest.ts`; this fills in the generations).
   */
  pushPull(join: boolean, digest: Uint32Array): PushPull {
    const count = digest.length / WORDS
    const nodes = new Array<PushNodeState>(count)
    for (let i = 0, at = 0; i < count; i++, at += WORDS) {
      const announcement = digest[at + ANNOUNCEMENT]!
      digest[at + GENERATION] = this.generations[announcement]!
      nodes[i] = this.pushNode(digest[at + NAME]!, announcement, digest[at + INCARNATION]!, digest[at + STATE] as WireState)
    }
    return new InternedPushPull(this, join, nodes, digest)
  }

  /**
   * The announcement id of entry `i` of `digest` while that announcement is still interned as it
   * was when the digest was made (its name id then holds too: a table holds both), else -1.
   */
  vouched(digest: Uint32Array, i: number): number {
    const at = i * WORDS
    const id = digest[at + ANNOUNCEMENT]!
    return this.generations[id] === digest[at + GENERATION] ? id : -1
  }

  /** The index of `vsn` among the shared version vectors, shared from now on if new and there is room. */
  private vsnIndex(vsn: Uint8Array): number {
    // the same array as last time, still holding the same bytes (an array is not ours to trust)
    const last = this.lastVsnIndex
    if (vsn === this.lastVsn && sameBytes(this.vsnList[last]!, vsn)) return last
    let index = VSN_OTHER
    for (let i = 0; i < this.vsnList.length; i++) {
      if (sameBytes(this.vsnList[i]!, vsn)) {
        index = i
        break
      }
    }
    if (index === VSN_OTHER && this.vsnList.length < MAX_VSNS) {
      index = this.vsnList.length
      this.vsnList.push(Uint8Array.from(vsn))
    }
    if (index !== VSN_OTHER) {
      this.lastVsn = vsn
      this.lastVsnIndex = index
    }
    return index
  }

  /** What the key and IPv4 words of a row do not settle: other addresses, metadata bytes, unshared versions. */
  private sameRest(id: number, key: number, alive: Alive): boolean {
    if ((key & V4) !== 0 && ((key >>> WIRE_SHIFT) & 3) !== WIRE_BYTES && (key >>> VSN_SHIFT) !== VSN_OTHER) return true
    const a = this.announcements[id]!
    return sameBytes(a.addr, alive.addr) && sameBytes(a.wire, alive.meta) && sameBytes(a.vsn, alive.vsn)
  }

  /** A new record for what `alive` announces, at the head of its name's chain. */
  private intern(name: number, alive: Alive, key: number, ipv4: number, vsnIndex: number): number {
    const id = this.freeRecords.pop() ?? this.announcements.length
    if (id === this.announcements.length) {
      this.announcements.push(undefined)
      this.encoded.push(undefined)
      this.pushNodes.push(undefined)
      if (id >= this.recordNames.length) this.growRecords(id + 1)
    }
    // Copies: the message's fields may be views into a whole datagram. Empty metadata and
    // version vectors (a handful of distinct ones per cluster) are shared.
    const addr = Uint8Array.from(alive.addr)
    const wire = alive.meta === null ? null : alive.meta.length === 0 ? EMPTY : Uint8Array.from(alive.meta)
    const { application, meta } = splitMeta(wire)
    this.announcements[id] = {
      addr,
      port: alive.port,
      address: addressOf(addr, alive.port),
      host: formatIp(addr),
      wire,
      meta,
      application,
      vsn: vsnIndex === VSN_OTHER ? Uint8Array.from(alive.vsn!) : this.vsnList[vsnIndex]!
    }
    this.encoded[id] = undefined
    this.pushNodes[id] = undefined
    const row = id * ROW
    this.rows[row + KEY] = key
    this.rows[row + IPV4] = ipv4
    this.rows[row + NEXT] = this.heads[name]!
    this.rows[row + REFS] = 0
    this.recordNames[id] = name
    this.heads[name] = id
    this.recordCount++
    return id
  }

  private growRecords(min: number): void {
    const size = Math.max(min, Math.ceil(this.recordNames.length * 1.5))
    this.rows = grownColumn(this.rows, size * ROW)
    this.recordNames = grownColumn(this.recordNames, size)
    this.generations = grownColumn(this.generations, size)
  }

  private growNames(min: number): void {
    const size = Math.max(min, Math.ceil(this.nameRefs.length * 1.5))
    this.nameRefs = grownColumn(this.nameRefs, size)
    this.heads = grownColumn(this.heads, size, -1)
  }
}
