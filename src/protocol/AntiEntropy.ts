/**
 * Anti-entropy: every push/pull interval (scaled with the cluster, as
 * memberlist scales it) a full state exchange with one random live member; and,
 * as serf does, an occasional exchange with a member that failed, so that the
 * two sides of a healed partition find each other again long after they
 * stopped gossiping to the dead. The exchanges themselves run in the shell.
 * Plain data, no I/O.
 */
import type { GossipConfigValues } from "../Config.ts"
import type { MemberTable } from "./MemberTable.ts"
import { WireState } from "./Messages.ts"
import type { Outbox } from "./Outputs.ts"

export interface AntiEntropyContext {
  readonly config: GossipConfigValues
  readonly table: MemberTable
  readonly out: Outbox
  readonly random: () => number
}

export class AntiEntropy {
  private readonly ctx: AntiEntropyContext
  /** Members that failed (not left), kept for reconnection after they are reaped. */
  private readonly failed = new Map<string, { readonly address: string; readonly failedAt: number }>()

  constructor(ctx: AntiEntropyContext) {
    this.ctx = ctx
  }

  /** Push/pull with one random live member. */
  pushPull(): void {
    const { table, config } = this.ctx
    const [slot] = table.randomSlots(1, this.ctx.random, (s) => table.state(s) === WireState.alive && table.name(s) !== config.name)
    if (slot !== undefined) {
      this.ctx.out.push({ _tag: "StartPushPull", to: table.announcement(slot).address, node: table.name(slot), join: false })
    }
  }

  /**
   * Tries a push/pull with one random failed member. The more failed members relative to
   * live ones, the likelier an attempt.
   */
  reconnect(now: number, liveMembers: number): void {
    for (const [name, f] of this.failed) {
      if (now - f.failedAt > this.ctx.config.reconnectTimeout) this.failed.delete(name)
    }
    if (this.failed.size === 0) return
    const live = Math.max(1, liveMembers - 1)
    if (this.ctx.random() > this.failed.size / live) return
    const index = Math.floor(this.ctx.random() * this.failed.size)
    let i = 0
    for (const [name, f] of this.failed) {
      if (i++ === index) {
        this.ctx.out.push({ _tag: "StartPushPull", to: f.address, node: name, join: true })
        return
      }
    }
  }

  noteFailed(name: string, address: string, now: number): void {
    this.failed.set(name, { address, failedAt: now })
  }

  /** `name` is alive again: no reconnection needed. */
  forget(name: string): void {
    this.failed.delete(name)
  }
}
