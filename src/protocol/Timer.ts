/**
 * Timers as data: the core asks for a `Timer` to fire at a Clock instant and
 * gets the same value back when it does (foca's style). A timer that can go
 * stale carries a token; the core ignores a fired timer whose token it no
 * longer waits for, so a timer that fires while its cancellation is on the way
 * changes nothing. The periodic ticks are singletons: one of each is ever armed.
 */

/** Start the next probe (every `probeInterval`). */
export interface ProbeTick {
  readonly _tag: "ProbeTick"
}

/** Gossip queued broadcasts (every `gossipInterval`, while any are queued). */
export interface GossipTick {
  readonly _tag: "GossipTick"
}

/** Push/pull with a random member (every `pushPullInterval`, scaled with the cluster). */
export interface PushPullTick {
  readonly _tag: "PushPullTick"
}

/** Try a push/pull with a failed member (every `reconnectInterval`). */
export interface ReconnectTick {
  readonly _tag: "ReconnectTick"
}

/** The running probe's next step: indirect probes after `probeTimeout`, the verdict at its deadline. */
export interface ProbeTimeout {
  readonly _tag: "ProbeTimeout"
  readonly seqNo: number
  readonly token: number
}

/** A suspicion of `member` ran out: it is declared dead unless refuted meanwhile. */
export interface SuspicionTimeout {
  readonly _tag: "SuspicionTimeout"
  readonly member: string
  readonly token: number
}

/** An indirect ping we relay got no ack in time (a nack goes back if asked for). */
export interface RelayTimeout {
  readonly _tag: "RelayTimeout"
  readonly seqNo: number
  readonly token: number
}

export type Timer = ProbeTick | GossipTick | PushPullTick | ReconnectTick | ProbeTimeout | SuspicionTimeout | RelayTimeout

export const probeTick: ProbeTick = { _tag: "ProbeTick" }
export const gossipTick: GossipTick = { _tag: "GossipTick" }
export const pushPullTick: PushPullTick = { _tag: "PushPullTick" }
export const reconnectTick: ReconnectTick = { _tag: "ReconnectTick" }
