/**
 * Topics: typed application messages. A `Topic` names a protocol and the
 * `Schema` of its values; `publish` gossips a value to every member, `send`
 * delivers one to a member by name, `subscribe` streams what arrives, decoded.
 * Values that do not decode, and topics nobody here declared, are dropped and
 * counted per topic; they never reach a subscriber.
 */
import { Effect } from "effect"
import type { Scope, Stream } from "effect"
import type { MessageError } from "../Errors.ts"
import { Membership } from "../Membership.ts"
import type { Delivery, Topic } from "./Declaration.ts"
import { TopicError } from "./Declaration.ts"

export type { Delivery, Topic, TopicOptions } from "./Declaration.ts"
export { isTopic, make, TopicError, TopicErrorReason } from "./Declaration.ts"

const fromMessageError = (topic: string) => (e: MessageError): TopicError =>
  new TopicError({ reason: e.reason, topic, message: e.message })

/** The value encoded in its topic's frame, ready to go out. */
const frame = <A>(topic: Topic<A>, value: A) => Membership.use((membership) => membership.topics.frame(topic, value))

/**
 * Gossips `value` to every member: piggybacked and retransmit-limited like membership
 * updates, and passed on by each member that receives it. Not delivered to this node.
 */
export const publish = <A>(topic: Topic<A>, value: A): Effect.Effect<void, TopicError, Membership> =>
  Effect.gen(function*() {
    const membership = yield* Membership
    const bytes = yield* frame(topic, value)
    yield* Effect.mapError(membership.broadcast(bytes), (e) => {
      if (e.reason === "TooLarge") membership.topics.counted(topic.name, "refused")
      return fromMessageError(topic.name)(e)
    })
    membership.topics.counted(topic.name, "published")
  })

/** Sends `value` to one member by name: one datagram when it fits, a reliable stream otherwise. */
export const send = <A>(topic: Topic<A>, member: string, value: A): Effect.Effect<void, TopicError, Membership> =>
  Effect.gen(function*() {
    const membership = yield* Membership
    const bytes = yield* frame(topic, value)
    yield* Effect.mapError(membership.send(member, bytes), fromMessageError(topic.name))
    membership.topics.counted(topic.name, "sent")
  })

/**
 * Subscribes now: the stream holds every value that arrives after this effect returns,
 * until the scope closes. A subscriber that falls `bufferSize` behind loses the newest
 * values (counted as `dropped`); it never slows the node or other subscribers.
 */
export const subscribe = <A>(topic: Topic<A>): Effect.Effect<Stream.Stream<Delivery<A>>, TopicError, Membership | Scope.Scope> =>
  Membership.use((membership) => membership.topics.subscribe(topic))

/**
 * Declares `topic` on this node without subscribing, so its messages count as known.
 * Fails with reason `Conflict` when the name is declared here with another schema or format.
 */
export const declare = <A>(topic: Topic<A>): Effect.Effect<void, TopicError, Membership> =>
  Membership.use((membership) => membership.topics.declare(topic))

