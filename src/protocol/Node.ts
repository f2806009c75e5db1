/**
 * The protocol core of one node: SWIM with Lifeguard, as memberlist implements
 * it. Deterministic and effect-free: every method takes the current Clock time,
 * draws randomness only from the injected source, mutates the state it owns and
 * appends `Output`s for the shell to carry out. One fiber (the node's actor)
 * owns an instance, so there is no locking.
 *
 * This file dispatches inputs and holds the merge rules (alive, suspect, dead,
 * refutation, suspicion timeouts). The member table, the probe cycle,
 * dissemination, anti-entropy and version checks are parts of their own.
 */
import { bytesEqual } from "../Address.ts"
import type { GossipConfigValues } from "../Config.ts"
import type { Member } from "../Member.ts"
import type { MemberEvent } from "../MemberEvent.ts"
import { AntiEntropy } from "./AntiEntropy.ts"
import { encodeApplication, joinMeta } from "./Application.ts"
import { uint32Column } from "./Columns.ts"
import { Directory } from "./Directory.ts"
import { Dissemination } from "./Dissemination.ts"
import { MemberTable } from "./MemberTable.ts"
import type { Alive, Dead, PacketMessage, PushNodeState, PushPull, Suspect } from "./Messages.ts"
import * as Msg from "./Messages.ts"
import { WireState } from "./Messages.ts"
import type { Output } from "./Outputs.ts"
import { Outbox } from "./Outputs.ts"
import type { PacketLayout } from "./PacketBudget.ts"
import { PacketBudget } from "./PacketBudget.ts"
import { ProbeCycle } from "./ProbeCycle.ts"
import { RemoteState } from "./RemoteState.ts"
import { ANNOUNCEMENT, INCARNATION, NAME, STATE, WORDS } from "./StateDigest.ts"
import type { CoreStats } from "./Stats.ts"
import { zeroCounters } from "./Stats.ts"
import { pushPullScale, Suspicion, suspicionTimeout } from "./Suspicion.ts"
import type { SuspicionTimeout, Timer } from "./Timer.ts"
import * as Timers from "./Timer.ts"
import type { StateRefusal } from "./Versions.ts"
import { validVsn, Versions } from "./Versions.ts"

export type { CoreStats } from "./Stats.ts"
export type { StateRefusal } from "./Versions.ts"
export { PROTOCOL_MAX, PROTOCOL_MIN } from "./Versions.ts"

/** What the core needs from its surroundings; all of it plain values and functions. */
export interface CoreEnv extends PacketLayout {
  readonly config: GossipConfigValues
  /** Encodes one message; the bytes are what broadcast queues keep and resend. */
  readonly encode: (message: PacketMessage) => Uint8Array
  /** This node's advertised address. */
  readonly addr: Uint8Array
  readonly port: number
  /** Uniform in [0, 1): the only source of randomness. */
  readonly random: () => number
  /** Where names, addresses and metadata are interned; nodes in one process may share one. */
  readonly directory?: Directory
  /**
   * What identifies `encode`'s format (the codec): nodes that share a directory and an
   * encoding share encoded alives. Defaults to `encode` itself.
   */
  readonly encoding?: object
  /** Whether anyone takes membership events right now; events are always made when left out. */
  readonly listened?: () => boolean
}

/** A suspicion in progress and the timer that ends it. */
interface Running {
  readonly suspicion: Suspicion
  timer: SuspicionTimeout
}

const EMPTY_BYTES = new Uint8Array(0)

export class NodeCore {
  readonly name: string
  private readonly config: GossipConfigValues
  private readonly env: CoreEnv
  private readonly out = new Outbox()
  private readonly counters = zeroCounters()
  private readonly directory: Directory
  private readonly encoding: object
  private readonly table: MemberTable
  private readonly versions: Versions
  private readonly probes: ProbeCycle
  private readonly dissemination: Dissemination
  private readonly antiEntropy: AntiEntropy
  private readonly suspicions = new Map<string, Running>()
  private incarnation = 0
  private leaving = false
  private nextNotify = 0
  /** The application header in front of our metadata, when we announce one. */
  private readonly appHeader: Uint8Array | undefined

