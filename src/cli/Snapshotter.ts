/**
 * The running side of `--snapshot`, with serf's snapshotter rules:
 *
 * - at start, the snapshot gives the members to rejoin, the clocks and the
 *   keyring; a corrupt one is reported (a warning with the reason) and ignored;
 * - while the agent runs, a member that joins is recorded, one that fails or
 *   leaves is forgotten, and members the agent has not heard of this run stay
 *   recorded (a restart that finds nobody yet must not forget the cluster);
 * - a graceful leave stops the recording and, without `--rejoin`, forgets every
 *   member, so the next start does not rejoin; with `--rejoin` the members stay
 *   and a restart rejoins them, the leave notwithstanding.
 *
 * Unlike serf, which resets its clocks after a leave, the clocks are always
 * kept: they only move forward, and a restarted agent whose intents were older
 * than what the cluster holds would see them ignored.
 *
 * The file is checked twice a second (serf flushes as often) and rewritten
 * only when something it records changed, and once more when the agent stops.
 */
import { Effect, FileSystem, Random, Schedule } from "effect"
import type { Scope } from "effect"
import type { Keyring } from "../security/Keyring.ts"
import type { PersistedClock } from "./PersistedClocks.ts"
import { readClocks } from "./PersistedClocks.ts"
import type { SerfMembers } from "./SerfMembers.ts"
import type { AgentError } from "./Shutdown.ts"
import { fatal } from "./Shutdown.ts"
import {
  MAX_KEYS,
  MAX_MEMBERS,
  readSnapshot,
  SNAPSHOT_FORMAT,
  type SnapshotData,
  type SnapshotMember,
  writeSnapshot
} from "./Snapshot.ts"

/** How often the snapshot is brought up to date. */
export const FLUSH_INTERVAL = "500 millis"

/** What the snapshot gives a starting agent. */
export interface Restored {
  /** Members to rejoin, in random order, this node excluded; none after a graceful leave without `--rejoin`. */
  readonly previous: ReadonlyArray<SnapshotMember>
  /** The clocks, by name. */
  readonly clocks: Readonly<Record<string, number>>
  /** The keyring, primary first (empty: none recorded). */
  readonly keyring: ReadonlyArray<string>
}

const nothing: Restored = { previous: [], clocks: {}, keyring: [] }

/** Reads the snapshot at `path` for the agent named `self`; logs what it found and never fails. */
export const restore = (path: string, self: string, rejoin: boolean): Effect.Effect<Restored, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const read = yield* readSnapshot(path)
    if (read._tag === "Missing") {
      yield* Effect.logInfo("no snapshot yet").pipe(Effect.annotateLogs({ snapshot: path }))
      return nothing
    }
    if (read._tag === "Corrupt") {
      yield* Effect.logWarning("snapshot ignored: corrupt").pipe(Effect.annotateLogs({ snapshot: path, reason: read.reason }))
      return nothing
    }
    const { data } = read
    const forget = data.left && !rejoin
    const previous = forget ? [] : yield* Random.shuffle(data.members.filter((m) => m.name !== self))
    yield* Effect.logInfo(
      forget
        ? "snapshot restored: left gracefully, not rejoining (--rejoin would)"
        : data.left
        ? "snapshot restored: ignoring the previous leave (--rejoin)"
        : "snapshot restored"
    ).pipe(Effect.annotateLogs({ snapshot: path, members: previous.length, clocks: data.clocks, keys: data.keyring.length }))
    return { previous, clocks: data.clocks, keyring: data.keyring }
  })

/** The running snapshotter. */
export interface Snapshotter {
  /** serf's leave for the snapshot: stops recording members, forgets them unless `--rejoin`, and writes at once. */
  readonly leave: Effect.Effect<void>
}

/** Everything the snapshotter records from. */
export interface SnapshotterOptions {
  readonly path: string
  readonly self: string
  readonly rejoin: boolean
  readonly restored: Restored
  readonly clocks: ReadonlyArray<PersistedClock>
  readonly members: SerfMembers["Service"]
  readonly keyring: Keyring | undefined
}

const fits = (m: SnapshotMember) => m.name.length > 0 && m.name.length <= 255 && m.address.length <= 64

/**
 * Writes a first snapshot (the agent fails to start if it cannot: a path that
 * cannot be written is a mistake to report now, not at the first change), then
 * keeps it up to date until the scope closes, with a last write then.
 */
export const start = (
  options: SnapshotterOptions
): Effect.Effect<Snapshotter, AgentError, Scope.Scope | FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    // insertion order is age: past MAX_MEMBERS the longest-recorded go first
    const recorded = new Map(options.restored.previous.map((m) => [m.name, m.address]))
    let leaving = false
    let left = false
    let seenChanges = -1
    let lastSignature = ""
    let failing = false

    const record = Effect.gen(function*() {
      if (leaving) return
      const changes = yield* options.members.changes
      if (changes === seenChanges) return
      seenChanges = changes
      for (const { member, status } of yield* options.members.members) {
        if (member.name === options.self) continue
        recorded.delete(member.name)
        if (status === "alive" || status === "leaving") recorded.set(member.name, member.address)
      }
      for (const name of recorded.keys()) {
        if (recorded.size <= MAX_MEMBERS) break
        recorded.delete(name)
      }
    })

    const snapshot = Effect.map(readClocks(options.clocks), (clocks): SnapshotData => ({
      format: SNAPSHOT_FORMAT,
      left,
      members: Array.from(recorded, ([name, address]) => ({ name, address })).filter(fits),
      clocks,
      keyring: (options.keyring?.keys ?? []).slice(0, MAX_KEYS).map((k) => Buffer.from(k).toString("base64"))
    }))

    const signatureOf = (data: SnapshotData) =>
      `${data.left}|${seenChanges}|${JSON.stringify(data.clocks)}|${data.keyring.join(",")}`

    const write = Effect.gen(function*() {
      const data = yield* snapshot
      const signature = signatureOf(data)
      if (signature === lastSignature) return
      const result = yield* Effect.result(writeSnapshot(options.path, data).pipe(Effect.provideService(FileSystem.FileSystem, fs)))
      if (result._tag === "Success") {
        lastSignature = signature
        if (failing) yield* Effect.logInfo("snapshot written again").pipe(Effect.annotateLogs({ snapshot: options.path }))
        failing = false
      } else if (!failing) {
        failing = true
        yield* Effect.logWarning("cannot write the snapshot").pipe(
          Effect.annotateLogs({ snapshot: options.path, reason: result.failure.message })
        )
      }
    })

    yield* record
    const first = yield* snapshot
    yield* writeSnapshot(options.path, first).pipe(
      Effect.catch((e) => fatal("cannot write the snapshot", { snapshot: options.path, reason: e.message }))
    )
    lastSignature = signatureOf(first)
    yield* Effect.addFinalizer(() => Effect.andThen(record, write))
    yield* Effect.andThen(record, write).pipe(
      Effect.repeat(Schedule.spaced(FLUSH_INTERVAL)),
      Effect.forkScoped
    )
    return {
      leave: Effect.gen(function*() {
        yield* record
        leaving = true
        left = true
        if (!options.rejoin) recorded.clear()
        yield* write
      })
    }
  })
