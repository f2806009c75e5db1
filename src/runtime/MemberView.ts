/**
 * The member table as the shell publishes it: the current table, and a stream
 * of the table after every change. Snapshots are made only for someone: after a
 * change the actor materialises and publishes the table when a stream listens,
 * and otherwise only forgets the copy it had, which the next reader rebuilds.
 * A node of a ten-thousand-member cluster that nobody watches then never copies
 * its table at all.
 */
import { Effect, Stream } from "effect"
import type { Member } from "../Member.ts"
import { Fanout } from "./Fanout.ts"

/**
 * Tables a listener may fall behind by. A slow listener skips to newer tables (the newest
 * says how things are now), and each skipped table is counted.
 */
const TABLES_BEHIND = 16

export class MemberView {
  private readonly read: () => ReadonlyArray<Member>
  private readonly listeners = new Fanout<ReadonlyArray<Member>>(TABLES_BEHIND, "sliding")
  private copy: ReadonlyArray<Member> | undefined = undefined

  /** `read` materialises the table; it runs synchronously, so it always sees the table between two inputs. */
  constructor(read: () => ReadonlyArray<Member>) {
    this.read = read
  }

  static make(read: () => ReadonlyArray<Member>): Effect.Effect<MemberView> {
    return Effect.sync(() => new MemberView(read))
  }

  /** The table now. */
  get current(): ReadonlyArray<Member> {
    if (this.copy === undefined) this.copy = this.read()
    return this.copy
  }

  /** Tables skipped by listeners that fell behind, in total. */
  get dropped(): number {
    return this.listeners.dropped
  }

  /** For the actor, after a change: publishes the new table to the streams that listen. */
  changed(): void {
    this.copy = undefined
    if (this.listeners.size > 0) this.listeners.publish(this.current)
  }

  /** The table now, then the table after each change, for as long as the stream runs. */
  get changes(): Stream.Stream<ReadonlyArray<Member>> {
    return Stream.unwrap(
      Effect.map(this.listeners.subscribe(), (s) => Stream.concat(Stream.suspend(() => Stream.succeed(this.current)), s.stream))
    )
  }
}
