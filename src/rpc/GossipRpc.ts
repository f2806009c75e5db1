/**
 * effect/rpc between members: serve an `RpcGroup` on a node, call it on a
 * member by name. Requests, responses and streams travel on a channel of the
 * node's stream port, so the node's codec frames, compresses and encrypts them.
 */
import type { Effect } from "effect"
import { Membership } from "../Membership.ts"
import { client } from "./Client.ts"
import { layerServer, serve } from "./Server.ts"
import type { GossipRpcStats } from "./Stats.ts"
import { countersOf } from "./Stats.ts"

const stats: Effect.Effect<GossipRpcStats, never, Membership> = Membership.useSync((m) => countersOf(m).snapshot())

/**
 * effect/rpc on the cluster: `serve` / `layerServer` put a group's handlers on this node,
 * `client` calls them on a member by name, `stats` counts what happened.
 */
export const GossipRpc = {
  /** Serves a group until the scope closes (handlers from context, as `group.toLayer(...)` provides them). */
  serve,
  /** `serve` as a layer. */
  layerServer,
  /** An rpc client for a member by name; its transport failures are `GossipRpcError`. */
  client,
  /** This node's rpc counters (calls refused or lost, connections opened, lost and served). */
  stats
} as const
