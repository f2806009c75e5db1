/**
 * One row of the control endpoint's `GET /v1/members`: the schema both the
 * agent (which answers) and `gossip members` (which decodes and prints the
 * answer) use. The fields follow `serf members -format json` (`name`, `addr`,
 * `port`, `tags`, `status`, and `protocol`: the serf/delegate versions), with
 * what memberlist adds: its own state, the incarnation and its protocol versions.
 */
import { Schema } from "effect"
import { decodeTags } from "../serf/Tags.ts"
import { SERF_STATUSES, type SerfMember } from "./SerfView.ts"

/** A protocol version range and the version in use, named as serf names them. */
export const VersionRange = Schema.Struct({ min: Schema.Number, max: Schema.Number, version: Schema.Number })

/** A member as the control endpoint reports it. */
export const MemberInfo = Schema.Struct({
  name: Schema.String,
  /** `ip:port` */
  addr: Schema.String,
  port: Schema.Number,
  /** serf's tags, decoded from the member's meta. */
  tags: Schema.Record(Schema.String, Schema.String),
  /** serf's status: `alive`, `leaving`, `left` or `failed`. */
  status: Schema.Literals(SERF_STATUSES),
  /** memberlist's state as this node last saw it (a suspect member is still `alive` to serf). */
  state: Schema.Literals(["alive", "suspect", "dead", "left"]),
  incarnation: Schema.Number,
  /** The delegate (serf) protocol versions: what `serf members -detailed` shows. */
  protocol: VersionRange,
  /** memberlist's protocol versions. */
  memberlist: VersionRange
})
export type MemberInfo = typeof MemberInfo.Type

/** The body of `GET /v1/members`. */
export const MemberInfoList = Schema.Array(MemberInfo)

/** A member of the serf view as a `MemberInfo`: plain data, ready for JSON. */
export const toMemberInfo = ({ member, status }: SerfMember): MemberInfo => ({
  name: member.name,
  addr: member.address,
  port: member.port,
  tags: decodeTags(member.meta),
  status,
  state: member.state,
  incarnation: member.incarnation,
  protocol: { min: member.delegateMin, max: member.delegateMax, version: member.delegateCur },
  memberlist: { min: member.protocolMin, max: member.protocolMax, version: member.protocolCur }
})
