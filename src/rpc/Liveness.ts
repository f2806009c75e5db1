/**
 * Whether a member can be called, from the member table: a call goes to a
 * member that is alive or suspect (a suspect may refute), never to one that is
 * unknown, dead or left.
 */
import { Effect, Stream } from "effect"
import type { Member } from "../Member.ts"
import type { MembershipShape } from "../Membership.ts"
import { GossipRpcError } from "./GossipRpcError.ts"

/** Why `name` cannot be called right now, or undefined when it can. */
export const absence = (members: ReadonlyArray<Member>, name: string): GossipRpcError | undefined => {
  for (const m of members) {
    if (m.name !== name) continue
    return m.state === "dead" || m.state === "left"
      ? new GossipRpcError({ reason: "MemberGone", member: name, message: `member "${name}" is ${m.state}` })
      : undefined
  }
  return new GossipRpcError({ reason: "UnknownMember", member: name, message: `no member named "${name}"` })
}

/** Checks the current table. */
export const checkMember = (membership: MembershipShape, name: string): Effect.Effect<GossipRpcError | undefined> =>
  Effect.map(membership.currentMembers, (members) => absence(members, name))

/** Completes once `name` is alive or suspect (at once if it already is). */
export const untilCallable = (membership: MembershipShape, name: string): Effect.Effect<void> =>
  Effect.asVoid(Stream.runHead(Stream.filter(membership.members, (members) => absence(members, name) === undefined)))