  constructor(env: CoreEnv, now: number) {
    const c = env.config
    this.env = env
    this.config = c
    this.name = c.name
    this.directory = env.directory ?? new Directory()
    this.encoding = env.encoding ?? env.encode
    this.table = new MemberTable(this.directory)
    this.versions = new Versions(c, this.out)
    const budget = new PacketBudget(c.udpBufferSize, env)
    // Start each periodic activity after a random stagger so nodes don't tick in lock-step.
    this.out.setTimer(Timers.probeTick, now + Math.floor(env.random() * c.probeInterval))
    const firstGossip = now + Math.floor(env.random() * c.gossipInterval)
    this.dissemination = new Dissemination(
      { config: c, table: this.table, directory: this.directory, out: this.out, budget, random: env.random, encode: env.encode },
      firstGossip
    )
    this.probes = new ProbeCycle({
      config: c,
      table: this.table,
      out: this.out,
      counters: this.counters,
      random: env.random,
      encode: env.encode,
      self: { name: c.name, addr: env.addr, port: env.port },
      send: (to, message) => this.dissemination.send(to, message),
      suspect: (member, incarnation, at) => this.suspectNode(Msg.suspect(incarnation, member, this.name), at),
      reaped: (member) => {
        if (this.listened()) this.publish({ _tag: "MemberReaped", member })
      }
    })
    this.antiEntropy = new AntiEntropy({ config: c, table: this.table, out: this.out, random: env.random })
    if (c.pushPullInterval > 0) {
      this.out.setTimer(Timers.pushPullTick, now + Math.floor(env.random() * c.pushPullInterval))
    }
    if (c.reconnectInterval > 0) this.out.setTimer(Timers.reconnectTick, now + c.reconnectInterval)
    this.appHeader = c.application === undefined ? undefined : encodeApplication(c.application)
    this.aliveNode(this.selfAlive(this.nextIncarnation(), joinMeta(this.appHeader, c.meta)), now, true, undefined)
  }

  // ---------------------------------------------------------------------------------------------
  // Shell interface

  /** Takes the outputs produced since the last call. */
  drain(): Array<Output> {
    this.dissemination.drainFinished()
    return this.out.take()
  }

  /** Bumped by every change of the member table: the shell publishes when it moved. */
  get tableVersion(): number {
    return this.table.changeCount
  }

  /** Every entry of the member table, self included, in name order. */
  members(): Array<Member> {
    return this.table.members()
  }

  /** The local node's entry. */
  get local(): Member {
    return this.table.snapshot(this.table.slotOf(this.name))
  }

  /** Entries in the table, dead and left ones included until reaped (memberlist's estimate of n). */
  get numNodes(): number {
    return this.table.size
  }

  /** Members that are alive or suspect, self included. */
  get numMembers(): number {
    return this.table.live
  }

  get hasLeft(): boolean {
    return this.leaving
  }

  /** Lifeguard's local health score: 0 is healthy. */
  get healthScore(): number {
    return this.probes.awareness.score
  }

  /** A copy of the counters. */
  stats(): CoreStats {
    return { ...this.counters }
  }

  /** Looks a member up by name. */
  member(name: string): Member | undefined {
    const slot = this.table.slotOf(name)
    return slot < 0 ? undefined : this.table.snapshot(slot)
  }

  /** The address (`host:port`) of a live member, or undefined. */
  liveAddress(name: string): string | undefined {
    const slot = this.table.slotOf(name)
    return slot < 0 || this.table.deadOrLeft(slot) ? undefined : this.table.announcement(slot).address
  }

  /** Any other member that might still hear from us. */
  anyAlive(): boolean {
    for (let slot = 0; slot < this.table.size; slot++) {
      if (!this.table.deadOrLeft(slot) && this.table.name(slot) !== this.name) return true
    }
    return false
  }

  /** The timer of `tag` the core waits for, if armed: for drivers that fire timers by hand. */
  armedTimer(tag: "ProbeTimeout"): Timer | undefined
  armedTimer(tag: "SuspicionTimeout", member: string): Timer | undefined
  armedTimer(tag: "ProbeTimeout" | "SuspicionTimeout", member?: string): Timer | undefined {
    return tag === "ProbeTimeout" ? this.probes.armedTimer : this.suspicions.get(member!)?.timer
  }

  /** The sequence number of the running probe, if any. */
  get probeSeqNo(): number | undefined {
    return this.probes.runningSeqNo
  }

  /** Membership changes queued for gossip. */
  get queuedBroadcasts(): number {
    return this.dissemination.queued
  }

