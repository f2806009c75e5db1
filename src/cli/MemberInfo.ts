/**
 * One row of the control endpoint's `GET /v1/members`: the schema both the
 * agent (which answers) and `gossip members` (which decodes the answer) use.
 */
import { Schema } from "effect"
import type { Member } from "../Member.ts"
import { decodeTags } from "../serf/Tags.ts"

/** A member as the control endpoint reports it; `tags` are the serf tags decoded from its meta. */
export const MemberInfo = Schema.Struct({
  name: Schema.String,
  address: Schema.String,
  state: Schema.Literals(["alive", "suspect", "dead", "left"]),
  incarnation: Schema.Number,
  tags: Schema.Record(Schema.String, Schema.String)
})
export type MemberInfo = typeof MemberInfo.Type

/** The body of `GET /v1/members`. */
export const MemberInfoList = Schema.Array(MemberInfo)

/** A member table entry as a `MemberInfo`: plain data, ready for JSON. */
export const toMemberInfo = (member: Member): MemberInfo => ({
  name: member.name,
  address: member.address,
  state: member.state,
  incarnation: member.incarnation,
  tags: decodeTags(member.meta)
})
