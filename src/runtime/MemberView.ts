/**
 * The member table as the shell publishes it: the current table, and a stream
 * of the table after every change. Snapshots are made only for someone: after a
 * change the actor materialises and publishes the table when a stream listens,
 * and otherwise only forgets the copy it had, which the next reader rebuilds.
 * A node of a ten-thousand-member cluster that nobody watches then never copies
 * its table at all.
 */
import { Effect, PubSub, Stream } from "effect"
import type { Member } from "../Member.ts"

export class MemberView {
  private readonly read: () => ReadonlyArray<Member>
  private readonly pubsub: PubSub.PubSub<ReadonlyArray<Member>>
  private copy: ReadonlyArray<Member> | undefined = undefined
  private listeners = 0

  /** `read` materialises the table; it runs synchronously, so it always sees the table between two inputs. */
  constructor(read: () => ReadonlyArray<Member>, pubsub: PubSub.PubSub<ReadonlyArray<Member>>) {
    this.read = read
    this.pubsub = pubsub
  }

  static make(read: () => ReadonlyArray<Member>): Effect.Effect<MemberView> {
    return Effect.map(PubSub.unbounded<ReadonlyArray<Member>>(), (pubsub) => new MemberView(read, pubsub))
  }

  /** The table now. */
  get current(): ReadonlyArray<Member> {
    if (this.copy === undefined) this.copy = this.read()
    return this.copy
  }

  /** For the actor, after a change: publishes the new table to the streams that listen. */
  changed(): void {
    this.copy = undefined
    if (this.listeners > 0) PubSub.publishUnsafe(this.pubsub, this.current)
  }

  /** The table now, then the table after each change, for as long as the stream runs. */
  get changes(): Stream.Stream<ReadonlyArray<Member>> {
    const view = this
    return Stream.unwrap(Effect.gen(function*() {
      const subscription = yield* PubSub.subscribe(view.pubsub)
      view.listeners++
      yield* Effect.addFinalizer(() => Effect.sync(() => view.listeners--))
      return Stream.concat(Stream.succeed(view.current), Stream.fromSubscription(subscription))
    }))
  }
}
