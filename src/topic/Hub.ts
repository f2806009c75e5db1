/**
 * The topics of one node: which are declared (by whom, with which schema), who
 * subscribes, and the per-topic counters. Inbound topic frames are taken off
 * the actor at once into a bounded queue; one fiber decodes them and hands each
 * value to the topic's subscribers, each through its own bounded queue, so a
 * slow subscriber loses its own deliveries and slows nobody.
 */
import { Effect, Queue, Stream } from "effect"
import type { Scope } from "effect"
import type { ValueCodec } from "../codec/ValueCodec.ts"
import { makeValueCodec } from "../codec/ValueCodec.ts"
import type { UserMessage } from "../runtime/NodeActor.ts"
import type { Delivery, Topic } from "./Declaration.ts"
import { checkName, TopicError } from "./Declaration.ts"
import { Fanout } from "../runtime/Fanout.ts"
import { reportTopicMetrics } from "./Metrics.ts"
import { decodeFrame, encodeFrame, isFrame, nameBytes } from "./Frame.ts"

/** Counters of one topic on one node. */
export interface TopicStats {
  /** Values this node published. */
  readonly published: number
  /** Values this node sent to one member. */
  readonly sent: number
  /** Values received that decoded. */
  readonly received: number
  /** Deliveries handed to subscribers (one value, two subscribers: two). */
  readonly delivered: number
  /** Values received that did not decode with the declared schema, or were too large. */
  readonly decodeErrors: number
  /** Deliveries lost because a subscriber was `bufferSize` behind. */
  readonly dropped: number
  /** Values this node refused to send: not encodable by the schema, or over `maxValueBytes`. */
  readonly refused: number
  /** Subscribers right now. */
  readonly subscribers: number
}

/** What the topic layer of a node has counted. */
export interface TopicsStats {
  /** Per declared topic. */
  readonly byTopic: Readonly<Record<string, TopicStats>>
  /** Frames for topics nobody here declared, per topic name (at most 64 names, then `(other)`). */
  readonly unknown: Readonly<Record<string, number>>
  /** Frames whose header could not be read. */
  readonly malformed: number
  /** Frames dropped because the hub's inbound queue was full. */
  readonly inboundDropped: number
  /** Declarations refused: a name already declared here with another schema or format. */
  readonly conflicts: number
}

export type Counter = "published" | "sent" | "received" | "delivered" | "decodeErrors" | "dropped" | "refused"

interface Declared {
  readonly topic: Topic<unknown>
  readonly subscribers: Fanout<Delivery<unknown>>
  readonly counts: Record<Counter, number>
}

/** Frames waiting to be decoded; beyond this the newest are dropped and counted. */
const INBOUND_CAPACITY = 4096
/** Distinct unknown topic names counted by name; the rest share one count. */
const UNKNOWN_NAMES = 64

export interface TopicHub {
  /** For the node's actor: takes a topic frame (true) or leaves the message alone (false). */
  readonly intercept: (message: UserMessage) => boolean
  declare<A>(topic: Topic<A>): Effect.Effect<void, TopicError>
  /** Declares `topic` and encodes `value` in its frame, checking the size limit. */
  frame<A>(topic: Topic<A>, value: A): Effect.Effect<Uint8Array, TopicError>
  /** Counts a value that went out. */
  counted(topic: string, counter: "published" | "sent" | "refused"): void
  subscribe<A>(topic: Topic<A>): Effect.Effect<Stream.Stream<Delivery<A>>, TopicError, Scope.Scope>
  stats(): TopicsStats
  /** Feeds the counters to the topic metrics; the node runs it once a second. */
  readonly report: Effect.Effect<void>
}

const zero = (): Record<Counter, number> => ({
  published: 0,
  sent: 0,
  received: 0,
  delivered: 0,
  decodeErrors: 0,
  dropped: 0,
  refused: 0
})

