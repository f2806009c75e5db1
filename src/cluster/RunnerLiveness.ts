/**
 * Which cluster runners the member table vouches for. Plain TypeScript: it is
 * fed each new member table and answers lookups from a set, so a health check
 * costs one map lookup however large the cluster is.
 */
import type { Member } from "../Member.ts"

/** What the member table says about a runner address. */
export type RunnerStatus =
  /** A member carrying it is alive or suspect. */
  | "alive"
  /** It was seen, and no member carrying it is alive or suspect now (dead, left, reaped, or moved away). */
  | "down"
  /** No member has carried it since this table started. */
  | "unknown"

/** A runner's address: a `RunnerAddress`, or anything with its `host` and `port`. */
type HostPort = { readonly host: string; readonly port: number }

/** Picks the runner address a member announces; `undefined` when it runs none. */
export type RunnerOf = (member: Member) => HostPort | undefined

const keyOf = (address: HostPort) => `${address.host}:${address.port}`

/** How many addresses seen going down are remembered (oldest forgotten first). */
const defaultRemembered = 4096

/** The runner addresses a member table vouches for, and those it has seen go down. */
export class RunnerLiveness {
  private readonly runnerOf: RunnerOf
  private readonly remembered: number
  /** Selector results per member snapshot: an unchanged member is not decoded again. */
  private readonly cache = new WeakMap<Member, string | undefined>()
  private live = new Set<string>()
  /** Insertion-ordered, so the oldest entry is the first to forget. */
  private readonly down = new Map<string, true>()

  /** `remembered`: how many downed addresses to keep (a bound on memory under churn). */
  constructor(runnerOf: RunnerOf, remembered = defaultRemembered) {
    this.runnerOf = runnerOf
    this.remembered = remembered
  }

  /** Takes in the whole member table, as `Membership.members` publishes it. */
  update(members: ReadonlyArray<Member>): void {
    const next = new Set<string>()
    const carried: Array<string> = []
    for (const member of members) {
      const key = this.addressOf(member)
      if (key === undefined) continue
      if (member.state === "alive" || member.state === "suspect") next.add(key)
      else carried.push(key)
    }
    for (const key of carried) if (!next.has(key)) this.markDown(key)
    for (const key of this.live) if (!next.has(key)) this.markDown(key)
    for (const key of next) this.down.delete(key)
    this.live = next
  }

  /** What the tables so far say about `address`. */
  status(address: HostPort): RunnerStatus {
    const key = keyOf(address)
    return this.live.has(key) ? "alive" : this.down.has(key) ? "down" : "unknown"
  }

  /**
   * Alive or suspect: healthy; a suspicion is not a verdict, and moving shards on one
   * would bounce them on every lost packet. Down: not healthy, so a crashed runner's
   * shards move as soon as gossip declares it dead. Unknown: healthy. A runner
   * registers itself in `RunnerStorage` as it starts, possibly before its member's
   * alive message has reached this node; answering false would evict it while gossip
   * converges. A runner this node never saw alive is left to `RunnerStorage` (SQL
   * storage drops runners whose heartbeats stop).
   */
  isAlive(address: HostPort): boolean {
    return this.status(address) !== "down"
  }

  private addressOf(member: Member): string | undefined {
    if (this.cache.has(member)) return this.cache.get(member)
    let key: string | undefined
    try {
      const address = this.runnerOf(member)
      key = address === undefined ? undefined : keyOf(address)
    } catch {
      // Metadata is untrusted bytes: a selector that throws on them names no runner.
      key = undefined
    }
    this.cache.set(member, key)
    return key
  }

  private markDown(key: string): void {
    this.down.delete(key)
    this.down.set(key, true)
    if (this.down.size > this.remembered) this.down.delete(this.down.keys().next().value!)
  }
}
