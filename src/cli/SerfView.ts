/**
 * The member list as a serf agent keeps it, on top of the engine's table:
 * serf's statuses (`alive`, `leaving`, `left`, `failed`), moved by memberlist's
 * member changes and by serf's join and leave intents, with serf's rules
 * (`handleNodeJoin`, `handleNodeLeave`, `handleNodeLeaveIntent`,
 * `handleNodeJoinIntent`, `handlePrune`): an intent only counts when its LTime
 * is newer than the member's status time; a leave intent makes an alive
 * member `leaving` and a failed one `left`; a prune erases the member.
 *
 * Members that failed or left stay listed after the engine forgets them (it
 * drops them after `gossipToTheDeadTime`), as serf keeps them for its
 * reconnect and tombstone timeouts. Plain synchronous data: the service in
 * `SerfMembers.ts` feeds it.
 */
import type { Member } from "../Member.ts"

/** A member's status as `serf members` shows it. */
export type SerfStatus = "alive" | "leaving" | "left" | "failed"

/** Every status, in serf's order. */
export const SERF_STATUSES: ReadonlyArray<SerfStatus> = ["alive", "leaving", "left", "failed"]

/** One member of the view: its last known entry in the engine's table, and its serf status. */
export interface SerfMember {
  readonly member: Member
  readonly status: SerfStatus
  /** The LTime of the last join or leave intent taken for it (0: none). */
  readonly statusLTime: number
}

/** How long departed members stay listed, and how many at most. */
export interface SerfViewLimits {
  /** A failed member is dropped this long after it failed (serf's `ReconnectTimeout`). */
  readonly reconnectTimeout: number
  /** A left member is dropped this long after it left (serf's `TombstoneTimeout`). */
  readonly tombstoneTimeout: number
  /** Failed and left members kept at most; past it the oldest departures are dropped first. */
  readonly maxDeparted: number
  /** Intents about members not known yet, kept at most (serf's recent-intent buffer). */
  readonly maxPendingIntents: number
  /** How long such an intent waits for its member (serf's `RecentIntentTimeout`). */
  readonly pendingIntentTimeout: number
}

/** serf's defaults: 24 h for both timeouts, five minutes for an early intent. */
export const DEFAULT_LIMITS: SerfViewLimits = {
  reconnectTimeout: 24 * 3600_000,
  tombstoneTimeout: 24 * 3600_000,
  maxDeparted: 4096,
  maxPendingIntents: 1024,
  pendingIntentTimeout: 5 * 60_000
}

/** What an intent did: applied, not newer than the member's status time, or kept for a member not known yet. */
export type IntentOutcome = "applied" | "old" | "pending" | "self"

interface Entry {
  member: Member
  status: SerfStatus
  statusLTime: number
  /** When it failed or left (0 while alive or leaving). */
  departedAt: number
  /** A prune arrived while it was leaving: erase it once it has left. */
  pruneWhenLeft: boolean
}

interface PendingIntent {
  readonly kind: "join" | "leave"
  readonly ltime: number
  readonly at: number
}

const departed = (status: SerfStatus) => status === "failed" || status === "left"
const inEngine = (member: Member) => member.state === "alive" || member.state === "suspect"

/** serf's member list for one agent named `self`. */
export class SerfView {
  private readonly entries = new Map<string, Entry>()
  /** Members erased (pruned, or dropped by a timeout) that the engine still lists as dead or left. */
  private readonly erased = new Set<string>()
  private readonly pending = new Map<string, PendingIntent>()
  private changeCount = 0

  readonly self: string
  readonly limits: SerfViewLimits

  constructor(self: string, limits: SerfViewLimits = DEFAULT_LIMITS) {
    this.self = self
    this.limits = limits
  }

  /** Grows whenever a member is added, erased, or changes status or address: what a snapshot records. */
  get changes(): number {
    return this.changeCount
  }

  /** The member named `name`, if listed. */
  get(name: string): SerfMember | undefined {
    const e = this.entries.get(name)
    return e === undefined ? undefined : { member: e.member, status: e.status, statusLTime: e.statusLTime }
  }

  /** Every listed member. */
  list(): ReadonlyArray<SerfMember> {
    return Array.from(this.entries.values(), (e) => ({ member: e.member, status: e.status, statusLTime: e.statusLTime }))
  }

  /**
   * Takes the engine's latest entry for a member. `joined` says the engine
   * announced it as joining (memberlist's NotifyJoin), which ends `leaving`.
   */
  observe(member: Member, now: number, joined = false): void {
    const name = member.name
    if (!inEngine(member) && this.erased.has(name)) return
    if (inEngine(member)) this.erased.delete(name)
    const entry = this.entries.get(name)
    if (entry === undefined) {
      this.add(member, now)
      return
    }
    const address = entry.member.address
    entry.member = member
    if (address !== member.address) this.changeCount++
    if (inEngine(member)) {
      if (departed(entry.status) || (joined && entry.status === "leaving")) this.setStatus(entry, "alive", now)
    } else if (member.state === "left") {
      if (entry.status !== "left") this.setStatus(entry, "left", now)
    } else if (entry.status === "alive") {
      this.setStatus(entry, "failed", now)
    } else if (entry.status === "leaving") {
      this.setStatus(entry, "left", now)
    }
    if (entry.status === "left" && entry.pruneWhenLeft) this.erase(name)
  }

