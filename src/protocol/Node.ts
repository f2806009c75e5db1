/**
 * The protocol core of one node: SWIM with Lifeguard, as memberlist implements
 * it. Deterministic and effect-free: every method takes the current Clock time,
 * draws randomness only from the injected source, mutates the state it owns and
 * appends `Output`s for the shell to carry out. One fiber (the node's actor)
 * owns an instance, so there is no locking.
 */
import { addressOf, bytesEqual } from "../Address.ts"
import type { GossipConfigValues } from "../Config.ts"
import type { Member } from "../Member.ts"
import { stateToWire } from "../Member.ts"
import type { MemberEvent } from "../MemberEvent.ts"
import type { Application } from "./Application.ts"
import { describeApplication, encodeApplication, joinMeta, splitMeta } from "./Application.ts"
import type { Alive, Dead, IndirectPing, PacketMessage, Ping, PushNodeState, PushPull, Suspect } from "./Messages.ts"
import * as Msg from "./Messages.ts"
import { Awareness } from "./Awareness.ts"
import { BroadcastQueue, MAX_PARTS } from "./Broadcasts.ts"
import { Entry, internVsn, validVsn } from "./Entry.ts"
import { SeenBroadcasts, unwrap, wrap } from "./Envelope.ts"
import type { Output } from "./Outputs.ts"
import { pushPullScale, retransmitLimit, Suspicion, suspicionTimeout } from "./Suspicion.ts"

/** The highest memberlist protocol version we understand (CRC, TCP ping, nacks included). */
export const PROTOCOL_MIN = 1
export const PROTOCOL_MAX = 5

/** What the core needs from its surroundings; all of it plain values and functions. */
export interface CoreEnv {
  readonly config: GossipConfigValues
  /** Encodes one message; the bytes are what broadcast queues keep and resend. */
  readonly encode: (message: PacketMessage) => Uint8Array
  /** Bytes a compound adds once, per part, and the packet wrappers may add. */
  readonly compoundHeaderOverhead: number
  readonly compoundPartOverhead: number
  readonly packetOverhead: () => number
  /** This node's advertised address. */
  readonly addr: Uint8Array
  readonly port: number
  /** Uniform in [0, 1): the only source of randomness. */
  readonly random: () => number
}

type AckHandler =
  | { readonly kind: "probe" }
  | { readonly kind: "relay"; readonly seqNo: number; readonly replyTo: string; readonly nack: boolean }

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
}

/** Counters the shell exports as metrics. */
export interface CoreStats {
  probes: number
  probeFailures: number
  suspicionsRaised: number
  refutations: number
  conflicts: number
  rejectedAlives: number
  /** Alive messages and push/pulls refused because a member runs an incompatible application. */
  incompatible: number
}

/** Why a push/pull state was refused as a whole. */
export type StateRefusal =
  | { readonly _tag: "Protocol"; readonly message: string }
  | {
    readonly _tag: "Application"
    readonly member: string
    readonly remote: Application | undefined
    readonly message: string
  }

const EMPTY_BYTES = new Uint8Array(0)

/** Where `name` is, or belongs, in a name-ordered array. */
const nameIndex = (entries: ReadonlyArray<Entry>, name: string): number => {
  let lo = 0
  let hi = entries.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (entries[mid]!.name < name) lo = mid + 1
    else hi = mid
  }
  return lo
}

export const timerKeys = {
  probeTick: "tick:probe",
  gossipTick: "tick:gossip",
  pushPullTick: "tick:push-pull",
  reconnectTick: "tick:reconnect",
  probe: "probe",
  suspicion: (node: string) => `suspect:${node}`,
  relay: (seqNo: number) => `relay:${seqNo}`
} as const

export class NodeCore {
  readonly name: string
  readonly awareness: Awareness
  readonly stats: CoreStats = {
    probes: 0,
    probeFailures: 0,
    suspicionsRaised: 0,
    refutations: 0,
    conflicts: 0,
    rejectedAlives: 0,
    incompatible: 0
  }
  /** True when the member list changed since the shell last looked. */
  membersChanged = true