  /**
   * Whether `message` is an alive the table holds word for word (we admitted this very
   * announcement, so its versions and metadata passed), at an incarnation we know, ourselves
   * included (an echo): `handlePacket` would change nothing. Reads the message's ids and one
   * table row, nothing else; the actor drops such repeats unhandled, as merges skip such entries.
   */
  repeats(message: PacketMessage): boolean {
    if (message._tag !== "Alive") return false
    const announced = this.directory.announcementOf(message)
    return announced >= 0 && this.table.holds(this.directory.nameOfAnnouncement(announced), announced, message.incarnation)
  }

  /** Handles one decoded message that arrived in a datagram from `from`. */
  handlePacket(from: string, message: PacketMessage, now: number): void {
    switch (message._tag) {
      case "Ping":
        return this.probes.ping(from, message)
      case "IndirectPing":
        return this.probes.indirectPing(from, message, now)
      case "Ack":
        return this.probes.ack(message.seqNo, now)
      case "Nack":
        return this.probes.nack(message.seqNo)
      case "Alive":
        return this.aliveNode(message, now, false, undefined)
      case "Suspect":
        return this.suspectNode(message, now)
      case "Dead":
        return this.deadNode(message, now)
      case "User":
        return this.dissemination.user(from, message, this.leaving)
    }
  }

  /** A timer armed through `SetTimer` fired. */
  timer(timer: Timer, now: number): void {
    const c = this.config
    switch (timer._tag) {
      case "ProbeTick":
        this.out.setTimer(Timers.probeTick, now + c.probeInterval)
        return this.probes.tick(now)
      case "GossipTick":
        return this.dissemination.gossipTick(now)
      case "PushPullTick":
        this.out.setTimer(Timers.pushPullTick, now + pushPullScale(c.pushPullInterval, this.table.size))
        return this.antiEntropy.pushPull()
      case "ReconnectTick":
        this.out.setTimer(Timers.reconnectTick, now + c.reconnectInterval)
        return this.antiEntropy.reconnect(now, this.numMembers)
      case "ProbeTimeout":
        return this.probes.timeout(timer, now)
      case "SuspicionTimeout":
        return this.suspicionExpired(timer, now)
      case "RelayTimeout":
        return this.probes.relayExpired(timer)
    }
  }

  /** Outcome of a `TcpPing`. */
  tcpPingResult(seqNo: number, ok: boolean, now: number): void {
    this.probes.tcpResult(seqNo, ok, now)
  }

  /** The local state for a push/pull: every entry, self and dead/left ones included. */
  localState(join: boolean): PushPull {
    const t = this.table
    const digest = uint32Column(t.size * WORDS)
    for (let slot = 0, at = 0; slot < t.size; slot++, at += WORDS) {
      digest[at + NAME] = t.nameId(slot)
      digest[at + ANNOUNCEMENT] = t.announcementId(slot)
      digest[at + INCARNATION] = t.incarnation(slot)
      digest[at + STATE] = t.state(slot)
    }
    return this.directory.pushPull(join, digest)
  }

