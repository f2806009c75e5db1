/**
 * `gossip info`: what `serf info` tells an operator about a running agent, as
 * sections of `key = value` strings (the same shape as serf's JSON): the agent
 * (name, address, tags), memberlist's view (members, Lifeguard health score,
 * protocol versions, encryption), serf's (statuses and Lamport clocks), the
 * Node.js runtime, and the node's counters. The agent builds it
 * (`collectInfo`, for `GET /v1/info`); the command prints it.
 */
import { Effect, Schema } from "effect"
import { arch, availableParallelism, platform } from "node:os"
import type { MembershipShape } from "../Membership.ts"
import type { Keyring } from "../security/Keyring.ts"
import { decodeTags } from "../serf/Tags.ts"
import type { TableFormat } from "./Options.ts"
import type { PersistedClock } from "./PersistedClocks.ts"
import type { SerfMembers } from "./SerfMembers.ts"
import { SERF_STATUSES } from "./SerfView.ts"
import { toStatsInfo } from "./StatsInfo.ts"
import { version } from "./Version.ts"

/** The body of `GET /v1/info`: sections of `key = value` strings. */
export const AgentInfo = Schema.Record(Schema.String, Schema.Record(Schema.String, Schema.String))
export type AgentInfo = typeof AgentInfo.Type

/** What `collectInfo` reads. */
export interface InfoSources {
  readonly agent: {
    readonly transport: string
    readonly profile: string
    readonly snapshot: string | undefined
  }
  readonly membership: MembershipShape
  readonly keyring: Keyring | undefined
  readonly serf: SerfMembers["Service"]
  readonly clocks: ReadonlyArray<PersistedClock>
}

const MB = 1024 * 1024

/** The agent's info right now. */
export const collectInfo = (sources: InfoSources): Effect.Effect<AgentInfo> =>
  Effect.gen(function*() {
    const { membership } = sources
    const self = yield* membership.localMember
    const table = yield* membership.currentMembers
    const stats = toStatsInfo(self.name, table, yield* membership.healthScore, yield* membership.stats)
    const listed = yield* sources.serf.members
    const serf: Record<string, string> = { members: String(listed.length) }
    for (const status of SERF_STATUSES) serf[status] = String(listed.filter((m) => m.status === status).length)
    for (const clock of sources.clocks) serf[`${clock.name}_time`] = String(yield* clock.current)
    const memory = process.memoryUsage()
    return {
      agent: {
        name: self.name,
        addr: self.address,
        version,
        transport: sources.agent.transport,
        profile: sources.agent.profile,
        snapshot: sources.agent.snapshot ?? ""
      },
      memberlist: {
        members: String(yield* membership.numMembers),
        alive: String(stats.members.alive),
        suspect: String(stats.members.suspect),
        dead: String(stats.members.dead),
        left: String(stats.members.left),
        health_score: String(stats.healthScore),
        incarnation: String(self.incarnation),
        protocol_min: String(self.protocolMin),
        protocol_max: String(self.protocolMax),
        protocol_version: String(self.protocolCur),
        delegate_min: String(self.delegateMin),
        delegate_max: String(self.delegateMax),
        delegate_version: String(self.delegateCur),
        encrypted: String(sources.keyring !== undefined),
        keys: String(sources.keyring?.keys.length ?? 0)
      },
      serf,
      runtime: {
        node: process.version,
        os: platform(),
        arch: arch(),
        cpu_count: String(availableParallelism()),
        uptime_s: process.uptime().toFixed(0),
        rss_mb: (memory.rss / MB).toFixed(1),
        heap_used_mb: (memory.heapUsed / MB).toFixed(1)
      },
      tags: decodeTags(self.meta),
      counters: Object.fromEntries(Object.entries(stats.counters).map(([k, v]) => [k, String(v)]))
    }
  })

/** serf's text layout: each section, then its `key = value` lines, both sorted. */
export const formatInfo = (info: AgentInfo): string =>
  Object.keys(info).sort().map((section) => {
    const values = info[section]!
    const lines = Object.keys(values).sort().map((key) => `\t${key} = ${values[key]}`)
    return [`${section}:`, ...lines].join("\n")
  }).join("\n")

/**
 * `gossip info`: prints the info of the agent at `ctl`. The HTTP client is read only here:
 * the agent, which collects its info with this module, never loads it.
 */
export const printInfo = Effect.fn("gossip.info")(function*(options: { readonly ctl: string; readonly format: TableFormat }) {
  const { call, printAnswer } = yield* Effect.promise(() => import("./ControlClient.ts"))
  return yield* printAnswer(
    call(options.ctl, "GET", "/v1/info", AgentInfo),
    `cannot read info from the agent at ${options.ctl}`,
    (info) => options.format === "json" ? JSON.stringify(info, null, 2) : formatInfo(info)
  )
})
