/**
 * `gossip members`: asks a running agent's control endpoint for its member
 * table and prints it, as a table like `serf members` or as JSON.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { CliError } from "effect/cli"
import { HttpClient, HttpClientResponse } from "effect/http"
import type { MemberInfo } from "./MemberInfo.ts"
import { MemberInfoList } from "./MemberInfo.ts"
import type { MembersOptions } from "./Options.ts"
import { formatStats, StatsInfo } from "./StatsInfo.ts"

/** How long to wait for the agent: it answers from memory, so a slow answer means trouble. */
const REQUEST_TIMEOUT = "5 seconds"

const formatTags = (tags: Readonly<Record<string, string>>): string =>
  Object.entries(tags).map(([k, v]) => `${k}=${v}`).join(",")

/** The member list as an aligned table: name, address, state, incarnation and tags. */
export const formatTable = (members: ReadonlyArray<MemberInfo>): string => {
  const rows = [
    ["NAME", "ADDRESS", "STATE", "INCARNATION", "TAGS"],
    ...[...members]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((m) => [m.name, m.address, m.state, String(m.incarnation), formatTags(m.tags)])
  ]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((cell, i) => i === r.length - 1 ? cell : cell.padEnd(widths[i]!)).join("  ").trimEnd())
    .join("\n")
}

/**
 * `GET /v1/members` of the agent at `ctl` (`ip:port`), decoded. Through
 * `node:http` rather than `fetch`, which refuses some ports (6000, 6665, …)
 * that a control endpoint may well use.
 */
export const fetchMembers = (ctl: string) =>
  HttpClient.get(`http://${ctl}/v1/members`).pipe(
    Effect.flatMap(HttpClientResponse.filterStatusOk),
    Effect.flatMap(HttpClientResponse.schemaBodyJson(MemberInfoList)),
    Effect.timeout(REQUEST_TIMEOUT),
    Effect.provide(NodeHttpClient.layerNodeHttp)
  )

// The innermost cause says what actually happened (ECONNREFUSED, …); the wrappers only say where.
const explain = (error: Error): string => {
  let innermost = error
  for (let depth = 0; depth < 5 && innermost.cause instanceof Error; depth++) innermost = innermost.cause
  return innermost === error ? error.message : `${error.message}: ${innermost.message}`
}

/** `GET /v1/stats` of the agent at `ctl`, decoded. */
export const fetchStats = (ctl: string) =>
  HttpClient.get(`http://${ctl}/v1/stats`).pipe(
    Effect.flatMap(HttpClientResponse.filterStatusOk),
    Effect.flatMap(HttpClientResponse.schemaBodyJson(StatsInfo)),
    Effect.timeout(REQUEST_TIMEOUT),
    Effect.provide(NodeHttpClient.layerNodeHttp)
  )

/** Prints the stats of the agent at `options.ctl`: members by state, health score, counters. */
export const printStats = Effect.fn("gossip.stats")(function*(options: MembersOptions) {
  const stats = yield* fetchStats(options.ctl).pipe(
    Effect.mapError((cause) =>
      new CliError.UserError({
        cause,
        userMessage: `cannot read stats from the agent at ${options.ctl}: ${explain(cause)}`
      })
    )
  )
  yield* Console.log(options.format === "json" ? JSON.stringify(stats, null, 2) : formatStats(stats))
})

/** Prints the member table of the agent at `options.ctl`; a clear message and exit code 1 when it cannot. */
export const listMembers = Effect.fn("gossip.members")(function*(options: MembersOptions) {
  const members = yield* fetchMembers(options.ctl).pipe(
    Effect.mapError((cause) =>
      new CliError.UserError({
        cause,
        userMessage: `cannot list members through the agent at ${options.ctl}: ${explain(cause)}`
      })
    )
  )
  yield* Console.log(options.format === "json" ? JSON.stringify(members, null, 2) : formatTable(members))
})
