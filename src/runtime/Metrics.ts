/**
 * Effect `Metric`s of a node, labelled with its name. They are fed from the
 * node's plain counters once a second (a timer of the node's) rather than per
 * packet, which keeps the packet path free of metric bookkeeping.
 *
 * Each labelled series is a metric of its own, made with its attributes, and only once it has
 * something to report. `Metric.withAttributes` would wrap a shared metric instead: the wrapper
 * costs a closure and a context per series, and each update merges the attributes and rebuilds
 * the series key, since the shared metric caches only the key it saw last. With a thousand
 * nodes in one process that was 16 KB of heap per node.
 */
import { Effect, Metric } from "effect"
import type { Context } from "effect"
import type { NodeStats } from "./NodeActor.ts"

/** A counter that is only ever added to: its name and help text, a series per label set. */
export interface CounterSpec {
  readonly name: string
  readonly description: string
}

export const counter = (name: string, description: string): CounterSpec => ({ name, description })

/** The series of `spec` labelled with `attributes`. */
const counterSeries = (spec: CounterSpec, attributes: Record<string, string>): Metric.Counter<number> =>
  Metric.counter(spec.name, { description: spec.description, incremental: true, attributes })

/**
 * One counter series fed from a running total: each `feed` adds what the total grew by since the
 * last. Made once the total has grown from zero, so a series appears once it has counted something.
 */
class FedCounter {
  private readonly series: Metric.Counter<number>
  private total = 0

  constructor(spec: CounterSpec, attributes: Record<string, string>) {
    this.series = counterSeries(spec, attributes)
  }

  feed(total: number, context: Context.Context<never>): void {
    const delta = total - this.total
    if (delta <= 0) return
    this.total = total
    this.series.updateUnsafe(delta, context)
  }
}

/**
 * Feeds counter series from running totals: each call adds to the series (remembered under
 * `key`, with the attributes it was first given) what the total grew by since the previous call.
 */
export const counterFeed = () => {
  const fed = new Map<string, FedCounter>()
  const made = (key: string, spec: CounterSpec, attributes: Record<string, string>): FedCounter => {
    const counter = new FedCounter(spec, attributes)
    fed.set(key, counter)
    return counter
  }
  return (key: string, spec: CounterSpec, total: number, attributes: Record<string, string>): Effect.Effect<void> => {
    if (total <= 0) return Effect.void
    const counter = fed.get(key) ?? made(key, spec, attributes)
    return Effect.withFiber((fiber) => {
      counter.feed(total, fiber.context)
      return Effect.void
    })
  }
}

const counters: ReadonlyArray<readonly [keyof NodeStats, CounterSpec]> = [
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

const gauge = (name: string, description: string, attributes: Record<string, string>) =>
  Metric.gauge(name, { description, attributes })

/** Feeds one node's metrics: call it with the counters and gauges as they are now. */
export const nodeMetrics = (
  node: string
): (stats: NodeStats, gauges: { readonly members: number; readonly health: number }) => Effect.Effect<void> => {
  const attributes = { node }
  const fed: Array<FedCounter | undefined> = counters.map(() => undefined)
  const members = gauge("gossip_members", "Members alive or suspect, self included", attributes)
  const health = gauge("gossip_health_score", "Lifeguard local health score (0 = healthy)", attributes)
  const tableBytes = gauge("gossip_member_table_bytes", "Bytes the member table's columns hold", attributes)
  const queueBytes = gauge("gossip_broadcast_queue_bytes", "Bytes the broadcast queue's columns hold", attributes)
  return (stats, gauges) =>
    Effect.withFiber((fiber) => {
      const context = fiber.context
      for (let i = 0; i < counters.length; i++) {
        const [key, spec] = counters[i]!
        const total = stats[key]
        if (total > 0) (fed[i] ??= new FedCounter(spec, attributes)).feed(total, context)
      }
      members.updateUnsafe(gauges.members, context)
      health.updateUnsafe(gauges.health, context)
      tableBytes.updateUnsafe(stats.tableBytes, context)
      queueBytes.updateUnsafe(stats.queueBytes, context)
      return Effect.void
    })
}
