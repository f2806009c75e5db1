/**
 * `gossip members` and `gossip stats`: a running agent's member list,
 * filtered and printed as `serf members` prints it (aligned columns `name
 * addr status tags`, or JSON `{"members": […]}`), and its counters.
 */
import { Effect } from "effect"
import { call, printAnswer } from "./ControlClient.ts"
import type { MemberFilters } from "./MemberFilter.ts"
import { memberFilter } from "./MemberFilter.ts"
import type { MemberInfo } from "./MemberInfo.ts"
import { MemberInfoList } from "./MemberInfo.ts"
import type { MembersOptions, TableFormat } from "./Options.ts"
import { formatStats, StatsInfo } from "./StatsInfo.ts"

/** Tags as serf prints them: `key=value` pairs, comma-separated, here sorted by key. */
export const formatTags = (tags: Readonly<Record<string, string>>): string =>
  Object.keys(tags).sort().map((k) => `${k}=${tags[k]}`).join(",")

/** Rows of cells as aligned columns, two spaces apart, the last column unpadded (serf's `columnize`). */
export const columns = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths: Array<number> = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)))
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ").trimEnd())
    .join("\n")
}

/**
 * The member list as `serf members` prints it, sorted by name; `detailed`
 * adds the serf (delegate) protocol version and range, as serf's `-detailed`
 * does, then memberlist's protocol version and range and the incarnation.
 */
export const formatMembers = (members: ReadonlyArray<MemberInfo>, detailed: boolean): string =>
  columns([...members].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((m) => {
    const row = [m.name, m.addr, m.status, formatTags(m.tags)]
    if (!detailed) return row
    return [
      ...row,
      `Protocol Version: ${m.protocol.version}`,
      `Available Protocol Range: [${m.protocol.min}, ${m.protocol.max}]`,
      `Memberlist Protocol: ${m.memberlist.version} [${m.memberlist.min}, ${m.memberlist.max}]`,
      `Incarnation: ${m.incarnation}`
    ]
  }))

/** Everything `gossip members` runs with. */
export interface MembersQuery extends MemberFilters {
  readonly ctl: string
  readonly format: TableFormat
  readonly detailed: boolean
}

/** `GET /v1/members` of the agent at `ctl`, decoded. */
export const fetchMembers = (ctl: string) => call(ctl, "GET", "/v1/members", MemberInfoList)

/** Prints the members of the agent at `options.ctl` that the filters match; exit code 1 when it cannot. */
export const listMembers = Effect.fn("gossip.members")((options: MembersQuery) => {
  const matches = memberFilter(options)
  return printAnswer(
    fetchMembers(options.ctl),
    `cannot list members through the agent at ${options.ctl}`,
    (members) => {
      const shown = members.filter(matches)
      return options.format === "json"
        ? JSON.stringify({ members: shown }, null, 2)
        : formatMembers(shown, options.detailed)
    }
  )
})

/** Prints the stats of the agent at `options.ctl`: members by state, health score, counters. */
export const printStats = Effect.fn("gossip.stats")((options: MembersOptions) =>
  printAnswer(
    call(options.ctl, "GET", "/v1/stats", StatsInfo),
    `cannot read stats from the agent at ${options.ctl}`,
    (stats) => options.format === "json" ? JSON.stringify(stats, null, 2) : formatStats(stats)
  )
)
