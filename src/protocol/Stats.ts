/**
 * The core's counters. The parts of the core add to one mutable record; the
 * shell only ever gets copies (`NodeCore.stats()`), taken inside the actor.
 */

/** Counters the shell exports as metrics. */
export interface CoreStats {
  readonly probes: number
  readonly probeFailures: number
  readonly suspicionsRaised: number
  readonly refutations: number
  readonly conflicts: number
  readonly rejectedAlives: number
  /** Alive messages and push/pulls refused because a member runs an incompatible application. */
  readonly incompatible: number
}

export type Counters = { -readonly [K in keyof CoreStats]: number }

export const zeroCounters = (): Counters => ({
  probes: 0,
  probeFailures: 0,
  suspicionsRaised: 0,
  refutations: 0,
  conflicts: 0,
  rejectedAlives: 0,
  incompatible: 0
})
