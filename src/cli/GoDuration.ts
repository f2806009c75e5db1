/**
 * Durations written as serf writes them (Go's `time.ParseDuration`): a
 * sequence of decimal numbers with units, such as `30s`, `1m30s`, `500ms`,
 * `1.5h`; units `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`. Decoded to
 * milliseconds.
 */
import { Schema, SchemaTransformation } from "effect"

const UNIT_MILLIS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  "μs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000
}

const WHOLE = /^(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h)(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))*$/
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g

/** The milliseconds `text` stands for, or undefined when it is not a Go duration ("0" alone is one). */
export const parseGoDuration = (text: string): number | undefined => {
  const t = text.trim()
  if (t === "0") return 0
  if (!WHOLE.test(t)) return undefined
  let millis = 0
  for (const [, value, unit] of t.matchAll(PART)) millis += Number(value) * UNIT_MILLIS[unit!]!
  return Number.isFinite(millis) ? millis : undefined
}

/** A Go duration of at least `minMillis`, decoded to milliseconds. */
export const GoDuration = (minMillis: number) =>
  Schema.String.check(Schema.makeFilter((text: string) => {
    const millis = parseGoDuration(text)
    if (millis === undefined) return "expected a duration such as 30s, 1m30s or 500ms"
    return millis >= minMillis || `must be at least ${minMillis} ms`
  })).pipe(Schema.decodeTo(
    Schema.Number,
    SchemaTransformation.transform({
      decode: (text) => parseGoDuration(text) ?? 0,
      encode: (millis) => `${millis}ms`
    })
  ))
