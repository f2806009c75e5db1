/**
 * Version checks: the protocol and delegate version ranges every member
 * announces (memberlist's `verifyProtocol`), and the application announced in
 * front of the metadata (refused members never enter the table). Plain data,
 * no I/O.
 */
import type { GossipConfigValues } from "../Config.ts"
import type { Application } from "./Application.ts"
import { describeApplication, splitMeta } from "./Application.ts"
import type { MemberTable } from "./MemberTable.ts"
import type { PushNodeState } from "./Messages.ts"
import { WireState } from "./Messages.ts"
import type { Outbox } from "./Outputs.ts"
import type { RemoteState } from "./RemoteState.ts"

/** The memberlist protocol versions we understand (CRC, TCP ping, nacks included). */
export const PROTOCOL_MIN = 1
export const PROTOCOL_MAX = 5

/** Why a push/pull state was refused as a whole. */
export type StateRefusal =
  | { readonly _tag: "Protocol"; readonly message: string }
  | {
    readonly _tag: "Application"
    readonly member: string
    readonly remote: Application | undefined
    readonly message: string
  }

/** The six version bytes we read from an alive: exactly 6, anything else is unusable. */
export const validVsn = (vsn: Uint8Array | null): vsn is Uint8Array =>
  vsn !== null && vsn.length === 6 && vsn[0] !== 0 && vsn[1] !== 0 && vsn[0]! <= vsn[1]!

/** Refusals remembered (by member) so that gossip repeating an alive publishes it once. */
const REFUSED_CAPACITY = 1024

/**
 * The versions every member of a combined cluster speaks (memberlist's `verifyProtocol`), and
 * which current versions fall outside them. Members share a handful of version vectors (the
 * directory's arrays, the decoder's): a vector that is the same array as the one before it
 * changes nothing and is skipped. One per node, reused: a merge reads every entry twice.
 */
class VersionRange {
  private maxPMin = 0
  private minPMax = 255
  private maxDMin = 0
  private minDMax = 255
  private widened: Uint8Array | null = null
  /** The last vector found within the range: the same array again passes again. */
  private passed: Uint8Array | null = null

  reset(): void {
    this.maxPMin = 0
    this.minPMax = 255
    this.maxDMin = 0
    this.minDMax = 255
    this.widened = null
    this.passed = null
  }

  widen(v: Uint8Array): void {
    if (v === this.widened) return
    this.widened = v
    this.maxPMin = Math.max(this.maxPMin, v[0]!)
    this.minPMax = Math.min(this.minPMax, v[1]!)
    this.maxDMin = Math.max(this.maxDMin, v[3]!)
    this.minDMax = Math.min(this.minDMax, v[4]!)
  }

  /** The vector itself when its current protocol or delegate version is outside the range. */
  outside(vsn: Uint8Array | null): Uint8Array | null | undefined {
    if (vsn !== null && vsn === this.passed) return undefined
    if (!this.protocolFits(vsn) || !this.delegateFits(vsn)) return vsn
    this.passed = vsn
    return undefined
  }

  /** Why `vsn`, found `outside`, is refused. */
  describe(vsn: Uint8Array | null, name: string): string {
    return this.protocolFits(vsn)
      ? `node '${name}' delegate protocol version (${current(vsn, 5)}) is incompatible: [${this.maxDMin}, ${this.minDMax}]`
      : `node '${name}' protocol version (${current(vsn, 2)}) is incompatible: [${this.maxPMin}, ${this.minPMax}]`
  }

  private protocolFits(vsn: Uint8Array | null): boolean {
    const p = current(vsn, 2)
    return p >= this.maxPMin && p <= this.minPMax
  }

  private delegateFits(vsn: Uint8Array | null): boolean {
    const d = current(vsn, 5)
    return d >= this.maxDMin && d <= this.minDMax
  }
}

/** A vector's current protocol (at 2) or delegate (at 5) version; 0 when it is missing or short. */
const current = (vsn: Uint8Array | null, at: 2 | 5): number => (vsn !== null && vsn.length >= 6 ? vsn[at]! : 0)

export class Versions {
  /** Our own `[pmin, pmax, pcur, dmin, dmax, dcur]`. */
  readonly self: Uint8Array
  private readonly range = new VersionRange()
  private readonly config: GossipConfigValues
  private readonly out: Outbox
  /** Members refused for their application, with the incarnation last refused (bounded). */
  private readonly refused = new Map<string, number>()

  constructor(config: GossipConfigValues, out: Outbox) {
    this.config = config
    this.out = out
    this.self = Uint8Array.of(
      PROTOCOL_MIN,
      PROTOCOL_MAX,
      config.protocolVersion,
      config.delegateProtocolMin,
      config.delegateProtocolMax,
      config.delegateProtocolVersion
    )
  }

  /** Whether a member announcing `meta` may share the cluster with our application. */
  admits(meta: Uint8Array | null): boolean {
    const local = this.config.application
    return local === undefined || this.config.compatible(local, splitMeta(meta).application)
  }

  /** Publishes a refusal once per member and incarnation (gossip repeats an alive many times). */
  noteRefused(name: string, incarnation: number, meta: Uint8Array | null): void {
    if (this.refused.get(name) === incarnation) return
    this.refused.delete(name)
    this.refused.set(name, incarnation)
    if (this.refused.size > REFUSED_CAPACITY) this.refused.delete(this.refused.keys().next().value!)
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
  verifyApplications(remote: ReadonlyArray<PushNodeState>): StateRefusal | undefined {
    const local = this.config.application
    if (local === undefined) return undefined
    let first: PushNodeState | undefined
    for (const r of remote) {
      if (r.state !== WireState.alive || r.name === this.config.name) continue
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

  /** memberlist's `verifyProtocol`: every version in the combined cluster within everyone's range. */
  verifyProtocol(remote: RemoteState, table: MemberTable): string | undefined {
    const range = this.range
    range.reset()
    for (let i = 0; i < remote.length; i++) {
      if (remote.state(i) !== WireState.alive) continue
      const vsn = remote.vsn(i)
      if (vsn !== null && vsn.length >= 6) range.widen(vsn)
    }
    for (let slot = 0; slot < table.size; slot++) {
      if (table.state(slot) === WireState.alive) range.widen(table.vsn(slot))
    }
    for (let i = 0; i < remote.length; i++) {
      const bad = range.outside(remote.vsn(i))
      if (bad !== undefined) return range.describe(bad, remote.name(i))
    }
    for (let slot = 0; slot < table.size; slot++) {
      const bad = range.outside(table.vsn(slot))
      if (bad !== undefined) return range.describe(bad, table.name(slot))
    }
    return undefined
  }
}
