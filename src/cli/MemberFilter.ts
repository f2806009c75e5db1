/**
 * The filters of `gossip members`, with `serf members`' semantics: `--status`,
 * `--name` and each `--tag key=regexp` are regular expressions that must match
 * the whole value (serf anchors them at both ends), and a member is listed
 * only when every filter given matches. A member without the tag is matched
 * as if its value were empty. A filter that is not a valid regular expression
 * (or a status filter that no status can match) is a usage error.
 */
import { Option, Schema, SchemaTransformation } from "effect"
import type { MemberInfo } from "./MemberInfo.ts"
import { Tag } from "./Options.ts"
import { SERF_STATUSES } from "./SerfView.ts"

/** `expr` as a regular expression that must match a whole value. */
export const anchored = (expr: string): RegExp => new RegExp(`^(?:${expr})$`)

const compileProblem = (expr: string): string | undefined => {
  try {
    anchored(expr)
    return undefined
  } catch (e) {
    return `not a valid regular expression (${e instanceof Error ? e.message : String(e)})`
  }
}

/** A regular expression given on the command line, checked when parsed. */
export const Pattern = Schema.String.check(Schema.makeFilter((expr: string) => compileProblem(expr) ?? true))

/** `--status`: a pattern that matches at least one of serf's statuses. */
export const StatusPattern = Pattern.check(Schema.makeFilter((expr: string) =>
  compileProblem(expr) !== undefined ||
  SERF_STATUSES.some((status) => anchored(expr).test(status)) ||
  `matches none of the statuses ${SERF_STATUSES.join(", ")}`
))

/** `--tag key=regexp`, decoded to `[key, regexp]`. */
export const TagPattern = Tag.pipe(
  Schema.decodeTo(
    Schema.Tuple([Schema.String, Schema.String]).check(Schema.makeFilter(([, expr]: readonly [string, string]) =>
      compileProblem(expr) ?? true
    )),
    SchemaTransformation.transform({ decode: (pair) => pair, encode: (pair) => pair })
  )
)

/** The filters given to `gossip members`. */
export interface MemberFilters {
  readonly status: Option.Option<string>
  readonly name: Option.Option<string>
  readonly tags: ReadonlyArray<readonly [string, string]>
}

/** A predicate that holds for the members every given filter matches. */
export const memberFilter = (filters: MemberFilters): (member: MemberInfo) => boolean => {
  const status = Option.map(filters.status, anchored)
  const name = Option.map(filters.name, anchored)
  const tags = filters.tags.map(([key, expr]) => [key, anchored(expr)] as const)
  return (member) =>
    (Option.isNone(status) || status.value.test(member.status)) &&
    (Option.isNone(name) || name.value.test(member.name)) &&
    tags.every(([key, pattern]) => pattern.test(Object.hasOwn(member.tags, key) ? member.tags[key]! : ""))
}
