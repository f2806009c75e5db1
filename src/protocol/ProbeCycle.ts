/**
 * The probe cycle (SWIM's failure detector, as memberlist runs it): every probe
 * interval, ping the next member in a shuffled round; without an ack within
 * the probe timeout, ask `indirectChecks` others to ping it (they nack when
 * they cannot reach it) and try a TCP ping; without any answer by the deadline,
 * suspect it. Also the helper side: relaying indirect pings for others.
 * Lifeguard's local health (`Awareness`) stretches the deadline. Plain data,
 * no I/O: packets and timers leave through the `Outbox`.
 */
import type { GossipConfigValues } from "../Config.ts"
import type { Member } from "../Member.ts"
import { addressOf } from "../Address.ts"
import { Awareness } from "./Awareness.ts"
import type { MemberTable } from "./MemberTable.ts"
import type { IndirectPing, PacketMessage, Ping } from "./Messages.ts"
import * as Msg from "./Messages.ts"
import { WireState } from "./Messages.ts"
import type { Outbox } from "./Outputs.ts"
import type { Counters } from "./Stats.ts"
import type { ProbeTimeout, RelayTimeout } from "./Timer.ts"

/** Where a reply goes: the source a ping names, or else the address it came from. */
export const replyAddress = (from: string, sourceAddr: Uint8Array | null, sourcePort: number): string =>
  sourceAddr !== null && sourceAddr.length > 0 && sourcePort > 0 ? addressOf(sourceAddr, sourcePort) : from

/** What the probe cycle needs from the rest of the core. */
export interface ProbeContext {
  readonly config: GossipConfigValues
  readonly table: MemberTable
  readonly out: Outbox
  readonly counters: Counters
  readonly random: () => number
  readonly encode: (message: PacketMessage) => Uint8Array
  /** Our name, advertised address and port, as pings carry them. */
  readonly self: { readonly name: string; readonly addr: Uint8Array; readonly port: number }
  /** Sends `message` to `to` with as much queued gossip piggybacked as fits. */
  readonly send: (to: string, message: PacketMessage) => void
  /** A probe failed: suspect `member` at the incarnation it had when the probe started. */
  readonly suspect: (member: string, incarnation: number, now: number) => void
  /** A dead or left member was dropped from the table at the end of a round. */
  readonly reaped: (member: Member) => void
}

interface Probe {
  readonly seqNo: number
  readonly node: string
  readonly address: string
  /** The target's incarnation when the probe started: a failed probe suspects exactly that. */
  readonly incarnation: number
  readonly deadline: number
  phase: "direct" | "indirect" | "fallback"
  expectedNacks: number
  nacks: number
  tcp: "none" | "pending" | "ok" | "failed"
  /** The armed timer, if any: none once the deadline passed while the TCP ping is out. */
  timer: ProbeTimeout | undefined
}

/** An ack we wait for on behalf of another member's indirect probe. */
interface Relay {
  readonly seqNo: number
  readonly replyTo: string
  readonly nack: boolean
  readonly timer: RelayTimeout
}

export class ProbeCycle {
  readonly awareness: Awareness
  private readonly ctx: ProbeContext
  private probeIndex = 0
  private seqNo = 0
  private probe: Probe | undefined = undefined
  private tickPending = false
  /** Our sequence numbers of the indirect pings we relay. */
  private readonly relays = new Map<number, Relay>()

  constructor(ctx: ProbeContext) {
    this.ctx = ctx
    this.awareness = new Awareness(ctx.config.awarenessMaxMultiplier, ctx.config.awareness)
  }

  /** The probe's armed timer, for drivers that fire timers by hand (tests, benchmarks). */
  get armedTimer(): ProbeTimeout | undefined {
    return this.probe?.timer
  }

  /** The sequence number of the running probe. */
  get runningSeqNo(): number | undefined {
    return this.probe?.seqNo
  }

  tick(now: number): void {
    if (this.probe !== undefined) {
      // Like a Go ticker with a one-slot channel: one tick waits for the running probe.
      this.tickPending = true
      return
    }
    this.start(now)
  }