  private readonly config: GossipConfigValues
  private readonly nodes: Array<Entry> = []
  private readonly byName = new Map<string, Entry>()
  /** The same entries in name order, kept so that publishing the table needs no sort. */
  private readonly byNameOrder: Array<Entry> = []
  private readonly suspicions = new Map<string, Suspicion>()
  private readonly ackHandlers = new Map<number, AckHandler>()
  private readonly broadcasts = new BroadcastQueue()
  private readonly userBroadcasts = new BroadcastQueue()
  private out: Array<Output> = []
  private probeIndex = 0
  private seqNo = 0
  private incarnation = 0
  private probe: Probe | undefined
  private probeTickPending = false
  private gossipArmed = false
  /** When the gossip loop ticks next, if armed (the grid is set by a random stagger at start). */
  private gossipNext = 0
  private leaving = false
  private nextNotify = 0
  private nextBroadcastId = 0
  private readonly seenBroadcasts = new SeenBroadcasts(8192)
  private readonly selfVsn: Uint8Array
  /** Members refused for their application, with the incarnation last refused (bounded). */
  private readonly refused = new Map<string, number>()
  /** The application header in front of our metadata, when we announce one. */
  private readonly appHeader: Uint8Array | undefined
  /** Members that failed (not left), kept for reconnection after they are reaped. */
  private readonly failed = new Map<string, { readonly address: string; readonly failedAt: number }>()

  private readonly env: CoreEnv

  constructor(env: CoreEnv, now: number) {
    this.env = env
    this.config = env.config
    this.name = env.config.name
    this.awareness = new Awareness(env.config.awarenessMaxMultiplier, env.config.awareness)
    const c = env.config
    this.selfVsn = Uint8Array.of(
      PROTOCOL_MIN,
      PROTOCOL_MAX,
      c.protocolVersion,
      c.delegateProtocolMin,
      c.delegateProtocolMax,
      c.delegateProtocolVersion
    )
    // Start each periodic activity after a random stagger so nodes don't tick in lock-step.
    this.setTimer(timerKeys.probeTick, now + Math.floor(env.random() * c.probeInterval))
    this.gossipNext = now + Math.floor(env.random() * c.gossipInterval)
    if (c.pushPullInterval > 0) {
      this.setTimer(timerKeys.pushPullTick, now + Math.floor(env.random() * c.pushPullInterval))
    }
    if (c.reconnectInterval > 0) this.setTimer(timerKeys.reconnectTick, now + c.reconnectInterval)
    this.appHeader = c.application === undefined ? undefined : encodeApplication(c.application)
    this.aliveNode(this.selfAlive(this.nextIncarnation(), joinMeta(this.appHeader, c.meta)), now, true, undefined)
  }

  // ---------------------------------------------------------------------------------------------
  // Shell interface

  /** Takes the outputs produced since the last call. */
  drain(): Array<Output> {
    for (const notify of this.broadcasts.finished.splice(0)) this.out.push({ _tag: "BroadcastDone", notify })
    for (const notify of this.userBroadcasts.finished.splice(0)) this.out.push({ _tag: "BroadcastDone", notify })
    const out = this.out
    this.out = []
    return out
  }

  /** Every entry of the member table, self included, in name order. */
  members(): Array<Member> {
    this.membersChanged = false
    return this.byNameOrder.map((n) => n.snapshot)
  }

  /** The local node's entry. */
  get local(): Member {
    return this.byName.get(this.name)!.snapshot
  }

  /** Entries in the table, dead and left ones included until reaped (memberlist's estimate of n). */
  get numNodes(): number {
    return this.nodes.length
  }

  /** Members that are alive or suspect, self included. */
  get numMembers(): number {
    let n = 0
    for (const e of this.nodes) if (!e.deadOrLeft) n++
    return n
  }

  get hasLeft(): boolean {
    return this.leaving
  }

  /** Looks a member up by name. */
  member(name: string): Member | undefined {
    return this.byName.get(name)?.snapshot
  }

  /** Any other member that might still hear from us. */
  anyAlive(): boolean {
    for (const e of this.nodes) if (e.name !== this.name && !e.deadOrLeft) return true
    return false
  }

  /** Handles one decoded message that arrived in a datagram from `from`. */
  handlePacket(from: string, message: PacketMessage, now: number): void {
    switch (message._tag) {
      case "Ping":
        return this.handlePing(from, message)
      case "IndirectPing":
        return this.handleIndirectPing(from, message, now)
      case "Ack":
        return this.handleAck(message.seqNo, now)
      case "Nack":
        return this.handleNack(message.seqNo)
      case "Alive":
        return this.aliveNode(message, now, false, undefined)
      case "Suspect":
        return this.suspectNode(message, now)
      case "Dead":
        return this.deadNode(message, now)
      case "User":
        return this.handleUser(from, message)
    }
  }

