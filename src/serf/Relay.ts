/**
 * Passing serf's messages on. Every serf agent re-gossips the intents, events
 * and queries it hears for the first time; a member that only consumed them
 * would swallow part of serf's few retransmissions, and some agents would miss
 * a leave (showing the node failed) or an event. This relay does what an agent
 * does: the first copy of each is gossiped on, unchanged and unwrapped.
 */
import { Effect, Layer, Stream } from "effect"
import { Membership } from "../Membership.ts"
import { decodeSerfMessage, type SerfMessage } from "./Messages.ts"

/** Identity of a relayable serf message; undefined for what serf does not re-gossip. */
export const relayKey = (m: SerfMessage): string | undefined => {
  switch (m._tag) {
    case "Leave":
      return `leave/${m.node}/${m.ltime}`
    case "Join":
      return `join/${m.node}/${m.ltime}`
    case "UserEvent":
      return `event/${m.ltime}/${m.name}/${m.payload === null ? "" : Buffer.from(m.payload).toString("base64")}`
    case "Query":
      // Flag 2 asks not to re-broadcast.
      return (m.flags & 2) !== 0 ? undefined : `query/${m.ltime}/${m.id}`
    default:
      return undefined
  }
}

/** Remembers the most recent keys, forgetting the oldest first. */
export class Seen {
  private readonly keys = new Set<string>()
  private readonly capacity: number
  constructor(capacity: number) {
    this.capacity = capacity
  }
  /** Records `key`; false when it was already there. */
  add(key: string): boolean {
    if (this.keys.has(key)) return false
    this.keys.add(key)
    if (this.keys.size > this.capacity) this.keys.delete(this.keys.values().next().value!)
    return true
  }
}

/** Relays serf's intents, events and queries for as long as the layer lives. */
export const SerfRelay = {
  layer: Layer.effectDiscard(Effect.gen(function*() {
    const membership = yield* Membership
    const seen = new Seen(8192)
    const messages = yield* membership.subscribeMessages
    yield* messages.pipe(
      Stream.runForEach((message) => {
        const serf = decodeSerfMessage(message.payload)
        const key = serf === undefined ? undefined : relayKey(serf)
        if (key === undefined || !seen.add(key)) return Effect.void
        return Effect.ignore(membership.broadcastUnrelayed(message.payload))
      }),
      Effect.forkScoped
    )
  }))
} as const