  timeout(timer: ProbeTimeout, now: number): void {
    const p = this.probe
    if (p === undefined || p.timer !== timer) return
    p.timer = undefined
    if (p.phase === "direct") {
      p.phase = "indirect"
      this.indirect(p)
      if (now >= p.deadline) this.deadline(p, now)
      else this.arm(p, p.deadline)
      return
    }
    this.deadline(p, now)
  }

  /** Outcome of the probe's TCP ping. */
  tcpResult(seqNo: number, ok: boolean, now: number): void {
    const p = this.probe
    if (p === undefined || p.seqNo !== seqNo || p.tcp !== "pending") return
    p.tcp = ok ? "ok" : "failed"
    if (p.phase === "fallback") this.finish(now)
  }

  ping(from: string, p: Ping): void {
    // A ping for someone else (a stale address after a restart) must not be answered.
    if (p.node !== "" && p.node !== this.ctx.self.name) return
    this.ctx.send(replyAddress(from, p.sourceAddr, p.sourcePort), Msg.ack(p.seqNo, null))
  }

  indirectPing(from: string, ind: IndirectPing, now: number): void {
    const seqNo = this.nextSeqNo()
    const timer: RelayTimeout = { _tag: "RelayTimeout", seqNo, token: this.ctx.out.token() }
    this.relays.set(seqNo, { seqNo: ind.seqNo, replyTo: replyAddress(from, ind.sourceAddr, ind.sourcePort), nack: ind.nack, timer })
    this.ctx.out.setTimer(timer, now + this.ctx.config.probeTimeout)
    this.ctx.send(addressOf(ind.target, ind.port), this.pingFor(seqNo, ind.node))
  }

  ack(seqNo: number, now: number): void {
    const relay = this.relays.get(seqNo)
    if (relay !== undefined) {
      this.relays.delete(seqNo)
      this.ctx.out.cancelTimer(relay.timer)
      this.ctx.send(relay.replyTo, Msg.ack(relay.seqNo, null))
      return
    }
    const p = this.probe
    // Once the deadline passed, a late ack no longer counts (the TCP ping may still).
    if (p !== undefined && p.seqNo === seqNo && p.phase !== "fallback") this.succeeded(now)
  }

  nack(seqNo: number): void {
    const p = this.probe
    if (p !== undefined && p.seqNo === seqNo && p.phase !== "fallback") p.nacks++
  }

  relayExpired(timer: RelayTimeout): void {
    const relay = this.relays.get(timer.seqNo)
    if (relay === undefined || relay.timer !== timer) return
    this.relays.delete(timer.seqNo)
    if (relay.nack) this.ctx.send(relay.replyTo, Msg.nack(relay.seqNo))
  }

  private start(now: number): void {
    const { config, table, out } = this.ctx
    const target = this.nextTarget(now)
    if (target < 0) return
    this.ctx.counters.probes++
    const seqNo = this.nextSeqNo()
    const interval = this.awareness.scaleTimeout(config.probeInterval)
    const name = table.name(target)
    const address = table.announcement(target).address
    const incarnation = table.incarnation(target)
    const p: Probe = {
      seqNo,
      node: name,
      address,
      incarnation,
      deadline: now + interval,
      phase: "direct",
      expectedNacks: 0,
      nacks: 0,
      tcp: "none",
      timer: undefined
    }
    this.probe = p
    const ping = this.pingFor(seqNo, name)
    if (table.state(target) === WireState.alive) {
      this.ctx.send(address, ping)
    } else {
      // Buddy system: tell the suspect itself, so it can refute without waiting for gossip.
      const parts = [this.ctx.encode(ping), this.ctx.encode(Msg.suspect(incarnation, name, this.ctx.self.name))]
      out.push({ _tag: "SendPacket", to: address, parts, checksum: table.pMax(target) >= 5 })
    }
    this.arm(p, now + Math.min(config.probeTimeout, interval))
  }

