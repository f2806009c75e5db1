/**
 * Counters of a node's rpc clients and servers. Each is a plain number (for
 * `GossipRpc.stats`) and an Effect `Metric` labelled with the node name; both
 * change on connection events and failed calls only, never per message.
 */
import { Effect, Metric } from "effect"
import type { MembershipShape } from "../Membership.ts"

/** What a node's rpc clients and servers counted since it started. */
export interface GossipRpcStats {
  /** Calls (and clients) refused at once because the member was unknown, dead or left. */
  readonly callsUnavailable: number
  /** Calls refused at once because the connection was down for another reason (refused, unreachable, silent). */
  readonly callsDisconnected: number
  /** Calls in flight when the connection was lost: the member died or left mid-call, went silent, or closed. */
  readonly callsLost: number
  /** Connections clients opened (the first one and every reconnection). */
  readonly connectionsOpened: number
  /** Client connections that ended with an error. */
  readonly connectionsLost: number
  /** Connections servers accepted. */
  readonly connectionsServed: number
}

export type RpcCounter = keyof GossipRpcStats

const metrics: Record<RpcCounter, Metric.Counter<number>> = {
  callsUnavailable: Metric.counter("gossip_rpc_calls_unavailable", {
    description: "Rpc calls refused at once: member unknown, dead or left",
    incremental: true
  }),
  callsDisconnected: Metric.counter("gossip_rpc_calls_disconnected", {
    description: "Rpc calls refused at once: connection down",
    incremental: true
  }),
  callsLost: Metric.counter("gossip_rpc_calls_lost", {
    description: "Rpc calls in flight when their connection was lost",
    incremental: true
  }),
  connectionsOpened: Metric.counter("gossip_rpc_connections_opened", {
    description: "Rpc client connections opened",
    incremental: true
  }),
  connectionsLost: Metric.counter("gossip_rpc_connections_lost", {
    description: "Rpc client connections ended by an error",
    incremental: true
  }),
  connectionsServed: Metric.counter("gossip_rpc_connections_served", {
    description: "Rpc server connections accepted",
    incremental: true
  })
}

/** One node's counters. */
export class RpcCounters {
  private readonly values: { -readonly [K in RpcCounter]: number } = {
    callsUnavailable: 0,
    callsDisconnected: 0,
    callsLost: 0,
    connectionsOpened: 0,
    connectionsLost: 0,
    connectionsServed: 0
  }
  private readonly labelled: Record<RpcCounter, Metric.Counter<number>>

  constructor(node: string) {
    const attributes = { node }
    this.labelled = {
      callsUnavailable: Metric.withAttributes(metrics.callsUnavailable, attributes),
      callsDisconnected: Metric.withAttributes(metrics.callsDisconnected, attributes),
      callsLost: Metric.withAttributes(metrics.callsLost, attributes),
      connectionsOpened: Metric.withAttributes(metrics.connectionsOpened, attributes),
      connectionsLost: Metric.withAttributes(metrics.connectionsLost, attributes),
      connectionsServed: Metric.withAttributes(metrics.connectionsServed, attributes)
    }
  }

  /** Adds `n` to a counter and its metric. */
  add(counter: RpcCounter, n = 1): Effect.Effect<void> {
    if (n <= 0) return Effect.void
    return Effect.suspend(() => {
      this.values[counter] += n
      return Metric.update(this.labelled[counter], n)
    })
  }

  snapshot(): GossipRpcStats {
    return { ...this.values }
  }
}

// keyed by the node's service value, so counters go away with the node
const byNode = new WeakMap<MembershipShape, RpcCounters>()

/** The counters of the node behind `membership`. */
export const countersOf = (membership: MembershipShape): RpcCounters => {
  let counters = byNode.get(membership)
  if (counters === undefined) {
    counters = new RpcCounters(membership.config.name)
    byNode.set(membership, counters)
  }
  return counters
}
