/**
 * The agent's local HTTP control endpoint, the counterpart of serf's RPC port:
 *
 * - `GET /v1/members`: every member of the table as JSON (`MemberInfo[]`),
 *   answered from the in-memory table without touching the network;
 * - `GET /v1/stats`: members by state, the health score and the node's counters;
 * - `GET /metrics`: every Effect metric of the process in Prometheus' text format;
 * - `POST /v1/leave`: leaves the cluster gracefully, answers once the leave is
 *   done, and the agent then exits.
 *
 * It listens only on the address it is given (meant for loopback): it has no
 * authentication, like serf's RPC without an auth key.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Context, Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import { createRequire } from "node:module"
import { splitHostPort } from "../Address.ts"
import type { MemberInfo } from "./MemberInfo.ts"
import type { StatsInfo } from "./StatsInfo.ts"

// node:http as CommonJS: its ES module facade also evaluates Node's bundled undici (for fetch and
// WebSocket), which would double what the endpoint costs to load
const { createServer } = createRequire(import.meta.url)("node:http") as typeof import("node:http")

/** What the endpoint asks of the running agent. */
export class AgentControl extends Context.Service<AgentControl, {
  /** The member table right now. */
  readonly members: Effect.Effect<ReadonlyArray<MemberInfo>>
  /** Members by state, health and counters right now. */
  readonly stats: Effect.Effect<StatsInfo>
  /** Starts the graceful leave (once, whoever asks) and waits until it is done. */
  readonly leave: Effect.Effect<void>
}>()("effect-gossip/cli/AgentControl") {}

const routes = Layer.mergeAll(
  HttpRouter.add(
    "GET",
    "/v1/members",
    Effect.map(AgentControl.use((control) => control.members), (members) => HttpServerResponse.jsonUnsafe(members))
  ),
  HttpRouter.add(
    "GET",
    "/v1/stats",
    Effect.map(AgentControl.use((control) => control.stats), (stats) => HttpServerResponse.jsonUnsafe(stats))
  ),
  HttpRouter.add(
    "GET",
    "/metrics",
    Effect.map(PrometheusMetrics.format(), (text) =>
      HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4" }))
  ),
  HttpRouter.add(
    "POST",
    "/v1/leave",
    Effect.as(AgentControl.use((control) => control.leave), HttpServerResponse.jsonUnsafe({ left: true })),
    // a client that hangs up must not cancel a leave halfway
    { uninterruptible: true }
  )
)

/**
 * The endpoint on `address` (`ip:port`), with `extraRoutes` served too (the serf routes);
 * it stops, after answering requests in flight, when its scope closes.
 */
export const layer = <R = never>(
  address: string,
  extraRoutes: Layer.Layer<never, never, R | HttpRouter.HttpRouter> = Layer.empty
) => {
  const { host, port } = splitHostPort(address)
  return HttpRouter.serve(Layer.mergeAll(routes, extraRoutes), { disableListenLog: true, disableLogger: true }).pipe(
    Layer.provide(NodeHttpServer.layer(() => createServer(), { host, port: port ?? 0 }))
  )
}
