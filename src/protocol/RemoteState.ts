/**
 * A remote push/pull state as a merge reads it, entry by entry. A state that a node sharing our
 * directory built comes with a digest of ids (`Directory.pushPull`): its states, incarnations and
 * version vectors are read from the digest and the directory, and the entries themselves only
 * when something is new. Any other state is read from its entries.
 */
import type { Directory } from "./Directory.ts"
import type { PushNodeState, PushPull, WireState } from "./Messages.ts"
import { digestOf, INCARNATION, NAME, STATE, WORDS } from "./StateDigest.ts"

export class RemoteState {
  readonly nodes: ReadonlyArray<PushNodeState>
  readonly length: number
  private readonly directory: Directory
  private readonly digest: Uint32Array | undefined

  constructor(remote: PushPull | ReadonlyArray<PushNodeState>, directory: Directory) {
    const whole = "_tag" in remote
    this.nodes = whole ? remote.nodes : remote
    this.length = this.nodes.length
    this.directory = directory
    // a digest of our directory's ids: one another directory made numbers other records
    const digest = whole ? digestOf(remote) : undefined
    this.digest = digest !== undefined && digest.directory === directory ? digest.words : undefined
  }

  /** Entry `i`'s announcement id, when the directory built it and still vouches for it; else -1. */
  announcement(i: number): number {
    return this.digest === undefined
      ? this.directory.announcementOf(this.nodes[i]!)
      : this.directory.vouched(this.digest, i)
  }

  /** Entry `i`'s name id; only for an entry whose `announcement` is vouched for. */
  nameId(i: number): number {
    return this.digest === undefined
      ? this.directory.nameOfAnnouncement(this.announcement(i))
      : this.digest[i * WORDS + NAME]!
  }

  state(i: number): WireState {
    return this.digest === undefined
      ? this.nodes[i]!.state
      : this.digest[i * WORDS + STATE] as WireState
  }

  incarnation(i: number): number {
    return this.digest === undefined
      ? this.nodes[i]!.incarnation
      : this.digest[i * WORDS + INCARNATION]!
  }

  /** Entry `i`'s version vector: the directory's array for an announcement vouched for. */
  vsn(i: number): Uint8Array | null {
    const announcement = this.announcement(i)
    return announcement >= 0 ? this.directory.vsnOf(announcement) : this.nodes[i]!.vsn
  }

  name(i: number): string {
    return this.nodes[i]!.name
  }
}
