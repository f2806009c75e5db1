/**
 * Dissemination: every state change and application broadcast is queued once
 * and piggybacked onto outgoing packets until it has gone out `retransmitLimit`
 * times (memberlist's transmit-limited queue); what is queued also goes out on
 * its own every gossip interval to `gossipNodes` random members. Application
 * broadcasts travel in an envelope that every receiver passes on once.
 * Plain data, no I/O.
 */
import type { GossipConfigValues } from "../Config.ts"
import { BroadcastQueue, MAX_PARTS } from "./Broadcasts.ts"
import type { Directory } from "./Directory.ts"
import { SeenBroadcasts, unwrap, wrap } from "./Envelope.ts"
import type { MemberTable } from "./MemberTable.ts"
import type { PacketMessage, UserMsg } from "./Messages.ts"
import * as Msg from "./Messages.ts"
import { WireState } from "./Messages.ts"
import type { Outbox } from "./Outputs.ts"
import type { PacketBudget } from "./PacketBudget.ts"
import { retransmitLimit } from "./Suspicion.ts"
import * as Timer from "./Timer.ts"

/** Application broadcasts remembered, to deliver and pass on each one once. */
const SEEN_CAPACITY = 8192

const NOTHING: ReadonlyArray<Uint8Array> = Object.freeze([])

export interface DisseminationContext {
  readonly config: GossipConfigValues
  readonly table: MemberTable
  readonly directory: Directory
  readonly out: Outbox
  readonly budget: PacketBudget
  readonly random: () => number
  readonly encode: (message: PacketMessage) => Uint8Array
}

export class Dissemination {
  private readonly ctx: DisseminationContext
  /** Membership changes, one per member (keyed by its name id). */
  private readonly broadcasts: BroadcastQueue
  private readonly userBroadcasts = new BroadcastQueue()
  private readonly seen = new SeenBroadcasts(SEEN_CAPACITY)
  private nextBroadcastId = 0
  private gossipArmed = false
  /** When the gossip loop ticks next, if armed (the grid is set by a random stagger at start). */
  private gossipNext: number

  constructor(ctx: DisseminationContext, firstGossip: number) {
    this.ctx = ctx
    this.gossipNext = firstGossip
    const directory = ctx.directory
    this.broadcasts = new BroadcastQueue({ retain: (id) => directory.retainId(id), release: (id) => directory.releaseName(id) })
  }

  /** Membership changes waiting to go out. */
  get queued(): number {
    return this.broadcasts.size
  }

  /** Bytes available for one gossiped message (what an application broadcast must fit in). */
  get broadcastBudget(): number {
    return this.ctx.budget.message
  }

  /**
   * Runs `f`, whose membership changes join the queue as one sorted batch when it returns (a
   * push/pull's state: see `BroadcastQueue.hold`).
   */
  batch<A>(f: () => A): A {
    this.broadcasts.hold()
    try {
      return f()
    } finally {
      this.broadcasts.settle()
    }
  }

  /** Queues a membership change about the member with name id `member`; it replaces the one queued. */
  broadcast(member: number, bytes: Uint8Array, notify: number | undefined): void {
    this.broadcasts.enqueue(bytes, member, notify)
    this.armGossip()
  }

  /**
   * Queues an application broadcast for epidemic dissemination; returns false (and queues
   * nothing) when it cannot fit in one gossip packet.
   */
  broadcastUser(origin: string, payload: Uint8Array): boolean {
    const id = this.nextBroadcastId = (this.nextBroadcastId + 1) >>> 0
    const bytes = this.ctx.encode(Msg.user(wrap(origin, id, payload)))
    if (bytes.length > this.ctx.budget.message) return false
    this.seen.add(origin, id)
    this.userBroadcasts.enqueue(bytes)
    this.armGossip()
    return true
  }

  /**
   * Queues an application message as memberlist gossips its delegate's broadcasts: no
   * envelope, delivered to the members that receive it and not passed on by us. Returns
   * false when it cannot fit in one gossip packet.
   */
  broadcastUnrelayed(payload: Uint8Array): boolean {
    const bytes = this.ctx.encode(Msg.user(payload))
    if (bytes.length > this.ctx.budget.message) return false
    this.userBroadcasts.enqueue(bytes)
    this.armGossip()
    return true
  }

  /** An application message arrived: delivered once, and passed on unless we are leaving. */
  user(from: string, message: UserMsg, leaving: boolean): void {
    const envelope = unwrap(message.payload)
    if (envelope === undefined) {
      this.ctx.out.push({ _tag: "Deliver", from, origin: undefined, payload: message.payload })
      return
    }
    if (!this.seen.add(envelope.origin, envelope.id)) return
    this.ctx.out.push({ _tag: "Deliver", from, origin: envelope.origin, payload: envelope.payload })
    // Pass it on, so that it reaches the members its origin never talks to.
    if (!leaving) {
      this.userBroadcasts.enqueue(this.ctx.encode(message))
      this.armGossip()
    }
  }

