/**
 * A node's topic counters as Effect metrics, labelled with the node and the
 * topic, fed from the hub's totals once a second (never per message).
 */
import { Effect } from "effect"
import { counter, counterFeed } from "../runtime/Metrics.ts"
import type { CounterSpec } from "../runtime/Metrics.ts"
import type { Counter, TopicsStats } from "./Hub.ts"

const topicCounters: ReadonlyArray<readonly [Counter, CounterSpec]> = [
  ["published", counter("gossip_topic_published", "Topic values published")],
  ["sent", counter("gossip_topic_sent", "Topic values sent to one member")],
  ["received", counter("gossip_topic_received", "Topic values received and decoded")],
  ["delivered", counter("gossip_topic_delivered", "Topic deliveries handed to subscribers")],
  ["decodeErrors", counter("gossip_topic_decode_errors", "Topic values dropped: not decodable or too large")],
  ["dropped", counter("gossip_topic_dropped", "Topic deliveries dropped: subscriber buffer full")],
  ["refused", counter("gossip_topic_refused", "Topic values refused at the sender: not encodable or too large")]
]
const unknownCounter = counter("gossip_topic_unknown", "Frames for topics not declared on this node")
const malformedCounter = counter("gossip_topic_malformed", "Topic frames with an unreadable header")
const inboundCounter = counter("gossip_topic_inbound_dropped", "Topic frames dropped: inbound queue full")
const conflictCounter = counter("gossip_topic_conflicts", "Topic declarations refused: another schema under the same name")

/** Feeds the hub's counters to its metrics once; the node runs it with its own, once a second. */
export const reportTopicMetrics = (node: string, stats: () => TopicsStats): Effect.Effect<void> => {
  const feed = counterFeed()
  return Effect.gen(function*() {
    const now = stats()
    for (const [topic, s] of Object.entries(now.byTopic)) {
      for (const [field, metric] of topicCounters) yield* feed(`${topic}\0${field}`, metric, s[field], { node, topic })
    }
    for (const [topic, n] of Object.entries(now.unknown)) yield* feed(`${topic}\0unknown`, unknownCounter, n, { node, topic })
    yield* feed("\0malformed", malformedCounter, now.malformed, { node })
    yield* feed("\0inbound", inboundCounter, now.inboundDropped, { node })
    yield* feed("\0conflicts", conflictCounter, now.conflicts, { node })
  })
}
