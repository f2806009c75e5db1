/**
 * Link conditions of the simulated network: how long a packet takes from one
 * node to another, how much that varies, how often it is lost, and how often
 * a stream over it fails. Delays are whole milliseconds so that everything due
 * in the same millisecond is delivered in one pass of the scheduler.
 */
import type { Random } from "effect"

/** Conditions on a directed link between two simulated nodes. */
export interface SimLink {
  /** One-way delay in milliseconds (rounded to a whole millisecond). */
  readonly latency: number
  /**
   * Spread of the delay, in ms: each delay is drawn uniformly from the whole
   * milliseconds in `[latency - jitter, latency + jitter]`, never below 0.
   */
  readonly jitter: number
  /** Probability in `[0, 1]` that a packet is lost. Streams ignore it: TCP retransmits what UDP loses. */
  readonly loss: number
  /**
   * Probability in `[0, 1]` that a stream transmission over this link fails for
   * good, as TCP does when its retransmissions give up: a dial from this link's
   * sender is lost (it fails with `Timeout` when its timeout runs out), and each
   * chunk written by this link's sender resets the connection instead of
   * arriving (at the time it would have arrived, both ends fail with `Closed`;
   * bytes written before it still arrive). Separate from `loss` so that packet
   * loss alone leaves streams reliable. Default 0.
   */
  readonly streamLoss: number
}

/** The default link: 1 ms one way, no jitter, no loss of packets or streams. */
export const defaultLink: SimLink = { latency: 1, jitter: 0, loss: 0, streamLoss: 0 }

/** A link with its delay range precomputed, so a packet costs at most two random draws and no arithmetic setup. */
export interface ResolvedLink extends SimLink {
  /** Smallest delay, in ms. */
  readonly base: number
  /** How many whole-millisecond delays are possible (1 when there is no jitter). */
  readonly span: number
}

/** Fills `patch` over `link`; returns an error message instead when a value is out of range. */
export const resolveLink = (link: SimLink, patch: Partial<SimLink> | undefined): ResolvedLink | string => {
  const latency = Math.round(patch?.latency ?? link.latency)
  const jitter = Math.round(patch?.jitter ?? link.jitter)
  const loss = patch?.loss ?? link.loss
  const streamLoss = patch?.streamLoss ?? link.streamLoss
  if (!(latency >= 0 && Number.isFinite(latency))) return `latency must be a finite number >= 0, got ${latency}`
  if (!(jitter >= 0 && Number.isFinite(jitter))) return `jitter must be a finite number >= 0, got ${jitter}`
  if (!(loss >= 0 && loss <= 1)) return `loss must be between 0 and 1, got ${loss}`
  if (!(streamLoss >= 0 && streamLoss <= 1)) return `streamLoss must be between 0 and 1, got ${streamLoss}`
  const base = Math.max(0, latency - jitter)
  return { latency, jitter, loss, streamLoss, base, span: latency + jitter - base + 1 }
}

/** The delay of one transmission over `link`, in whole ms; draws from `random` only when there is jitter. */
export const drawDelay = (link: ResolvedLink, random: Random.Random): number =>
  link.span === 1 ? link.base : link.base + Math.floor(random.nextDoubleUnsafe() * link.span)

/** Whether one packet over `link` is lost; draws from `random` only when the link is lossy. */
export const drawLoss = (link: ResolvedLink, random: Random.Random): boolean =>
  link.loss > 0 && random.nextDoubleUnsafe() < link.loss

/** Whether one dial or stream chunk over `link` fails; draws only when `streamLoss` is set (other runs keep their draws). */
export const drawStreamLoss = (link: ResolvedLink, random: Random.Random): boolean =>
  link.streamLoss > 0 && random.nextDoubleUnsafe() < link.streamLoss
