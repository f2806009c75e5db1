/**
 * `gossip members`: asks a running agent's control endpoint for its member
 * table and prints it, as a table like `serf members` or as JSON.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Console, Effect } from "effect"
import type { Schema } from "effect"
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
 * `GET path` of the agent at `ctl` (`ip:port`), decoded with `schema`. Through
 * `node:http` rather than `fetch`, which refuses some ports (6000, 6665, …)
 * that a control endpoint may well use.
 */
const getJson = <A, I>(ctl: string, path: string, schema: Schema.Codec<A, I>) =>
  HttpClient.get(`http://${ctl}${path}`).pipe(
    Effect.flatMap(HttpClientResponse.filterStatusOk),
    Effect.flatMap(HttpClientResponse.schemaBodyJson(schema)),
    Effect.timeout(REQUEST_TIMEOUT),
    Effect.provide(NodeHttpClient.layerNodeHttp)
  )

/** `GET /v1/members` of the agent at `ctl`, decoded. */
export const fetchMembers = (ctl: string) => getJson(ctl, "/v1/members", MemberInfoList)

/** `GET /v1/stats` of the agent at `ctl`, decoded. */
export const fetchStats = (ctl: string) => getJson(ctl, "/v1/stats", StatsInfo)

// The innermost cause says what actually happened (ECONNREFUSED, …); the wrappers only say where.
const explain = (error: Error): string => {
  let innermost = error
  for (let depth = 0; depth < 5 && innermost.cause instanceof Error; depth++) innermost = innermost.cause
  return innermost === error ? error.message : `${error.message}: ${innermost.message}`
}

/** Prints what `fetch` got from the agent, as JSON or as `text` renders it; exit code 1 with `failure` when it cannot. */
const printFromAgent = <A>(
  options: MembersOptions,
  fetch: Effect.Effect<A, Error>,
  failure: string,
  text: (a: A) => string
) =>
  Effect.gen(function*() {
    const value = yield* fetch.pipe(
      Effect.mapError((cause) =>
        new CliError.UserError({ cause, userMessage: `${failure} ${options.ctl}: ${explain(cause)}` })
      )
    )
    yield* Console.log(options.format === "json" ? JSON.stringify(value, null, 2) : text(value))
  })

/** Prints the stats of the agent at `options.ctl`: members by state, health score, counters. */
export const printStats = Effect.fn("gossip.stats")((options: MembersOptions) =>
  printFromAgent(options, fetchStats(options.ctl), "cannot read stats from the agent at", formatStats)
)

/** Prints the member table of the agent at `options.ctl`; a clear message and exit code 1 when it cannot. */
export const listMembers = Effect.fn("gossip.members")((options: MembersOptions) =>
  printFromAgent(options, fetchMembers(options.ctl), "cannot list members through the agent at", formatTable)
)
