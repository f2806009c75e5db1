/**
 * Members as the public API shows them: an immutable snapshot of one entry of
 * the member table.
 */
import type { Application } from "./protocol/Application.ts"
import type { WireState } from "./protocol/Messages.ts"

/** The life cycle of a member. `left` is a graceful leave; `dead` is a detected failure. */
export type MemberState = "alive" | "suspect" | "dead" | "left"

export const stateToWire: Record<MemberState, WireState> = { alive: 0, suspect: 1, dead: 2, left: 3 }
export const stateFromWire: ReadonlyArray<MemberState> = ["alive", "suspect", "dead", "left"]

/** Protocol (`p*`) and delegate/application (`d*`) version ranges a member advertises. */
export interface Versions {
  readonly protocolMin: number
  readonly protocolMax: number
  readonly protocolCur: number
  readonly delegateMin: number
  readonly delegateMax: number
  readonly delegateCur: number
}

/** One member of the cluster, as last learned. */
export interface Member extends Versions {
  /** Unique node name. */
  readonly name: string
  /** Advertised IP, as raw bytes (4 or 16). */
  readonly addr: Uint8Array
  /** Advertised IP as text. */
  readonly host: string
  /** Advertised port (UDP and TCP). */
  readonly port: number
  /** `host:port`. */
  readonly address: string
  /** Application metadata (at most `GossipConfig.metaMaxSize` bytes), without the application header. */
  readonly meta: Uint8Array
  /** The application the member announces (see `GossipConfigInput.application`); undefined when none. */
  readonly application: Application | undefined
  /** The member's own incarnation number: it increases on refutation and on metadata updates. */
  readonly incarnation: number
  readonly state: MemberState
  /** When this node last saw the state change (Clock millis). */
  readonly stateChange: number
}
