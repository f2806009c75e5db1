/**
 * Lifeguard local health awareness: a score in [0, max - 1] that grows when this
 * node misses acks it should have seen (a sign that it, not its peers, is slow)
 * and shrinks with every successful probe. It stretches probe timeouts so that a
 * struggling node accuses others less eagerly.
 */
export class Awareness {
  private current = 0
  /** memberlist's `AwarenessMaxMultiplier`: the score stays below it. */
  readonly max: number
  /** When false the score stays 0 (classic SWIM, for comparison). */
  readonly enabled: boolean

  constructor(max: number, enabled = true) {
    this.max = max
    this.enabled = enabled
  }

  /** The current health score: 0 is healthy. */
  get score(): number {
    return this.current
  }

  applyDelta(delta: number): void {
    if (!this.enabled) return
    this.current = Math.min(this.max - 1, Math.max(0, this.current + delta))
  }

  /** `timeout × (score + 1)`. */
  scaleTimeout(timeoutMillis: number): number {
    return timeoutMillis * (this.current + 1)
  }
}
