/**
 * How `gossip agent` sets up its serf side from the flags: the keys it starts
 * with (`--encrypt`, or `--keyring-file` which then holds them), and the
 * serf agent (events, queries, internal queries) that keeps that file
 * up to date.
 */
import { Effect, Layer, Option } from "effect"
import type { ClusterKeyring } from "../Gossip.ts"
import type { Membership } from "../Membership.ts"
import { type KeyringFileError, loadKeyring } from "../serf/KeyringFile.ts"
import { SerfAgent } from "../serf/SerfAgent.ts"

/** The flags this setup reads. */
export interface SerfFlags {
  readonly encrypt: ReadonlyArray<string>
  readonly keyringFile: Option.Option<string>
}

/**
 * The keys the node starts with: `--encrypt` without a keyring file; with one, the
 * file's keys (serf's format), the file being created from `--encrypt` when absent.
 */
export const startKeys = (options: SerfFlags): Effect.Effect<ReadonlyArray<string>, KeyringFileError> =>
  Option.match(options.keyringFile, {
    onNone: () => Effect.succeed(options.encrypt),
    onSome: (path) =>
      Effect.tap(loadKeyring(path, options.encrypt), (loaded) =>
        Effect.logInfo(loaded.created ? "keyring file created" : "keyring restored").pipe(
          Effect.andThen(
            loaded.ignoredEncrypt ? Effect.logWarning("--encrypt ignored: the keyring file holds the keys") : Effect.void
          ),
          Effect.annotateLogs({ path, keys: loaded.keys.length })
        )).pipe(Effect.map((loaded) => loaded.keys))
  })

/** The agent's serf side, writing key changes to `--keyring-file` when given. */
export const serfAgentLayer = (options: SerfFlags): Layer.Layer<SerfAgent, never, Membership | ClusterKeyring> =>
  SerfAgent.layer(Option.isSome(options.keyringFile) ? { keyringFile: options.keyringFile.value } : {})
