/**
 * Typed membership events, published as they happen.
 */
import type { Member } from "./Member.ts"
import type { Application } from "./protocol/Application.ts"

/** A member appeared, or came back after being dead or having left. */
export interface MemberJoined {
  readonly _tag: "MemberJoined"
  readonly member: Member
}
/** A member's metadata (or address, after a reclaim) changed. */
export interface MemberUpdated {
  readonly _tag: "MemberUpdated"
  readonly member: Member
}
/** A member is suspected of having failed; `from` raised the suspicion. */
export interface MemberSuspected {
  readonly _tag: "MemberSuspected"
  readonly member: Member
  readonly from: string
}
/** A suspected member refuted the suspicion and is alive again. */
export interface MemberAlive {
  readonly _tag: "MemberAlive"
  readonly member: Member
}
/** A member left gracefully. */
export interface MemberLeft {
  readonly _tag: "MemberLeft"
  readonly member: Member
}
/** A member was declared dead; `from` declared it. */
export interface MemberFailed {
  readonly _tag: "MemberFailed"
  readonly member: Member
  readonly from: string
}
/** A dead or left member was removed from the table after `gossipToTheDeadTime`. */
export interface MemberReaped {
  readonly _tag: "MemberReaped"
  readonly member: Member
}

/**
 * A member was kept out of the table: it runs an application this node's compatibility
 * rule refuses. Published (on `Membership.refusals`, not with the member events: it never
 * had a table entry) once per member and incarnation, however often it is heard of.
 */
export interface MemberRefused {
  readonly _tag: "MemberRefused"
  readonly name: string
  /** What it announced (undefined: no application). */
  readonly application: Application | undefined
  readonly reason: string
}

/** Everything that happens to members, as published on `Membership.events`. */
export type MemberEvent =
  | MemberJoined
  | MemberUpdated
  | MemberSuspected
  | MemberAlive
  | MemberLeft
  | MemberFailed
  | MemberReaped
