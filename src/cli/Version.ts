/**
 * The version `gossip --version` prints: the package's own, read from the
 * package.json next to `src/` or `dist/`, so it never drifts from releases.
 */
import { Schema } from "effect"
import { readFileSync } from "node:fs"

const PackageJson = Schema.Struct({ version: Schema.String })

/** The package version, or `0.0.0` when package.json cannot be read. */
export const version: string = (() => {
  try {
    const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8")
    return Schema.decodeUnknownSync(PackageJson)(JSON.parse(text)).version
  } catch {
    return "0.0.0"
  }
})()
