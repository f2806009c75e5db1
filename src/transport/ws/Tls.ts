/**
 * TLS material from configuration: PEM text as given, or read from the file
 * a path names (what the command line and the environment pass).
 */
import { Effect } from "effect"
import { readFile } from "node:fs/promises"
import { TransportError } from "../Transport.ts"

/** PEM text, or a path to a file holding it. */
export type PemInput = string | Uint8Array

const isPem = (input: PemInput): boolean =>
  typeof input !== "string" || input.trimStart().startsWith("-----BEGIN")

/** The PEM text of `input`; a file that cannot be read is a `Bind` error naming it. */
export const loadPem = (what: string, input: PemInput): Effect.Effect<string | Uint8Array, TransportError> =>
  isPem(input)
    ? Effect.succeed(input)
    : Effect.tryPromise({
      try: () => readFile(input as string, "utf8"),
      catch: (cause) =>
        new TransportError({
          reason: "Bind",
          address: input as string,
          message: `cannot read the TLS ${what}: ${cause instanceof Error ? cause.message : String(cause)}`
        })
    })