  /** A timer armed through `SetTimer` fired. */
  timer(key: string, now: number): void {
    const c = this.config
    if (key === timerKeys.probeTick) {
      this.setTimer(key, now + c.probeInterval)
      return this.probeTick(now)
    }
    if (key === timerKeys.gossipTick) {
      this.gossip(now)
      // An idle node does not tick: the next broadcast re-arms the loop.
      this.gossipArmed = false
      this.gossipNext = now + c.gossipInterval
      if (this.broadcasts.size > 0 || this.userBroadcasts.size > 0) this.armGossip()
      return
    }
    if (key === timerKeys.pushPullTick) {
      this.setTimer(key, now + pushPullScale(c.pushPullInterval, this.nodes.length))
      return this.pushPullTick()
    }
    if (key === timerKeys.reconnectTick) {
      this.setTimer(key, now + c.reconnectInterval)
      return this.reconnectTick(now)
    }
    if (key === timerKeys.probe) return this.probeTimer(now)
    if (key.startsWith("suspect:")) return this.suspicionExpired(key.slice(8), now)
    if (key.startsWith("relay:")) return this.relayExpired(Number(key.slice(6)))
  }

  /** Outcome of a `TcpPing`. */
  tcpPingResult(seqNo: number, ok: boolean, now: number): void {
    const p = this.probe
    if (p === undefined || p.seqNo !== seqNo || p.tcp !== "pending") return
    p.tcp = ok ? "ok" : "failed"
    if (p.phase === "fallback") this.finishProbe(now)
  }

  /** The local state for a push/pull: every entry, self and dead/left ones included. */
  localState(join: boolean): PushPull {
    const nodes: Array<PushNodeState> = this.nodes.map((n) => ({
      name: n.name,
      addr: n.addr,
      port: n.port,
      meta: n.meta,
      incarnation: n.incarnation,
      state: stateToWire[n.state],
      vsn: n.vsn
    }))
    return { _tag: "PushPull", join, nodes, userState: EMPTY_BYTES }
  }

  /**
   * Merges a remote push/pull state after checking that every version in the
   * combined cluster is compatible; returns the reason when it is not (and then
   * merges nothing).
   */
  mergeRemoteState(remote: ReadonlyArray<PushNodeState>, now: number): StateRefusal | undefined {
    const incompatible = this.verifyProtocol(remote)
    if (incompatible !== undefined) return { _tag: "Protocol", message: incompatible }
    const refused = this.verifyApplications(remote)
    if (refused !== undefined) {
      for (const r of remote) {
        if (r.state === Msg.WireState.alive && r.name !== this.name) {
          this.stats.incompatible++
          this.noteRefused(r.name, r.incarnation, r.meta)
        }
      }
      return refused
    }
    // Incompatible entries among compatible ones are refused one by one (see `aliveNode`).
    for (const r of remote) {
      switch (r.state) {
        case Msg.WireState.alive:
          this.noteReachable(r, now)
          this.aliveNode(
            {
              _tag: "Alive",
              incarnation: r.incarnation,
              node: r.name,
              addr: r.addr,
              port: r.port,
              meta: r.meta,
              vsn: r.vsn
            },
            now,
            false,
            undefined
          )
          break
        case Msg.WireState.left:
          this.deadNode(Msg.dead(r.incarnation, r.name, r.name), now)
          break
        default:
          // A remote "dead" opinion only makes us suspect: we let our own probes decide.
          this.suspectNode(Msg.suspect(r.incarnation, r.name, this.name), now)
      }
    }
    return undefined
  }

  /**
   * The remote side of a push/pull sees alive a member we hold dead: after a partition
   * heals, that member is probably reachable again, so it becomes a gossip target once more
   * (for `gossipToTheDeadTime`); the refutations it then hears carry it back.
   */
  private noteReachable(r: PushNodeState, now: number): void {
    const local = this.byName.get(r.name)
    if (local !== undefined && local.state === "dead" && r.incarnation <= local.incarnation) local.contactedAt = now
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
    const self = this.byName.get(this.name)!
    const notify = this.nextNotify++
    this.deadNode(Msg.dead(self.incarnation, self.name, self.name), now, notify)
    return notify
  }

  /**
   * Queues an application broadcast for epidemic dissemination; returns false
   * (and queues nothing) when it cannot fit in one gossip packet.
   */
  broadcastUser(payload: Uint8Array): boolean {
    const id = this.nextBroadcastId = (this.nextBroadcastId + 1) >>> 0
    const bytes = this.env.encode(Msg.user(wrap(this.name, id, payload)))
    if (bytes.length > this.broadcastBudget) return false
    this.seenBroadcasts.add(this.name, id)
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
    const bytes = this.env.encode(Msg.user(payload))
    if (bytes.length > this.broadcastBudget) return false
    this.userBroadcasts.enqueue(bytes)
    this.armGossip()
    return true
  }

  /** Bytes available for one gossiped message (what a user broadcast must fit in). */
  get broadcastBudget(): number {
    return this.config.udpBufferSize - this.env.compoundHeaderOverhead - this.env.packetOverhead() -
      this.env.compoundPartOverhead
  }