  /**
   * Merges a remote push/pull state (the message, or its entries) after checking that every
   * version in the combined cluster is compatible; returns the reason when it is not (and then
   * merges nothing).
   */
  mergeRemoteState(state: PushPull | ReadonlyArray<PushNodeState>, now: number): StateRefusal | undefined {
    const remote = new RemoteState(state, this.directory)
    const incompatible = this.versions.verifyProtocol(remote, this.table)
    if (incompatible !== undefined) return { _tag: "Protocol", message: incompatible }
    const refused = this.versions.verifyApplications(remote.nodes)
    if (refused !== undefined) {
      for (const r of remote.nodes) {
        if (r.state === WireState.alive && r.name !== this.name) {
          this.counters.incompatible++
          this.versions.noteRefused(r.name, r.incarnation, r.meta)
        }
      }
      return refused
    }
    // Incompatible entries among compatible ones are refused one by one (see `aliveNode`).
    // a remote state lists about the whole cluster: room for it in one step, not thirty
    const t = this.table
    t.reserve(remote.length)
    // the alives it teaches us join the broadcast queue as one sorted batch
    this.dissemination.batch(() => {
      for (let i = 0; i < remote.length; i++) {
        switch (remote.state(i)) {
          case WireState.alive: {
            const announced = remote.announcement(i)
            if (announced >= 0) {
              // An entry we hold word for word (we admitted this very announcement), at an
              // incarnation we know, of a member we do not hold dead: `aliveNode` would change
              // nothing, ourselves included (an echo), so the entry is not even read.
              const id = remote.nameId(i)
              if (t.holds(id, announced, remote.incarnation(i)) && t.stateOf(id) !== WireState.dead) continue
            }
            const r = remote.nodes[i]!
            const id = announced >= 0 ? this.directory.nameOfAnnouncement(announced) : this.directory.idOf(r.name)
            this.noteReachable(r, t.slotOfId(id), now)
            this.aliveNode(
              { _tag: "Alive", incarnation: r.incarnation, node: r.name, addr: r.addr, port: r.port, meta: r.meta, vsn: r.vsn },
              now,
              false,
              undefined,
              id,
              announced
            )
            break
          }
          case WireState.left: {
            const r = remote.nodes[i]!
            this.deadNode(Msg.dead(r.incarnation, r.name, r.name), now)
            break
          }
          default: {
            // A remote "dead" opinion only makes us suspect: we let our own probes decide.
            const r = remote.nodes[i]!
            this.suspectNode(Msg.suspect(r.incarnation, r.name, this.name), now)
          }
        }
      }
    })
    return undefined
  }

  /** Announces new metadata (our application header goes in front) with a new incarnation; returns the broadcast to wait for. */
  updateMeta(meta: Uint8Array, now: number): number {
    const notify = this.nextNotify++
    this.aliveNode(this.selfAlive(this.nextIncarnation(), joinMeta(this.appHeader, meta)), now, true, notify)
    return notify
  }

  /** Bytes our application header takes out of `metaMaxSize`. */
  get metaHeaderSize(): number {
    return this.appHeader?.length ?? 0
  }

  /** Starts a graceful leave; returns the broadcast to wait for, if any was queued. */
  leave(now: number): number | undefined {
    if (this.leaving) return undefined
    this.leaving = true
    const slot = this.table.slotOf(this.name)
    const notify = this.nextNotify++
    this.deadNode(Msg.dead(this.table.incarnation(slot), this.name, this.name), now, notify)
    return notify
  }

  /**
   * Queues an application broadcast for epidemic dissemination; returns false
   * (and queues nothing) when it cannot fit in one gossip packet.
   */
  broadcastUser(payload: Uint8Array): boolean {
    return this.dissemination.broadcastUser(this.name, payload)
  }

  /**
   * Queues an application message as memberlist gossips its delegate's broadcasts: no
   * envelope, delivered to the members that receive it and not passed on by us. Returns
   * false when it cannot fit in one gossip packet.
   */
  broadcastUnrelayed(payload: Uint8Array): boolean {
    return this.dissemination.broadcastUnrelayed(payload)
  }

  /** Bytes available for one gossiped message (what a user broadcast must fit in). */
  get broadcastBudget(): number {
    return this.dissemination.broadcastBudget
  }

  /** Gives every interned name and announcement back to the directory (the node stops). */
  release(): void {
    this.dissemination.release()
    this.table.release()
  }

  /** Bytes the member table and the membership broadcast queue hold in their columns. */
  get footprint(): { readonly table: number; readonly queue: number } {
    return { table: this.table.footprint, queue: this.dissemination.footprint }
  }

  // ---------------------------------------------------------------------------------------------
  // Merge rules (alive, suspect, dead)

  /**
   * The remote side of a push/pull sees alive a member we hold dead: after a partition
   * heals, that member is probably reachable again, so it becomes a gossip target once more
   * (for `gossipToTheDeadTime`); the refutations it then hears carry it back.
   */
  private noteReachable(r: PushNodeState, slot: number, now: number): void {
    if (slot >= 0 && this.table.state(slot) === WireState.dead && r.incarnation <= this.table.incarnation(slot)) {
      this.table.noteContact(slot, now)
      this.dissemination.targetsChanged()
    }
  }

