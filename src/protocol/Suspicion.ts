/**
 * Lifeguard's dynamic suspicion timeout. A suspicion starts at `max` when enough
 * independent confirmations (`k`) can be expected, and every new confirmation
 * pulls the deadline towards `min` on a log curve; with `k = 0` it is simply
 * `min`. Times are Clock milliseconds.
 */

/** `min = mult × max(1, log10(max(1, n))) × interval`, the scale kept to millisecond precision as memberlist does. */
export const suspicionTimeout = (suspicionMult: number, n: number, probeIntervalMillis: number): number => {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)))
  return Math.floor((suspicionMult * Math.floor(nodeScale * 1000) * probeIntervalMillis) / 1000)
}

/**
 * Time left after `c` of `k` confirmations, `elapsed` ms into the suspicion:
 * `max − ln(c + 1) / ln(k + 1) × (max − min)`, floored to whole ms, never below `min`.
 */
export const remainingSuspicionTime = (
  c: number,
  k: number,
  elapsed: number,
  min: number,
  max: number
): number => {
  const frac = Math.log(c + 1) / Math.log(k + 1)
  const raw = max / 1000 - frac * (max / 1000 - min / 1000)
  const timeout = Math.max(min, Math.floor(1000 * raw))
  return timeout - elapsed
}

/** One running suspicion of one member. Mutable: owned by the node's state. */
export class Suspicion {
  private readonly confirmations = new Set<string>()
  private confirmed = 0
  /** Clock millis at which the member is declared dead unless refuted. */
  deadline: number
  /** Confirmations expected before reaching `min`. */
  readonly k: number
  readonly min: number
  readonly max: number
  /** Clock millis when it started. */
  readonly start: number

  /** `from` raised it: it is never counted as a confirmation. */
  constructor(from: string, k: number, min: number, max: number, start: number) {
    this.k = k
    this.min = min
    this.max = max
    this.start = start
    this.confirmations.add(from)
    this.deadline = start + (k < 1 ? min : max)
  }

  /** Independent confirmations so far. */
  get count(): number {
    return this.confirmed
  }

  /**
   * Counts `from` once; returns true when it was new (then the deadline moved and
   * the suspect message is worth re-gossiping).
   */
  confirm(from: string, now: number): boolean {
    if (this.confirmed >= this.k || this.confirmations.has(from)) return false
    this.confirmations.add(from)
    this.confirmed++
    const remaining = remainingSuspicionTime(this.confirmed, this.k, now - this.start, this.min, this.max)
    this.deadline = remaining > 0 ? now + remaining : now
    return true
  }
}

/** memberlist's retransmit limit: `mult × ceil(log10(n + 1))`. */
export const retransmitLimit = (retransmitMult: number, n: number): number =>
  retransmitMult * Math.ceil(Math.log10(n + 1))

/** Push/pull period: the interval up to 32 nodes, then `× (ceil(log2 n − log2 32) + 1)`. */
export const pushPullScale = (intervalMillis: number, n: number): number =>
  n <= 32 ? intervalMillis : intervalMillis * (Math.ceil(Math.log2(n) - Math.log2(32)) + 1)
