/**
 * Helpers shared by the codec tests: hex conversion, the golden vector files,
 * and comparison of decoded values with the recorded interpretations.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { expect } from "vitest"

export const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")

export const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, "hex"))

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Where the protocol vectors live (override with GOSSIP_VECTORS_DIR). */
export const vectorsDir: string = process.env["GOSSIP_VECTORS_DIR"] ??
  fileURLToPath(new URL("../../../shared/protocol/vectors/", import.meta.url))

/** A captured-scenario file. */
export interface VectorFile {
  readonly file: string
  readonly scenario: string
  readonly encryption_key_base64: string | null
  readonly entries: ReadonlyArray<any>
}

/** Every `NN-*.json` capture file, sorted by name. */
export const captureFiles = (): ReadonlyArray<VectorFile> => {
  if (!existsSync(vectorsDir)) throw new Error(`protocol vectors not found in ${vectorsDir}`)
  return readdirSync(vectorsDir)
    .filter((f) => /^\d\d-.*\.json$/.test(f))
    .sort()
    .map((file) => ({ file, ...JSON.parse(readFileSync(join(vectorsDir, file), "utf8")) }))
}

/** A non-capture vector file by name. */
export const vectorFile = (name: string): any => JSON.parse(readFileSync(join(vectorsDir, name), "utf8"))

/**
 * A recorded byte value: `null`, text (serf payloads), or `{ hex }`; compares
 * with the decoded `Uint8Array | null`.
 */
export const expectBytes = (actual: Uint8Array | null, expected: unknown, what: string): void => {
  if (expected === null || expected === undefined) {
    expect(actual, what).toBeNull()
    return
  }
  expect(actual, what).not.toBeNull()
  if (typeof expected === "string") expect(new TextDecoder().decode(actual!), what).toBe(expected)
  else expect(toHex(actual!), what).toBe((expected as { hex: string }).hex)
}

/** Deterministic PRNG (mulberry32) for the fuzz tests. */
export const prng = (seed: number): () => number => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
