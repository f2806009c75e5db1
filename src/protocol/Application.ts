/**
 * The application a member runs, announced in front of its metadata so that
 * every alive message carries it, whichever way it travels:
 * `[0xE1][name length: u8][name UTF-8][version length: u8][version UTF-8][metadata]`.
 * Members without the header run no declared application (serf agents, for one).
 * Pure functions, no I/O.
 */
import { readFields, shortString, writeFields } from "./Fields.ts"

/** An application name and its version, as a member announces them. */
export interface Application {
  readonly name: string
  readonly version: string
}

/**
 * Decides whether a member running `remote` (undefined: it announces no application)
 * may join a cluster with a member running `local`.
 */
export type CompatibilityRule = (local: Application, remote: Application | undefined) => boolean

const MARKER = 0xe1
const EMPTY = new Uint8Array(0)

/** The header for `app`, or undefined when a field is longer than 255 bytes of UTF-8. */
export const encodeApplication = (app: Application): Uint8Array | undefined => {
  const name = shortString(app.name)
  const version = shortString(app.version)
  return name === undefined || version === undefined ? undefined : writeFields([MARKER], [name, version])
}

/** Metadata as a member announced it, split into its application and the rest. */
export interface SplitMeta {
  readonly application: Application | undefined
  readonly meta: Uint8Array
}

/** Splits wire metadata; bytes without a well-formed header are all metadata. */
export const splitMeta = (wire: Uint8Array | null): SplitMeta => {
  if (wire === null || wire.length === 0) return { application: undefined, meta: EMPTY }
  const fields = wire[0] === MARKER ? readFields(wire, 1, 2) : undefined
  if (fields === undefined) return { application: undefined, meta: wire }
  return { application: { name: fields.strings[0]!, version: fields.strings[1]! }, meta: wire.subarray(fields.end) }
}

/** Prefixes `meta` with the header of `header` (already encoded), if any. */
export const joinMeta = (header: Uint8Array | undefined, meta: Uint8Array): Uint8Array => {
  if (header === undefined) return meta
  const out = new Uint8Array(header.length + meta.length)
  out.set(header, 0)
  out.set(meta, header.length)
  return out
}

const SEMVER = /^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?(?:[-+].*)?$/

/**
 * The default rule: the same application name and the same semver major version; in
 * major 0 the minor must match too (as semver's caret reads `^0.4`). Versions that are
 * not semver must be equal. A member that announces no application is incompatible.
 */
export const sameMajorVersion: CompatibilityRule = (local, remote) => {
  if (remote === undefined || remote.name !== local.name) return false
  const a = SEMVER.exec(local.version)
  const b = SEMVER.exec(remote.version)
  if (a === null || b === null) return local.version === remote.version
  if (a[1] !== b[1]) return false
  return a[1] !== "0" || (a[2] ?? "0") === (b[2] ?? "0")
}

/** `name@version`, or a word for a member that announces none. */
export const describeApplication = (app: Application | undefined): string =>
  app === undefined ? "no application" : `${app.name}@${app.version}`