  /** The gossip timer fired: one packet to each of `gossipNodes` random members while anything is queued. */
  gossipTick(now: number): void {
    const { config, table, budget, out } = this.ctx
    const self = config.name
    const eligible = (slot: number) => {
      const state = table.state(slot)
      if (table.name(slot) === self) return false
      if (state === WireState.alive || state === WireState.suspect) return true
      return state === WireState.dead &&
        now - Math.max(table.stateChange(slot), table.contactedAt(slot)) <= config.gossipToTheDeadTime
    }
    const targets = table.randomSlots(config.gossipNodes, this.ctx.random, eligible)
    const limit = budget.compound
    for (const slot of targets) {
      const parts = this.take(limit)
      if (parts.length === 0) break
      out.push({ _tag: "SendPacket", to: table.announcement(slot).address, parts, checksum: table.pMax(slot) >= 5 })
    }
    // An idle node does not tick: the next broadcast re-arms the loop. Neither does a node with
    // nobody to gossip to (alone, or all others long dead): a member that comes (back) is news,
    // and news re-arms it.
    this.gossipArmed = false
    this.gossipNext = now + config.gossipInterval
    if (this.broadcasts.size === 0 && this.userBroadcasts.size === 0) return
    if (targets.length > 0 || this.anyEligible(eligible)) this.armGossip()
    else {
      // Those waiting on a leave or an update (the last peer left while they waited) wait for
      // nobody: memberlist would let them time out.
      this.broadcasts.releaseWaiters()
      this.userBroadcasts.releaseWaiters()
    }
  }

  /** Sends `message`, with as many queued broadcasts as fit piggybacked onto it. */
  send(to: string, message: PacketMessage): void {
    const bytes = this.ctx.encode(message)
    const extra = this.take(this.ctx.budget.after(bytes.length), 1)
    const parts = extra.length === 0 ? [bytes] : [bytes, ...extra]
    this.ctx.out.push({ _tag: "SendPacket", to, parts, checksum: false })
  }

  /** Reports the broadcasts that finished since the last call (the shell wakes their waiters). */
  drainFinished(): void {
    // called after every input: nothing allocated when nothing finished
    this.report(this.broadcasts.finished)
    this.report(this.userBroadcasts.finished)
  }

  private report(finished: Array<number>): void {
    if (finished.length === 0) return
    for (const notify of finished) this.ctx.out.push({ _tag: "BroadcastDone", notify })
    finished.length = 0
  }

  /** Drops everything queued, giving queued names back to the directory. */
  release(): void {
    this.broadcasts.clear()
    this.userBroadcasts.clear()
  }

  /** Bytes the membership queue's columns hold (the encoded messages not counted). */
  get footprint(): number {
    return this.broadcasts.footprint
  }

  /** Broadcasts for one packet of `limit` bytes; `reserved` parts of the compound are already taken. */
  private take(limit: number, reserved = 0): ReadonlyArray<Uint8Array> {
    // every ping and ack asks: nothing made when nothing is queued
    if (this.broadcasts.size === 0 && this.userBroadcasts.size === 0) return NOTHING
    const overhead = this.ctx.budget.partOverhead
    const transmitLimit = retransmitLimit(this.ctx.config.retransmitMult, this.ctx.table.size)
    const parts = this.broadcasts.take(overhead, limit, transmitLimit, MAX_PARTS - reserved)
    if (this.userBroadcasts.size > 0) {
      let used = 0
      for (const p of parts) used += p.length + overhead
      if (limit - used > overhead) {
        parts.push(...this.userBroadcasts.take(overhead, limit - used, transmitLimit, MAX_PARTS - reserved - parts.length))
      }
    }
    return parts
  }

  /** A member became a gossip target again without news (a dead one seen alive elsewhere): resume. */
  targetsChanged(): void {
    if (this.broadcasts.size > 0 || this.userBroadcasts.size > 0) this.armGossip()
  }

  /** Whether any slot passes `eligible` (the random draw can miss one that does). */
  private anyEligible(eligible: (slot: number) => boolean): boolean {
    for (let slot = 0; slot < this.ctx.table.size; slot++) if (eligible(slot)) return true
    return false
  }

  /** Runs the gossip loop at its next tick (or at once, when that tick is past). */
  private armGossip(): void {
    if (this.gossipArmed || this.ctx.config.gossipNodes === 0) return
    this.gossipArmed = true
    this.ctx.out.setTimer(Timer.gossipTick, this.gossipNext)
  }
}
