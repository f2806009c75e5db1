/**
 * serf's keyring file: a JSON array of base64 keys, primary first, written
 * with mode 0600. The agent reads it at start and rewrites it after every
 * change made through the key-management queries. Writes are atomic (a
 * temporary file in the same directory, then a rename), so a crash leaves
 * either the old keyring or the new one, never a torn file.
 */
import { Effect, Schema } from "effect"
import { randomBytes } from "node:crypto"
import { readFile, rename, rm, writeFile } from "node:fs/promises"
import { basename, dirname, join } from "node:path"
import { decodeBase64Key } from "../security/Keyring.ts"

/** The keyring file could not be read, parsed or written. */
export class KeyringFileError extends Schema.TaggedError<KeyringFileError>()("KeyringFileError", {
  path: Schema.String,
  message: Schema.String
}) {}

/** The file's text for `keys` (base64, primary first), as serf writes it (`json.MarshalIndent` with two spaces). */
export const formatKeyringFile = (keys: ReadonlyArray<string>): string => JSON.stringify(keys, null, 2)

/** Parses a keyring file's text: a non-empty array of valid base64 AES keys; the reason otherwise. */
export const parseKeyringFile = (text: string): ReadonlyArray<string> | string => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    return `not JSON (${e instanceof Error ? e.message : String(e)})`
  }
  if (!Array.isArray(value) || !value.every((k) => typeof k === "string")) return "expected a JSON array of base64 keys"
  if (value.length === 0) return "the keyring file contains no keys"
  for (const [i, key] of value.entries()) {
    const decoded = Effect.runSync(Effect.result(decodeBase64Key(key as string)))
    if (decoded._tag === "Failure") return `key ${i + 1}: ${decoded.failure.message}`
  }
  return value as ReadonlyArray<string>
}

/** Reads the keys of a keyring file; `undefined` when the file does not exist. */
export const readKeyringFile = (path: string): Effect.Effect<ReadonlyArray<string> | undefined, KeyringFileError> =>
  Effect.tryPromise({
    try: () => readFile(path, "utf8"),
    catch: (e) => e as NodeJS.ErrnoException
  }).pipe(
    Effect.map((text): ReadonlyArray<string> | undefined | string => parseKeyringFile(text)),
    Effect.catch((e) =>
      e.code === "ENOENT"
        ? Effect.succeed(undefined)
        : Effect.fail(new KeyringFileError({ path, message: `cannot read the keyring file: ${e.message}` }))
    ),
    Effect.flatMap((keys) =>
      typeof keys === "string"
        ? Effect.fail(new KeyringFileError({ path, message: `invalid keyring file: ${keys}` }))
        : Effect.succeed(keys)
    )
  )

/** Writes `keys` to `path` atomically (temporary file with mode 0600 in the same directory, then rename). */
export const writeKeyringFile = (path: string, keys: ReadonlyArray<string>): Effect.Effect<void, KeyringFileError> =>
  Effect.suspend(() => {
    const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`)
    return Effect.tryPromise({
      try: async () => {
        try {
          await writeFile(temp, formatKeyringFile(keys), { mode: 0o600, flag: "wx" })
          await rename(temp, path)
        } catch (e) {
          await rm(temp, { force: true }).catch(() => undefined)
          throw e
        }
      },
      catch: (e) =>
        new KeyringFileError({
          path,
          message: `Failed to write keyring file: ${e instanceof Error ? e.message : String(e)}`
        })
    })
  })

/** What `loadKeyring` found. */
export interface LoadedKeyring {
  readonly keys: ReadonlyArray<string>
  /** The file existed and `--encrypt` keys were given too: they were ignored. */
  readonly ignoredEncrypt: boolean
  /** The file did not exist: it was created with the `--encrypt` keys. */
  readonly created: boolean
}

/**
 * The keys an agent starts with, given `--encrypt` keys and a `--keyring-file`:
 * the file's keys when it exists (the `--encrypt` keys are then ignored, and
 * `ignoredEncrypt` says so); otherwise the `--encrypt` keys, which are written
 * to the new file. No file and no `--encrypt`: an error (nothing to encrypt with).
 */
export const loadKeyring = (path: string, encrypt: ReadonlyArray<string>): Effect.Effect<LoadedKeyring, KeyringFileError> =>
  Effect.flatMap(readKeyringFile(path), (keys): Effect.Effect<LoadedKeyring, KeyringFileError> => {
    if (keys !== undefined) return Effect.succeed({ keys, ignoredEncrypt: encrypt.length > 0, created: false })
    if (encrypt.length === 0) {
      return Effect.fail(
        new KeyringFileError({ path, message: "the keyring file does not exist: give --encrypt KEY to create it" })
      )
    }
    return Effect.as(writeKeyringFile(path, encrypt), { keys: encrypt, ignoredEncrypt: false, created: true })
  })