  private arm(p: Probe, at: number): void {
    p.timer = { _tag: "ProbeTimeout", seqNo: p.seqNo, token: this.ctx.out.token() }
    this.ctx.out.setTimer(p.timer, at)
  }

  /**
   * Round-robin over the shuffled table, skipping ourselves and the dead; reshuffles at each
   * wrap. Unlike memberlist, which gives up after n checks, one wrap plus a full pass always
   * finds a probe-able member when there is one, so no probe tick is wasted.
   */
  private nextTarget(now: number): number {
    const table = this.ctx.table
    const self = this.ctx.self.name
    for (let checked = 0; checked <= 2 * table.size; checked++) {
      if (this.probeIndex >= table.size) {
        this.resetRound(now)
        this.probeIndex = 0
        continue
      }
      const slot = this.probeIndex++
      if (!table.deadOrLeft(slot) && table.name(slot) !== self) return slot
    }
    return -1
  }

  /** Drops dead and left entries older than `gossipToTheDeadTime`, then reshuffles. */
  private resetRound(now: number): void {
    const { table, config } = this.ctx
    const self = this.ctx.self.name
    table.reap(
      (slot) => table.deadOrLeft(slot) && now - table.stateChange(slot) > config.gossipToTheDeadTime && table.name(slot) !== self,
      this.ctx.reaped
    )
    table.shuffle(this.ctx.random)
  }

  private indirect(p: Probe): void {
    const { table, config, self } = this.ctx
    const target = table.slotOf(p.node)
    const helpers = table.randomSlots(
      config.indirectChecks,
      this.ctx.random,
      (slot) => table.state(slot) === WireState.alive && table.name(slot) !== self.name && table.name(slot) !== p.node
    )
    if (target < 0) return
    const announced = table.announcement(target)
    for (const helper of helpers) {
      const nack = table.pMax(helper) >= 4
      if (nack) p.expectedNacks++
      const req: IndirectPing = {
        _tag: "IndirectPing",
        seqNo: p.seqNo,
        target: announced.addr,
        port: announced.port,
        node: p.node,
        nack,
        sourceAddr: self.addr,
        sourceNode: self.name,
        sourcePort: self.port
      }
      this.ctx.send(table.announcement(helper).address, req)
    }
    if (!config.disableTcpPings && announced.vsn[1]! >= 3) {
      p.tcp = "pending"
      this.ctx.out.push({ _tag: "TcpPing", seqNo: p.seqNo, to: p.address, node: p.node, deadline: p.deadline })
    }
  }

  private deadline(p: Probe, now: number): void {
    p.phase = "fallback"
    // The fallback stream ping reports by the same deadline; wait for it if it is still out.
    if (p.tcp !== "pending") this.finish(now)
  }

  private finish(now: number): void {
    const p = this.probe!
    this.probe = undefined
    if (p.timer !== undefined) this.ctx.out.cancelTimer(p.timer)
    if (p.tcp === "ok") {
      this.awareness.applyDelta(-1)
    } else {
      this.ctx.counters.probeFailures++
      // Missing nacks mean the helpers could not talk to us either: likely our own fault.
      this.awareness.applyDelta(p.expectedNacks > 0 ? p.expectedNacks - p.nacks : 1)
      this.ctx.suspect(p.node, p.incarnation, now)
    }
    this.next(now)
  }

  private succeeded(now: number): void {
    const p = this.probe!
    this.probe = undefined
    if (p.timer !== undefined) this.ctx.out.cancelTimer(p.timer)
    this.awareness.applyDelta(-1)
    this.next(now)
  }

  private next(now: number): void {
    if (this.tickPending) {
      this.tickPending = false
      this.start(now)
    }
  }

  private pingFor(seqNo: number, node: string): Ping {
    const { name, addr, port } = this.ctx.self
    return Msg.ping(seqNo, node, addr, name, port)
  }

  private nextSeqNo(): number {
    this.seqNo = (this.seqNo + 1) >>> 0
    return this.seqNo
  }
}