  /**
   * `nameId`: the directory id of `a.node` when the caller looked it up already (-1: not interned);
   * `announced`: the id of what `a` announces, when a node sharing our directory built it.
   */
  private aliveNode(
    a: Alive,
    now: number,
    bootstrap: boolean,
    notify: number | undefined,
    nameId?: number,
    announced = this.directory.announcementOf(a)
  ): void {
    const t = this.table
    const isLocal = a.node === this.name
    if (this.leaving && isLocal) return
    // Only exactly six sane version bytes: shorter ones crash memberlist peers, missing ones
    // poison every later version check, so we neither store nor re-gossip such an alive.
    if (!validVsn(a.vsn)) {
      this.counters.rejectedAlives++
      return
    }
    // An incompatible application never enters the table, however it is heard of.
    if (!isLocal && !this.versions.admits(a.meta)) {
      this.counters.incompatible++
      this.versions.noteRefused(a.node, a.incarnation, a.meta)
      return
    }
    // an alive a node sharing our directory built: its ids spare a name lookup and the address bytes
    const id = nameId ?? (announced >= 0 ? this.directory.nameOfAnnouncement(announced) : this.directory.idOf(a.node))
    let slot = t.slotOfId(id)
    let updatesNode = false
    let incarnation = 0
    if (slot < 0) {
      // Incarnations start at 1: an alive at 0 could never win against the placeholder.
      if (a.incarnation === 0) return
      // Insert at a random position so that probe order (and so detection time) is fair.
      const offset = Math.floor(this.env.random() * (t.size + 1))
      const last = t.add(a, 0, WireState.dead, now, id, announced)
      t.swap(offset, last)
      slot = offset
    } else {
      // by name id: a duplicate (the common case by far) reads one row of the table
      if (announced >= 0 ? !t.sameAddressAs(id, announced) : !t.sameAddressOf(id, a.addr, a.port)) {
        const canReclaim = this.config.deadNodeReclaimTime > 0 && now - t.stateChange(slot) > this.config.deadNodeReclaimTime
        const state = t.state(slot)
        if (state === WireState.left || (state === WireState.dead && canReclaim)) {
          updatesNode = true
        } else {
          this.counters.conflicts++
          return
        }
      }
      incarnation = t.incarnationOf(id)
    }
    if (a.incarnation <= incarnation && !isLocal && !updatesNode) return
    if (a.incarnation < incarnation && isLocal) return
    this.cancelSuspicion(a.node)
    const oldState = t.state(slot)
    const oldMeta = t.announcement(slot).wire
    if (!bootstrap && isLocal) {
      // Someone gossips about us. Same incarnation and content: an echo. Otherwise a stale
      // or conflicting view of us, which we override.
      if (a.incarnation === incarnation && bytesEqual(a.meta, oldMeta) && bytesEqual(a.vsn, this.versions.self)) return
      this.refute(slot, a.incarnation)
    } else {
      t.announce(slot, a, announced)
      const id = t.nameId(slot)
      this.dissemination.broadcast(id, this.directory.encodedAlive(id, a.incarnation, t.announcementId(slot), this.env.encode, this.encoding), notify)
      t.setIncarnation(slot, a.incarnation)
      if (oldState !== WireState.alive) t.setState(slot, WireState.alive, now)
      this.antiEntropy.forget(a.node)
    }
    if (!this.listened()) return
    if (oldState === WireState.dead || oldState === WireState.left) {
      this.publish({ _tag: "MemberJoined", member: t.snapshot(slot) })
    } else {
      if (oldState === WireState.suspect && t.state(slot) === WireState.alive) {
        this.publish({ _tag: "MemberAlive", member: t.snapshot(slot) })
      }
      if (!bytesEqual(oldMeta, t.announcement(slot).wire) || updatesNode) {
        this.publish({ _tag: "MemberUpdated", member: t.snapshot(slot) })
      }
    }
  }

