/**
 * The digest of a push/pull state that a `Directory` built: per entry, `WORDS` words side by side
 * (name id, announcement id and its generation, incarnation, state). Whoever shares the directory
 * reads the state from it without reading the entries: a receiver merging (`RemoteState`), an
 * in-memory encoder keeping each announcement's bytes (`compact/EntryBytes.ts`). An announcement id
 * with the same generation names the same name, address, port, metadata and versions.
 */
import type { PushPull } from "./Messages.ts"

export const WORDS = 5
export const NAME = 0
export const ANNOUNCEMENT = 1
export const GENERATION = 2
export const INCARNATION = 3
export const STATE = 4

/** A digest, and the directory whose ids it holds. */
export interface StateDigest {
  readonly directory: object
  readonly words: Uint32Array
}

/** A state that comes with a digest (a method, so that encoders and `JSON` see only the state). */
export interface Digested {
  stateDigest(): StateDigest
}

/** The digest `state` comes with, if any and if it has a row for each of its entries. */
export const digestOf = (state: PushPull): StateDigest | undefined => {
  if (typeof (state as Partial<Digested>).stateDigest !== "function") return undefined
  const digest = (state as PushPull & Digested).stateDigest()
  return digest.words.length === state.nodes.length * WORDS ? digest : undefined
}
