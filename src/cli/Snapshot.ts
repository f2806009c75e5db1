/**
 * The agent's snapshot file (`gossip agent --snapshot PATH`): what it needs
 * to come back after a restart as serf's snapshotter lets a serf agent do: the
 * members it knew alive (name and address, to rejoin them), its Lamport clocks
 * (so that its intents stay newer than what the cluster holds) and its
 * keyring (keys installed at runtime survive a restart), plus whether it left
 * gracefully (then, without `--rejoin`, it does not rejoin).
 *
 * One JSON document, rewritten whole and atomically (a temporary file,
 * fsynced, renamed over the old one), so a reader sees the old snapshot or the
 * new one, never a mix. It is bounded: at most `MAX_MEMBERS` members, names of
 * at most 255 characters, addresses of at most 64, `MAX_CLOCKS` clocks named
 * in at most 32 characters and `MAX_KEYS` keys. Even escaped as JSON at its
 * worst (6 bytes a character) that stays under `MAX_SNAPSHOT_BYTES` (2 MiB);
 * the reader refuses a bigger file as corrupt without reading it.
 */
import { Effect, FileSystem, Schema } from "effect"
import type { PlatformError } from "effect"
import { EncryptionKey } from "./Options.ts"

/** What the `format` field must say. */
export const SNAPSHOT_FORMAT = "effect-gossip-snapshot/1"
/** Members recorded at most: more than enough addresses to find a cluster again. */
export const MAX_MEMBERS = 1024
/** Clocks recorded at most. */
export const MAX_CLOCKS = 16
/** Keys recorded at most. */
export const MAX_KEYS = 64
/** The largest snapshot file read. */
export const MAX_SNAPSHOT_BYTES = 2 * 1024 * 1024

const Name = Schema.String.check(Schema.makeFilter((s: string) => (s.length > 0 && s.length <= 255) || "1 to 255 characters"))
const Address = Schema.String.check(Schema.makeFilter((s: string) => (s.length > 0 && s.length <= 64) || "1 to 64 characters"))
const CLOCK_NAME = /^[a-z][a-z0-9_-]{0,31}$/
const LTime = Schema.Number.check(Schema.makeFilter((n: number) => (Number.isSafeInteger(n) && n >= 0) || "a non-negative integer"))
const atMost = (max: number, what: string) => <A>(items: ReadonlyArray<A>) => items.length <= max || `at most ${max} ${what}`

/** One member to rejoin. */
export const SnapshotMember = Schema.Struct({ name: Name, address: Address })
export type SnapshotMember = typeof SnapshotMember.Type

/** The snapshot document. */
export const SnapshotData = Schema.Struct({
  format: Schema.Literal(SNAPSHOT_FORMAT),
  /** The agent left gracefully after writing it. */
  left: Schema.Boolean,
  members: Schema.Array(SnapshotMember).check(Schema.makeFilter(atMost(MAX_MEMBERS, "members"))),
  /** The highest LTime seen, by clock (`member`, `event`, `query`). */
  clocks: Schema.Record(Schema.String, LTime).check(Schema.makeFilter((clocks: Readonly<Record<string, number>>) => {
    const names = Object.keys(clocks)
    const bad = names.find((name) => !CLOCK_NAME.test(name))
    if (bad !== undefined) return `"${bad.slice(0, 40)}" is not a clock name (a-z, 0-9, _ and -, at most 32)`
    return atMost(MAX_CLOCKS, "clocks")(names)
  })),
  /** Base64 keys, the primary first; empty without encryption. */
  keyring: Schema.Array(EncryptionKey).check(Schema.makeFilter(atMost(MAX_KEYS, "keys")))
})
export type SnapshotData = typeof SnapshotData.Type

const codec = Schema.fromJsonString(SnapshotData)

/** The document as the file's text: compact JSON, one line. */
export const encodeSnapshot = (data: SnapshotData): string => `${Schema.encodeSync(codec)(data)}\n`

/** The document in `text`, or why it is not a valid snapshot. */
export const decodeSnapshot = (text: string): { readonly ok: true; readonly data: SnapshotData } | {
  readonly ok: false
  readonly reason: string
} => {
  const result = Schema.decodeUnknownResult(codec)(text)
  return result._tag === "Success" ? { ok: true, data: result.success } : { ok: false, reason: result.failure.message }
}

/** What reading a snapshot file found. */
export type SnapshotRead =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Corrupt"; readonly reason: string }
  | { readonly _tag: "Read"; readonly data: SnapshotData }

/** Reads the snapshot at `path`: missing, corrupt (with the reason) or read. Never fails. */
export const readSnapshot = (path: string): Effect.Effect<SnapshotRead, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    if (!(yield* fs.exists(path))) return { _tag: "Missing" } as const
    const info = yield* fs.stat(path)
    if (info.type !== "File") return { _tag: "Corrupt", reason: `${path} is not a file` } as const
    if (info.size > BigInt(MAX_SNAPSHOT_BYTES)) {
      return { _tag: "Corrupt", reason: `${info.size} bytes, more than a snapshot can hold (${MAX_SNAPSHOT_BYTES})` } as const
    }
    const decoded = decodeSnapshot(yield* fs.readFileString(path))
    return decoded.ok ? { _tag: "Read", data: decoded.data } as const : { _tag: "Corrupt", reason: decoded.reason } as const
  }).pipe(
    Effect.catch((e: PlatformError.PlatformError) => Effect.succeed({ _tag: "Corrupt", reason: e.message } as const))
  )

/**
 * Writes `data` to `path` atomically: into `path.tmp` (owner-only: it holds
 * the keyring), fsynced, then renamed over `path`.
 */
export const writeSnapshot = (path: string, data: SnapshotData): Effect.Effect<void, PlatformError.PlatformError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const temporary = `${path}.tmp`
    yield* Effect.scoped(Effect.gen(function*() {
      const file = yield* fs.open(temporary, { flag: "w", mode: 0o600 })
      yield* file.writeAll(new TextEncoder().encode(encodeSnapshot(data)))
      yield* file.sync
    }))
    yield* fs.rename(temporary, path)
  })