  private suspectNode(s: Suspect, now: number): void {
    const t = this.table
    const slot = t.slotOf(s.node)
    if (slot < 0 || s.incarnation < t.incarnation(slot)) return
    const running = this.suspicions.get(s.node)
    if (running !== undefined) {
      // Independent confirmations shorten the timeout; a new one is worth re-gossiping.
      if (running.suspicion.confirm(s.from, now)) {
        this.dissemination.broadcast(t.nameId(slot), this.env.encode(s), undefined)
        this.out.cancelTimer(running.timer)
        running.timer = this.suspicionTimer(s.node)
        this.out.setTimer(running.timer, running.suspicion.deadline)
      }
      return
    }
    if (t.state(slot) !== WireState.alive) return
    if (s.node === this.name) {
      this.refute(slot, s.incarnation)
      return
    }
    this.dissemination.broadcast(t.nameId(slot), this.env.encode(s), undefined)
    t.setIncarnation(slot, s.incarnation)
    t.setState(slot, WireState.suspect, now)
    this.counters.suspicionsRaised++

    const c = this.config
    const n = t.size
    // k confirmations are expected from the other members (not us, not the suspect).
    let k = c.dynamicSuspicion ? c.suspicionMult - 2 : 0
    if (n - 2 < k) k = 0
    const min = suspicionTimeout(c.suspicionMult, n, c.probeInterval)
    const max = c.suspicionMaxTimeoutMult * min
    const suspicion = new Suspicion(s.from, k, min, max, now)
    const timer = this.suspicionTimer(s.node)
    this.suspicions.set(s.node, { suspicion, timer })
    this.out.setTimer(timer, suspicion.deadline)
    if (this.listened()) this.publish({ _tag: "MemberSuspected", member: t.snapshot(slot), from: s.from })
  }

  private suspicionExpired(timer: SuspicionTimeout, now: number): void {
    const running = this.suspicions.get(timer.member)
    if (running === undefined || running.timer !== timer) return
    this.suspicions.delete(timer.member)
    const t = this.table
    const slot = t.slotOf(timer.member)
    if (slot < 0 || t.state(slot) !== WireState.suspect || t.stateChange(slot) !== running.suspicion.start) return
    this.deadNode(Msg.dead(t.incarnation(slot), timer.member, this.name), now)
  }

  private deadNode(d: Dead, now: number, notify?: number): void {
    const t = this.table
    const slot = t.slotOf(d.node)
    if (slot < 0 || d.incarnation < t.incarnation(slot)) return
    this.cancelSuspicion(d.node)
    if (t.deadOrLeft(slot)) return
    if (d.node === this.name) {
      if (!this.leaving) {
        this.refute(slot, d.incarnation)
        return
      }
      this.dissemination.broadcast(t.nameId(slot), this.env.encode(d), notify)
    } else {
      this.dissemination.broadcast(t.nameId(slot), this.env.encode(d), undefined)
    }
    const left = d.node === d.from
    t.setIncarnation(slot, d.incarnation)
    t.setState(slot, left ? WireState.left : WireState.dead, now)
    if (!left) this.antiEntropy.noteFailed(d.node, t.announcement(slot).address, now)
    if (!this.listened()) return
    this.publish(
      left
        ? { _tag: "MemberLeft", member: t.snapshot(slot) }
        : { _tag: "MemberFailed", member: t.snapshot(slot), from: d.from }
    )
  }

  /** Overrides an accusation about ourselves with a higher incarnation. */
  private refute(slot: number, accused: number): void {
    let inc = this.nextIncarnation()
    if (accused >= inc) {
      this.incarnation = accused + 1
      inc = this.incarnation
    }
    this.table.setIncarnation(slot, inc)
    this.counters.refutations++
    // Having to refute hints that we are the slow one.
    this.probes.awareness.applyDelta(1)
    const alive = this.selfAlive(inc, this.table.announcement(slot).wire ?? EMPTY_BYTES)
    this.dissemination.broadcast(this.table.nameId(slot), this.env.encode(alive), undefined)
  }

  private cancelSuspicion(node: string): void {
    const running = this.suspicions.get(node)
    if (running === undefined) return
    this.suspicions.delete(node)
    this.out.cancelTimer(running.timer)
  }

  private suspicionTimer(member: string): SuspicionTimeout {
    return { _tag: "SuspicionTimeout", member, token: this.out.token() }
  }

  private selfAlive(incarnation: number, meta: Uint8Array): Alive {
    return {
      _tag: "Alive",
      incarnation,
      node: this.name,
      addr: this.env.addr,
      port: this.env.port,
      meta,
      vsn: this.versions.self
    }
  }

  private nextIncarnation(): number {
    this.incarnation = (this.incarnation + 1) >>> 0
    return this.incarnation
  }

  /** Whether anyone takes membership events: when nobody does, none is made (no snapshot either). */
  private listened(): boolean {
    return this.env.listened === undefined || this.env.listened()
  }

  private publish(event: MemberEvent): void {
    this.out.push({ _tag: "Publish", event })
  }
}