  private handleUser(from: string, message: Msg.UserMsg): void {
    const envelope = unwrap(message.payload)
    if (envelope === undefined) {
      this.out.push({ _tag: "Deliver", from, origin: undefined, payload: message.payload })
      return
    }
    if (!this.seenBroadcasts.add(envelope.origin, envelope.id)) return
    this.out.push({ _tag: "Deliver", from, origin: envelope.origin, payload: envelope.payload })
    // Pass it on, so that it reaches the members its origin never talks to.
    if (!this.leaving) {
      this.userBroadcasts.enqueue(this.env.encode(message))
      this.armGossip()
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Merge rules (alive, suspect, dead)

  private aliveNode(a: Alive, now: number, bootstrap: boolean, notify: number | undefined): void {
    const isLocal = a.node === this.name
    if (this.leaving && isLocal) return
    // Only exactly six sane version bytes: shorter ones crash memberlist peers, missing ones
    // poison every later version check, so we neither store nor re-gossip such an alive.
    if (!validVsn(a.vsn)) {
      this.stats.rejectedAlives++
      return
    }
    // An incompatible application never enters the table, however it is heard of.
    if (!isLocal && !this.admits(a.meta)) {
      this.stats.incompatible++
      this.noteRefused(a.node, a.incarnation, a.meta)
      return
    }
    let state = this.byName.get(a.node)
    let updatesNode = false
    if (state === undefined) {
      // Incarnations start at 1: an alive at 0 could never win against the placeholder.
      if (a.incarnation === 0) return
      state = new Entry(a.node, a.addr, a.port, a.meta, 0, "dead", now, internVsn(a.vsn))
      this.byName.set(a.node, state)
      // Insert at a random position so that probe order (and so detection time) is fair.
      const offset = Math.floor(this.env.random() * (this.nodes.length + 1))
      this.nodes.push(state)
      this.byNameOrder.splice(nameIndex(this.byNameOrder, a.node), 0, state)
      const n = this.nodes.length - 1
      ;[this.nodes[offset], this.nodes[n]] = [this.nodes[n]!, this.nodes[offset]!]
    } else if (!bytesEqual(state.addr, a.addr) || state.port !== a.port) {
      const canReclaim = this.config.deadNodeReclaimTime > 0 &&
        now - state.stateChange > this.config.deadNodeReclaimTime
      if (state.state === "left" || (state.state === "dead" && canReclaim)) {
        updatesNode = true
      } else {
        this.stats.conflicts++
        return
      }
    }
    if (a.incarnation <= state.incarnation && !isLocal && !updatesNode) return
    if (a.incarnation < state.incarnation && isLocal) return
    this.cancelSuspicion(a.node)
    const oldState = state.state
    const oldMeta = state.meta
    if (!bootstrap && isLocal) {
      // Someone gossips about us. Same incarnation and content: an echo. Otherwise a stale
      // or conflicting view of us, which we override.
      if (a.incarnation === state.incarnation && bytesEqual(a.meta, state.meta) && bytesEqual(a.vsn, this.selfVsn)) {
        return
      }
      this.refute(state, a.incarnation)
    } else {
      this.broadcast(a.node, this.env.encode(a), notify)
      if (!bytesEqual(state.vsn, a.vsn)) state.vsn = internVsn(a.vsn)
      state.incarnation = a.incarnation
      state.meta = a.meta
      state.setAddress(a.addr, a.port)
      if (state.state !== "alive") {
        state.state = "alive"
        state.stateChange = now
      }
      this.failed.delete(a.node)
      state.touch()
      this.membersChanged = true
    }
    if (oldState === "dead" || oldState === "left") {
      this.publish({ _tag: "MemberJoined", member: state.snapshot })
    } else {
      if (oldState === "suspect" && state.state === "alive") this.publish({ _tag: "MemberAlive", member: state.snapshot })
      if (!bytesEqual(oldMeta, state.meta) || updatesNode) this.publish({ _tag: "MemberUpdated", member: state.snapshot })
    }
  }

  private suspectNode(s: Suspect, now: number): void {
    const state = this.byName.get(s.node)
    if (state === undefined || s.incarnation < state.incarnation) return
    const running = this.suspicions.get(s.node)
    if (running !== undefined) {
      // Independent confirmations shorten the timeout; a new one is worth re-gossiping.
      if (running.confirm(s.from, now)) {
        this.broadcast(s.node, this.env.encode(s), undefined)
        this.setTimer(timerKeys.suspicion(s.node), running.deadline)
      }
      return
    }
    if (state.state !== "alive") return
    if (state.name === this.name) {
      this.refute(state, s.incarnation)
      return
    }
    this.broadcast(s.node, this.env.encode(s), undefined)
    state.incarnation = s.incarnation
    state.state = "suspect"
    state.stateChange = now
    state.touch()
    this.membersChanged = true
    this.stats.suspicionsRaised++

    const c = this.config
    const n = this.nodes.length
    // k confirmations are expected from the other members (not us, not the suspect).
    let k = c.dynamicSuspicion ? c.suspicionMult - 2 : 0
    if (n - 2 < k) k = 0
    const min = suspicionTimeout(c.suspicionMult, n, c.probeInterval)
    const max = c.suspicionMaxTimeoutMult * min
    const suspicion = new Suspicion(s.from, k, min, max, now)
    this.suspicions.set(s.node, suspicion)
    this.setTimer(timerKeys.suspicion(s.node), suspicion.deadline)
    this.publish({ _tag: "MemberSuspected", member: state.snapshot, from: s.from })
  }

  private suspicionExpired(node: string, now: number): void {
    const suspicion = this.suspicions.get(node)
    if (suspicion === undefined) return
    this.suspicions.delete(node)
    const state = this.byName.get(node)
    if (state === undefined || state.state !== "suspect" || state.stateChange !== suspicion.start) return
    this.deadNode(Msg.dead(state.incarnation, node, this.name), now)
  }

  private deadNode(d: Dead, now: number, notify?: number): void {
    const state = this.byName.get(d.node)
    if (state === undefined || d.incarnation < state.incarnation) return
    this.cancelSuspicion(d.node)
    if (state.deadOrLeft) return
    if (state.name === this.name) {
      if (!this.leaving) {
        this.refute(state, d.incarnation)
        return
      }
      this.broadcast(d.node, this.env.encode(d), notify)
    } else {
      this.broadcast(d.node, this.env.encode(d), undefined)
    }
    state.incarnation = d.incarnation
    state.state = d.node === d.from ? "left" : "dead"
    state.stateChange = now
    if (state.state === "dead") this.failed.set(state.name, { address: state.address, failedAt: now })
    state.touch()
    this.membersChanged = true
    this.publish(
      state.state === "left"
        ? { _tag: "MemberLeft", member: state.snapshot }
        : { _tag: "MemberFailed", member: state.snapshot, from: d.from }
    )
  }

  /** Overrides an accusation about ourselves with a higher incarnation. */
  private refute(self: Entry, accused: number): void {
    let inc = this.nextIncarnation()
    if (accused >= inc) {
      this.incarnation = accused + 1
      inc = this.incarnation
    }
    self.incarnation = inc
    self.touch()
    this.membersChanged = true
    this.stats.refutations++
    // Having to refute hints that we are the slow one.
    this.awareness.applyDelta(1)
    this.broadcast(self.name, this.env.encode(this.selfAlive(inc, self.meta ?? EMPTY_BYTES)), undefined)
  }

  private cancelSuspicion(node: string): void {
    if (this.suspicions.delete(node)) this.out.push({ _tag: "CancelTimer", key: timerKeys.suspicion(node) })
  }

  /** Whether a member announcing `meta` may share the cluster with our application. */
  private admits(meta: Uint8Array | null): boolean {
    const local = this.config.application
    return local === undefined || this.config.compatible(local, splitMeta(meta).application)
  }

  /** Publishes a refusal once per member and incarnation (gossip repeats an alive many times). */
  private noteRefused(name: string, incarnation: number, meta: Uint8Array | null): void {
    if (this.refused.get(name) === incarnation) return
    this.refused.delete(name)
    this.refused.set(name, incarnation)
    if (this.refused.size > 1024) this.refused.delete(this.refused.keys().next().value!)
    const application = splitMeta(meta).application
    this.out.push({
      _tag: "Refuse",
      refusal: {
        _tag: "MemberRefused",
        name,
        application,
        reason: `runs ${describeApplication(application)}, incompatible with ${describeApplication(this.config.application)}`
      }
    })
  }

  /**
   * A state whose live members (other than us) all run incompatible applications comes from
   * a member we must not join, or that must not join us: it is refused as a whole, with the
   * first such member named. Otherwise only the incompatible entries are left out.
   */
  private verifyApplications(remote: ReadonlyArray<PushNodeState>): StateRefusal | undefined {
    const local = this.config.application
    if (local === undefined) return undefined
    let first: PushNodeState | undefined
    for (const r of remote) {
      if (r.state !== Msg.WireState.alive || r.name === this.name) continue
      if (this.admits(r.meta)) return undefined
      first ??= r
    }
    if (first === undefined) return undefined
    const app = splitMeta(first.meta).application
    return {
      _tag: "Application",
      member: first.name,
      remote: app,
      message: `member '${first.name}' runs ${describeApplication(app)}, incompatible with ${describeApplication(local)}`
    }
  }

  private verifyProtocol(remote: ReadonlyArray<PushNodeState>): string | undefined {
    let maxPMin = 0
    let minPMax = 255
    let maxDMin = 0
    let minDMax = 255
    const widen = (v: Uint8Array) => {
      maxPMin = Math.max(maxPMin, v[0]!)
      minPMax = Math.min(minPMax, v[1]!)
      maxDMin = Math.max(maxDMin, v[3]!)
      minDMax = Math.min(minDMax, v[4]!)
    }
    for (const r of remote) if (r.state === Msg.WireState.alive && r.vsn !== null && r.vsn.length >= 6) widen(r.vsn)
    for (const n of this.nodes) if (n.state === "alive") widen(n.vsn)
    const check = (name: string, vsn: Uint8Array | null): string | undefined => {
      const pCur = vsn !== null && vsn.length >= 6 ? vsn[2]! : 0
      const dCur = vsn !== null && vsn.length >= 6 ? vsn[5]! : 0
      if (pCur < maxPMin || pCur > minPMax) {
        return `node '${name}' protocol version (${pCur}) is incompatible: [${maxPMin}, ${minPMax}]`
      }
      if (dCur < maxDMin || dCur > minDMax) {
        return `node '${name}' delegate protocol version (${dCur}) is incompatible: [${maxDMin}, ${minDMax}]`
      }
      return undefined
    }
    for (const r of remote) {
      const bad = check(r.name, r.vsn)
      if (bad !== undefined) return bad
    }
    for (const n of this.nodes) {
      const bad = check(n.name, n.vsn)
      if (bad !== undefined) return bad
    }
    return undefined
  }

  // ---------------------------------------------------------------------------------------------
  // Probing

  private probeTick(now: number): void {
    if (this.probe !== undefined) {
      // Like a Go ticker with a one-slot channel: one tick waits for the running probe.
      this.probeTickPending = true
      return
    }
    this.startProbe(now)
  }

  private startProbe(now: number): void {
    const target = this.nextProbeTarget(now)
    if (target === undefined) return
    this.stats.probes++
    const seqNo = this.nextSeqNo()
    const interval = this.awareness.scaleTimeout(this.config.probeInterval)
    this.probe = {
      seqNo,
      node: target.name,
      address: target.address,
      incarnation: target.incarnation,
      deadline: now + interval,
      phase: "direct",
      expectedNacks: 0,
      nacks: 0,
      tcp: "none"
    }
    this.ackHandlers.set(seqNo, { kind: "probe" })
    const ping = this.ping(seqNo, target.name)
    if (target.state === "alive") {
      this.sendWithPiggyback(target.address, ping)
    } else {
      // Buddy system: tell the suspect itself, so it can refute without waiting for gossip.
      const parts = [this.env.encode(ping), this.env.encode(Msg.suspect(target.incarnation, target.name, this.name))]
      this.out.push({ _tag: "SendPacket", to: target.address, parts, checksum: target.pMax >= 5 })
    }
    this.setTimer(timerKeys.probe, now + Math.min(this.config.probeTimeout, interval))
  }

  /**
   * Round-robin over the shuffled table, skipping ourselves and the dead; reshuffles at each
   * wrap. Unlike memberlist, which gives up after n checks, one wrap plus a full pass always
   * finds a probe-able member when there is one, so no probe tick is wasted.
   */
  private nextProbeTarget(now: number): Entry | undefined {
    for (let checked = 0; checked <= 2 * this.nodes.length; checked++) {
      if (this.probeIndex >= this.nodes.length) {
        this.resetNodes(now)
        this.probeIndex = 0
        continue
      }
      const node = this.nodes[this.probeIndex++]!
      if (node.name !== this.name && !node.deadOrLeft) return node
    }
    return undefined
  }

  private probeTimer(now: number): void {
    const p = this.probe
    if (p === undefined) return
    if (p.phase === "direct") {
      p.phase = "indirect"
      this.indirectProbe(p)
      if (now >= p.deadline) this.probeDeadline(p, now)
      else this.setTimer(timerKeys.probe, p.deadline)
      return
    }
    this.probeDeadline(p, now)
  }

  private indirectProbe(p: Probe): void {
    const target = this.byName.get(p.node)
    const helpers = this.kRandomNodes(
      this.config.indirectChecks,
      (n) => n.name !== this.name && n.name !== p.node && n.state === "alive"
    )
    if (target !== undefined) {
      for (const helper of helpers) {
        const nack = helper.pMax >= 4
        if (nack) p.expectedNacks++
        const req: IndirectPing = {
          _tag: "IndirectPing",
          seqNo: p.seqNo,
          target: target.addr,
          port: target.port,
          node: p.node,
          nack,
          sourceAddr: this.env.addr,
          sourceNode: this.name,
          sourcePort: this.env.port
        }
        this.sendWithPiggyback(helper.address, req)
      }
      if (!this.config.disableTcpPings && target.pMax >= 3) {
        p.tcp = "pending"
        this.out.push({ _tag: "TcpPing", seqNo: p.seqNo, to: p.address, node: p.node, deadline: p.deadline })
      }
    }
  }

  private probeDeadline(p: Probe, now: number): void {
    this.ackHandlers.delete(p.seqNo)
    p.phase = "fallback"
    // The fallback stream ping reports by the same deadline; wait for it if it is still out.
    if (p.tcp !== "pending") this.finishProbe(now)
  }

  private finishProbe(now: number): void {
    const p = this.probe!
    this.probe = undefined
    this.out.push({ _tag: "CancelTimer", key: timerKeys.probe })
    this.ackHandlers.delete(p.seqNo)
    if (p.tcp === "ok") {
      this.awareness.applyDelta(-1)
    } else {
      this.stats.probeFailures++
      // Missing nacks mean the helpers could not talk to us either: likely our own fault.
      this.awareness.applyDelta(p.expectedNacks > 0 ? p.expectedNacks - p.nacks : 1)
      this.suspectNode(Msg.suspect(p.incarnation, p.node, this.name), now)
    }
    this.afterProbe(now)
  }

  private probeSucceeded(now: number): void {
    this.probe = undefined
    this.out.push({ _tag: "CancelTimer", key: timerKeys.probe })
    this.awareness.applyDelta(-1)
    this.afterProbe(now)
  }

  private afterProbe(now: number): void {
    if (this.probeTickPending) {
      this.probeTickPending = false
      this.startProbe(now)
    }
  }

  /** Drops dead and left entries older than `gossipToTheDeadTime`, then reshuffles. */
  private resetNodes(now: number): void {
    const keep: Array<Entry> = []
    for (const n of this.nodes) {
      if (n.deadOrLeft && n.name !== this.name && now - n.stateChange > this.config.gossipToTheDeadTime) {
        this.byName.delete(n.name)
        this.byNameOrder.splice(nameIndex(this.byNameOrder, n.name), 1)
        this.membersChanged = true
        this.publish({ _tag: "MemberReaped", member: n.snapshot })
      } else {
        keep.push(n)
      }
    }
    for (let i = keep.length - 1; i > 0; i--) {
      const j = Math.floor(this.env.random() * (i + 1))
      ;[keep[i], keep[j]] = [keep[j]!, keep[i]!]
    }
    this.nodes.length = 0
    this.nodes.push(...keep)
  }

  private handlePing(from: string, p: Ping): void {
    // A ping for someone else (a stale address after a restart) must not be answered.
    if (p.node !== "" && p.node !== this.name) return
    const replyTo = p.sourceAddr !== null && p.sourceAddr.length > 0 && p.sourcePort > 0
      ? addressOf(p.sourceAddr, p.sourcePort)
      : from
    this.sendWithPiggyback(replyTo, Msg.ack(p.seqNo, null))
  }

  private handleIndirectPing(from: string, ind: IndirectPing, now: number): void {
    const seqNo = this.nextSeqNo()
    const replyTo = ind.sourceAddr !== null && ind.sourceAddr.length > 0 && ind.sourcePort > 0
      ? addressOf(ind.sourceAddr, ind.sourcePort)
      : from
    this.ackHandlers.set(seqNo, { kind: "relay", seqNo: ind.seqNo, replyTo, nack: ind.nack })
    this.setTimer(timerKeys.relay(seqNo), now + this.config.probeTimeout)
    this.sendWithPiggyback(addressOf(ind.target, ind.port), this.ping(seqNo, ind.node))
  }

  private handleAck(seqNo: number, now: number): void {
    const handler = this.ackHandlers.get(seqNo)
    if (handler === undefined) return
    this.ackHandlers.delete(seqNo)
    if (handler.kind === "relay") {
      this.out.push({ _tag: "CancelTimer", key: timerKeys.relay(seqNo) })
      this.sendWithPiggyback(handler.replyTo, Msg.ack(handler.seqNo, null))
      return
    }
    if (this.probe !== undefined && this.probe.seqNo === seqNo) this.probeSucceeded(now)
  }

  private handleNack(seqNo: number): void {
    const p = this.probe
    if (p !== undefined && p.seqNo === seqNo && this.ackHandlers.has(seqNo)) p.nacks++
  }

  private relayExpired(seqNo: number): void {
    const handler = this.ackHandlers.get(seqNo)
    if (handler === undefined || handler.kind !== "relay") return
    this.ackHandlers.delete(seqNo)
    if (handler.nack) this.sendWithPiggyback(handler.replyTo, Msg.nack(handler.seqNo))
  }

  // ---------------------------------------------------------------------------------------------
  // Dissemination

  private gossip(now: number): void {
    const c = this.config
    const targets = this.kRandomNodes(c.gossipNodes, (n) => {
      if (n.name === this.name) return false
      if (n.state === "alive" || n.state === "suspect") return true
      return n.state === "dead" && now - Math.max(n.stateChange, n.contactedAt) <= c.gossipToTheDeadTime
    })
    const limit = c.udpBufferSize - this.env.compoundHeaderOverhead - this.env.packetOverhead()
    for (const node of targets) {
      const parts = this.takeBroadcasts(this.env.compoundPartOverhead, limit)
      if (parts.length === 0) return
      this.out.push({ _tag: "SendPacket", to: node.address, parts, checksum: node.pMax >= 5 })
    }
  }

  private pushPullTick(): void {
    const [node] = this.kRandomNodes(1, (n) => n.name !== this.name && n.state === "alive")
    if (node !== undefined) this.out.push({ _tag: "StartPushPull", to: node.address, node: node.name, join: false })
  }

  /**
   * Tries a push/pull with one random failed member, as serf does, so that two sides of a
   * healed partition find each other again long after they stopped gossiping to the dead.
   * The more failed members relative to live ones, the likelier an attempt.
   */
  private reconnectTick(now: number): void {
    for (const [name, f] of this.failed) {
      if (now - f.failedAt > this.config.reconnectTimeout) this.failed.delete(name)
    }
    if (this.failed.size === 0) return
    const live = Math.max(1, this.numMembers - 1)
    if (this.env.random() > this.failed.size / live) return
    const index = Math.floor(this.env.random() * this.failed.size)
    let i = 0
    for (const [name, f] of this.failed) {
      if (i++ === index) {
        this.out.push({ _tag: "StartPushPull", to: f.address, node: name, join: true })
        return
      }
    }
  }

  /** Broadcasts for one packet; `reserved` parts of the compound are already taken. */
  private takeBroadcasts(overhead: number, limit: number, reserved = 0): Array<Uint8Array> {
    const transmitLimit = retransmitLimit(this.config.retransmitMult, this.nodes.length)
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

  /** Sends `message`, with as many queued broadcasts as fit piggybacked onto it. */
  private sendWithPiggyback(to: string, message: PacketMessage): void {
    const bytes = this.env.encode(message)
    const budget = this.config.udpBufferSize - bytes.length - this.env.compoundHeaderOverhead -
      this.env.packetOverhead()
    const extra = this.takeBroadcasts(this.env.compoundPartOverhead, budget, 1)
    const parts = extra.length === 0 ? [bytes] : [bytes, ...extra]
    this.out.push({ _tag: "SendPacket", to, parts, checksum: false })
  }

  private broadcast(node: string, bytes: Uint8Array, notify: number | undefined): void {
    this.broadcasts.enqueue(bytes, node, notify)
    this.armGossip()
  }

  /** Runs the gossip loop at its next tick (or at once, when that tick is past). */
  private armGossip(): void {
    if (this.gossipArmed || this.config.gossipNodes === 0) return
    this.gossipArmed = true
    this.setTimer(timerKeys.gossipTick, this.gossipNext)
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  /** Up to `k` distinct random entries accepted by `accept`, trying at most `3n` draws (memberlist). */
  private kRandomNodes(k: number, accept: (n: Entry) => boolean): Array<Entry> {
    const n = this.nodes.length
    const picked: Array<Entry> = []
    for (let i = 0; i < 3 * n && picked.length < k; i++) {
      const node = this.nodes[Math.floor(this.env.random() * n)]!
      if (!accept(node) || picked.includes(node)) continue
      picked.push(node)
    }
    return picked
  }

  private ping(seqNo: number, node: string): Ping {
    return Msg.ping(seqNo, node, this.env.addr, this.name, this.env.port)
  }

  private selfAlive(incarnation: number, meta: Uint8Array): Alive {
    return {
      _tag: "Alive",
      incarnation,
      node: this.name,
      addr: this.env.addr,
      port: this.env.port,
      meta,
      vsn: this.selfVsn
    }
  }

  private nextSeqNo(): number {
    this.seqNo = (this.seqNo + 1) >>> 0
    return this.seqNo
  }

  private nextIncarnation(): number {
    this.incarnation = (this.incarnation + 1) >>> 0
    return this.incarnation
  }

  private setTimer(key: string, at: number): void {
    this.out.push({ _tag: "SetTimer", key, at })
  }

  private publish(event: MemberEvent): void {
    this.out.push({ _tag: "Publish", event })
  }
}