/** A node's topic hub; its decoding fiber and metrics reporter live in the scope. */
export const makeTopicHub = (self: string): Effect.Effect<TopicHub, never, Scope.Scope> =>
  Effect.gen(function*() {
    const inbound = yield* Queue.dropping<UserMessage>(INBOUND_CAPACITY)
    const declared = new Map<string, Declared>()
    const unknown = new Map<string, number>()
    let malformed = 0
    let inboundDropped = 0
    let conflicts = 0
    const sender = nameBytes(self)

    const declareNow = <A>(topic: Topic<A>): Declared | TopicError => {
      const bad = checkName(topic.name)
      if (bad !== undefined) return bad
      const existing = declared.get(topic.name)
      if (existing === undefined) {
        const entry: Declared = {
          topic: topic as Topic<unknown>,
          subscribers: new Fanout(topic.bufferSize, "dropping"),
          counts: zero()
        }
        declared.set(topic.name, entry)
        return entry
      }
      if (existing.topic === topic || existing.topic.fingerprint === topic.fingerprint) return existing
      conflicts++
      return new TopicError({
        reason: "Conflict",
        topic: topic.name,
        message: `topic "${topic.name}" is already declared here with another schema or format`
      })
    }

    const declare = <A>(topic: Topic<A>): Effect.Effect<void, TopicError> =>
      Effect.suspend(() => {
        const entry = declareNow(topic)
        return entry instanceof TopicError ? Effect.fail(entry) : Effect.void
      })

    const frame = <A>(topic: Topic<A>, value: A): Effect.Effect<Uint8Array, TopicError> =>
      Effect.suspend(() => {
        const entry = declareNow(topic)
        if (entry instanceof TopicError) return Effect.fail(entry)
        if (sender === undefined) {
          return Effect.fail(new TopicError({ reason: "BadName", topic: topic.name, message: "this node's name does not fit a topic frame" }))
        }
        const encoded = topic.codec.encode(value)
        if (!encoded.ok) {
          entry.counts.refused++
          return Effect.fail(new TopicError({ reason: "Encode", topic: topic.name, message: encoded.error }))
        }
        if (encoded.value.length > topic.maxValueBytes) {
          entry.counts.refused++
          return Effect.fail(
            new TopicError({
              reason: "TooLarge",
              topic: topic.name,
              message: `${encoded.value.length} bytes exceed the topic's limit of ${topic.maxValueBytes}`
            })
          )
        }
        return Effect.succeed(encodeFrame(nameBytes(topic.name)!, sender, topic.format, encoded.value))
      })

    const counted = (topic: string, counter: "published" | "sent" | "refused") => {
      const entry = declared.get(topic)
      if (entry !== undefined) entry.counts[counter]++
    }

    const subscribe = <A>(topic: Topic<A>) =>
      Effect.gen(function*() {
        const entry = declareNow(topic)
        if (entry instanceof TopicError) return yield* entry
        // Each subscription holds `bufferSize` of its own topic's declaration.
        const subscription = yield* entry.subscribers.subscribe(topic.bufferSize)
        return subscription.stream as Stream.Stream<Delivery<A>>
      })

    const intercept = (message: UserMessage): boolean => {
      if (!isFrame(message.payload)) return false
      if (!Queue.offerUnsafe(inbound, message)) inboundDropped++
      return true
    }

    const countUnknown = (name: string) => {
      const key = unknown.has(name) || unknown.size < UNKNOWN_NAMES ? name : "(other)"
      unknown.set(key, (unknown.get(key) ?? 0) + 1)
    }

    /** Decodes one frame and hands it out; what cannot be delivered is counted and logged. */
    const dispatch = (message: UserMessage): Effect.Effect<void> => {
      const frame = decodeFrame(message.payload)
      if (frame === undefined) {
        malformed++
        return Effect.logDebug("dropped a malformed topic frame", message.from)
      }
      const entry = declared.get(frame.topic)
      if (entry === undefined) {
        countUnknown(frame.topic)
        return Effect.logDebug("dropped a message for an undeclared topic", frame.topic, frame.sender)
      }
      const topic = entry.topic
      if (frame.value.length > topic.maxValueBytes) {
        entry.counts.decodeErrors++
        return Effect.logDebug("dropped an oversized topic value", frame.topic, frame.sender, frame.value.length)
      }
      // The sender may write either format; the schema decides what is acceptable.
      const codec = frame.format === topic.format ? topic.codec : otherFormat(topic)
      const decoded = codec.decode(frame.value)
      if (!decoded.ok) {
        entry.counts.decodeErrors++
        return Effect.logDebug("dropped a topic value that does not decode", frame.topic, frame.sender, decoded.error)
      }
      entry.counts.received++
      const delivery: Delivery<unknown> = {
        topic: frame.topic,
        from: frame.sender,
        kind: message.origin === undefined ? "direct" : "broadcast",
        value: decoded.value
      }
      const lost = entry.subscribers.publish(delivery)
      entry.counts.delivered += entry.subscribers.size - lost
      entry.counts.dropped += lost
      return Effect.void
    }

    const alternates = new WeakMap<Topic<unknown>, ValueCodec<unknown>>()
    const otherFormat = (topic: Topic<unknown>) => {
      let codec = alternates.get(topic)
      if (codec === undefined) {
        codec = makeValueCodec(topic.schema, topic.format === "json" ? "msgpack" : "json")
        alternates.set(topic, codec)
      }
      return codec
    }

    yield* Effect.forkScoped(Effect.forever(
      Effect.flatMap(Queue.takeAll(inbound), (batch) => Effect.forEach(batch, dispatch, { discard: true }))
    ))

    const stats = (): TopicsStats => {
      const byTopic: Record<string, TopicStats> = {}
      for (const [name, entry] of declared) byTopic[name] = { ...entry.counts, subscribers: entry.subscribers.size }
      return { byTopic, unknown: Object.fromEntries(unknown), malformed, inboundDropped, conflicts }
    }
    const report = reportTopicMetrics(self, stats)

    return { intercept, declare, frame, counted, subscribe, stats, report }
  })