  /** A serf leave intent for `node` (from the network, or this node's own force-leave). */
  leaveIntent(node: string, ltime: number, prune: boolean, now: number): IntentOutcome {
    if (node === this.self) return "self"
    const entry = this.entries.get(node)
    if (entry === undefined) return this.keepPending(node, "leave", ltime, now)
    if (ltime <= entry.statusLTime) return "old"
    entry.statusLTime = ltime
    switch (entry.status) {
      case "alive":
        this.setStatus(entry, "leaving", now)
        entry.pruneWhenLeft = prune
        break
      case "failed":
        // a forced leave: serf keeps when it failed as when it left
        entry.status = "left"
        this.changeCount++
        if (prune) this.erase(node)
        break
      case "leaving":
        if (prune) entry.pruneWhenLeft = true
        break
      case "left":
        if (prune) this.erase(node)
        break
    }
    return "applied"
  }

  /** A serf join intent for `node`: a newer one ends `leaving`. */
  joinIntent(node: string, ltime: number, now: number): IntentOutcome {
    if (node === this.self) return "self"
    const entry = this.entries.get(node)
    if (entry === undefined) return this.keepPending(node, "join", ltime, now)
    if (ltime <= entry.statusLTime) return "old"
    entry.statusLTime = ltime
    if (entry.status === "leaving") this.setStatus(entry, "alive", now)
    return "applied"
  }

  /**
   * Brings the view in line with the engine's whole table (members it never
   * announced, changes whose events were lost), then drops the departed members
   * whose timeout passed, the oldest departures past `maxDeparted`, and the
   * early intents that waited too long.
   */
  reconcile(table: ReadonlyArray<Member>, now: number): void {
    const names = new Set<string>()
    for (const member of table) {
      names.add(member.name)
      this.observe(member, now)
    }
    for (const name of this.erased) if (!names.has(name)) this.erased.delete(name)
    const gone: Array<[string, number]> = []
    for (const [name, e] of this.entries) {
      if (!departed(e.status)) continue
      const timeout = e.status === "failed" ? this.limits.reconnectTimeout : this.limits.tombstoneTimeout
      if (now - e.departedAt > timeout) this.drop(name, names)
      else gone.push([name, e.departedAt])
    }
    if (gone.length > this.limits.maxDeparted) {
      gone.sort((a, b) => a[1] - b[1])
      for (const [name] of gone.slice(0, gone.length - this.limits.maxDeparted)) this.drop(name, names)
    }
    for (const [name, intent] of this.pending) {
      if (now - intent.at > this.limits.pendingIntentTimeout) this.pending.delete(name)
    }
  }

  /** Removes a member from the view (serf's `eraseNode`); a dead entry the engine still holds stays hidden. */
  erase(name: string): void {
    if (this.entries.delete(name)) this.changeCount++
    this.erased.add(name)
  }

  private drop(name: string, inTable: ReadonlySet<string>): void {
    this.entries.delete(name)
    this.changeCount++
    if (inTable.has(name)) this.erased.add(name)
  }

  private add(member: Member, now: number): void {
    const entry: Entry = { member, status: "alive", statusLTime: 0, departedAt: 0, pruneWhenLeft: false }
    if (member.state === "dead") this.setStatus(entry, "failed", now)
    else if (member.state === "left") this.setStatus(entry, "left", now)
    const intent = this.pending.get(member.name)
    if (intent !== undefined) {
      this.pending.delete(member.name)
      entry.statusLTime = intent.ltime
      if (intent.kind === "leave" && entry.status === "alive") entry.status = "leaving"
    }
    this.entries.set(member.name, entry)
    this.changeCount++
  }

  private setStatus(entry: Entry, status: SerfStatus, now: number): void {
    entry.status = status
    entry.departedAt = departed(status) ? now : 0
    this.changeCount++
  }

  /** serf keeps one early intent per member, the newest. */
  private keepPending(node: string, kind: "join" | "leave", ltime: number, now: number): IntentOutcome {
    const known = this.pending.get(node)
    if (known !== undefined && known.ltime >= ltime) return "old"
    this.pending.delete(node)
    this.pending.set(node, { kind, ltime, at: now })
    if (this.pending.size > this.limits.maxPendingIntents) this.pending.delete(this.pending.keys().next().value!)
    return "pending"
  }
}
