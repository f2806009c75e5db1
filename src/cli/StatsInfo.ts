/**
 * The body of the control endpoint's `GET /v1/stats`: a node's view of the
 * cluster (members by state, its Lifeguard health) and its counters. Shared by
 * the agent, which answers, and `gossip stats`, which prints it.
 */
import { Schema } from "effect"
import type { Member } from "../Member.ts"
import type { MembershipStats, NodeStats } from "../Membership.ts"

const Count = Schema.Number

export const StatsInfo = Schema.Struct({
  node: Schema.String,
  members: Schema.Struct({ alive: Count, suspect: Count, dead: Count, left: Count }),
  healthScore: Count,
  counters: Schema.Record(Schema.String, Count)
})
export type StatsInfo = typeof StatsInfo.Type

/** The node's counters as flat `name → number` pairs; topic counters as `topics.<topic>.<counter>`. */
const flatten = (stats: NodeStats | MembershipStats): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const [key, value] of Object.entries(stats)) if (typeof value === "number") out[key] = value
  if ("topics" in stats) {
    const t = stats.topics
    for (const [topic, counts] of Object.entries(t.byTopic)) {
      for (const [key, value] of Object.entries(counts)) out[`topics.${topic}.${key}`] = value
    }
    for (const [topic, n] of Object.entries(t.unknown)) out[`topics.unknown.${topic}`] = n
    out["topics.malformed"] = t.malformed
    out["topics.inboundDropped"] = t.inboundDropped
    out["topics.conflicts"] = t.conflicts
  }
  return out
}

/** Builds the stats body from the member table, the health score and the node's counters. */
export const toStatsInfo = (
  node: string,
  members: ReadonlyArray<Member>,
  healthScore: number,
  counters: NodeStats | MembershipStats
): StatsInfo => {
  const byState = { alive: 0, suspect: 0, dead: 0, left: 0 }
  for (const m of members) byState[m.state]++
  return { node, members: byState, healthScore, counters: flatten(counters) }
}

/** `key  value` lines, aligned, in a stable order. */
export const formatStats = (stats: StatsInfo): string => {
  const rows: Array<readonly [string, string]> = [
    ["node", stats.node],
    ["members.alive", String(stats.members.alive)],
    ["members.suspect", String(stats.members.suspect)],
    ["members.dead", String(stats.members.dead)],
    ["members.left", String(stats.members.left)],
    ["health.score", String(stats.healthScore)],
    ...Object.keys(stats.counters).sort().map((k) => [k, String(stats.counters[k])] as const)
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n")
}
