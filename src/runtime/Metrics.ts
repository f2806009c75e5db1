/**
 * Effect `Metric`s of a node, labelled with its name. They are fed from the
 * node's plain counters once a second (a timer of the node's) rather than per
 * packet, which keeps the packet path free of metric bookkeeping.
 */
import { Effect, Metric } from "effect"
import type { NodeStats } from "./NodeActor.ts"

/** A counter that is only ever added to. */
export const counter = (name: string, description: string): Metric.Counter<number> =>
  Metric.counter(name, { description, incremental: true })

/**
 * Feeds counter metrics from running totals: each call adds to the metric what the total
 * (remembered under `key`) grew by since the previous call.
 */
export const counterFeed = () => {
  const last = new Map<string, number>()
  return (key: string, metric: Metric.Counter<number>, total: number, attributes: Record<string, string>): Effect.Effect<void> => {
    const delta = total - (last.get(key) ?? 0)
    last.set(key, total)
    return delta > 0 ? Metric.update(Metric.withAttributes(metric, attributes), delta) : Effect.void
  }
}

const counters: ReadonlyArray<readonly [keyof NodeStats, Metric.Counter<number>]> = [
  ["packetsReceived", counter("gossip_packets_received", "Datagrams received")],
  ["packetsSent", counter("gossip_packets_sent", "Datagrams sent")],
  ["bytesReceived", counter("gossip_bytes_received", "Datagram bytes received")],
  ["bytesSent", counter("gossip_bytes_sent", "Datagram bytes sent")],
  ["sendErrors", counter("gossip_send_errors", "Datagrams the transport could not send")],
  ["decodeErrors", counter("gossip_decode_errors", "Messages dropped because they could not be decoded")],
  ["streamErrors", counter("gossip_stream_errors", "Inbound streams that failed")],
  ["internalErrors", counter("gossip_internal_errors", "Inputs dropped after an internal error")],
  ["handoffDropped", counter("gossip_handoff_dropped", "Inbound messages dropped: handoffQueueDepth waiting for the node")],
  ["eventsDropped", counter("gossip_events_dropped", "Membership events lost by subscribers that fell behind")],
  ["messagesDropped", counter("gossip_messages_dropped", "Application messages lost by subscribers that fell behind")],
  ["tablesSkipped", counter("gossip_tables_skipped", "Member tables skipped by members streams that fell behind")],
  ["probes", counter("gossip_probes", "Probes started")],
  ["probeFailures", counter("gossip_probe_failures", "Probes that ended in a suspicion")],
  ["suspicionsRaised", counter("gossip_suspicions", "Members this node marked suspect")],
  ["refutations", counter("gossip_refutations", "Accusations about this node that it refuted")],
  ["conflicts", counter("gossip_address_conflicts", "Alive messages refused for a conflicting address")],
  ["rejectedAlives", counter("gossip_rejected_alives", "Alive messages refused for unusable versions")],
  ["incompatible", counter("gossip_incompatible_members", "Alives and push/pulls refused for an incompatible application")],
  ["channelsAccepted", counter("gossip_channels_accepted", "Inbound channels served")],
  ["channelsRefused", counter("gossip_channels_refused", "Inbound channel hellos refused")]
]

const members = Metric.gauge("gossip_members", { description: "Members alive or suspect, self included" })
const health = Metric.gauge("gossip_health_score", { description: "Lifeguard local health score (0 = healthy)" })
const tableBytes = Metric.gauge("gossip_member_table_bytes", { description: "Bytes the member table's columns hold" })
const queueBytes = Metric.gauge("gossip_broadcast_queue_bytes", { description: "Bytes the broadcast queue's columns hold" })

/** Feeds one node's metrics: call it with the counters and gauges as they are now. */
export const nodeMetrics = (
  node: string
): (stats: NodeStats, gauges: { readonly members: number; readonly health: number }) => Effect.Effect<void> => {
  // labelled once: a node reports every second, and a simulated network has thousands of nodes
  const attributes = { node }
  const labelled = counters.map(([key, metric]) => [key, Metric.withAttributes(metric, attributes)] as const)
  const membersGauge = Metric.withAttributes(members, attributes)
  const healthGauge = Metric.withAttributes(health, attributes)
  const tableGauge = Metric.withAttributes(tableBytes, attributes)
  const queueGauge = Metric.withAttributes(queueBytes, attributes)
  const last = new Map<keyof NodeStats, number>()
  return (stats, gauges) =>
    Effect.withFiber((fiber) => {
      const context = fiber.context
      for (const [key, metric] of labelled) {
        const delta = stats[key] - (last.get(key) ?? 0)
        if (delta <= 0) continue
        last.set(key, stats[key])
        metric.updateUnsafe(delta, context)
      }
      membersGauge.updateUnsafe(gauges.members, context)
      healthGauge.updateUnsafe(gauges.health, context)
      tableGauge.updateUnsafe(stats.tableBytes, context)
      queueGauge.updateUnsafe(stats.queueBytes, context)
      return Effect.void
    })
}
