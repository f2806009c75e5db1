/**
 * The agent's log output: one record per line on stdout, as `text` (time,
 * level, message, then `key=value` pairs) or `json` (exactly one JSON object
 * per line, fields `time`, `level`, `msg`, then the log annotations), so a
 * supervisor or a script can follow the agent line by line. Every log of the
 * process goes through it, the library's own included. (`Logger.consoleJson`
 * nests the annotations and names the time differently; readers of the agent
 * want `node`, `state` and `event` at the top level.)
 */
import { Cause, Layer, Logger, References } from "effect"
import type { LogFormat } from "./Options.ts"

/** Where finished lines go (stdout by default; tests capture them). */
export type LineSink = (line: string) => void

/** Writes to stdout in one call per line, so that lines never interleave. */
export const stdoutSink: LineSink = (line) => {
  process.stdout.write(`${line}\n`)
}

/** A log record before formatting: the fixed fields first, then the annotations. */
export interface LogRecord {
  readonly time: string
  readonly level: string
  readonly msg: string
  readonly fields: Readonly<Record<string, unknown>>
  /** A pretty-printed cause, when the log carried one. */
  readonly error: string | undefined
}

// JSON.stringify throws on bigints and cycles; a log line must never throw.
const replacer = (_key: string, value: unknown): unknown => {
  if (typeof value === "bigint") return value.toString()
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64")
  if (value instanceof Error) return value.message
  return value
}

const safeJson = (value: unknown): string => {
  try {
    return JSON.stringify(value, replacer) ?? String(value)
  } catch {
    return JSON.stringify(String(value))
  }
}

const messageText = (message: unknown): string => {
  const parts = Array.isArray(message) ? message : [message]
  return parts
    .map((part) => typeof part === "string" ? part : part instanceof Error ? part.message : safeJson(part))
    .join(" ")
}

/** Formats a record as one JSON object on one line; annotations never overwrite the fixed fields. */
export const formatJson = (record: LogRecord): string => {
  const out: Record<string, unknown> = { time: record.time, level: record.level, msg: record.msg }
  for (const [key, value] of Object.entries(record.fields)) {
    if (!(key in out)) out[key] = value
  }
  if (record.error !== undefined && !("error" in out)) out.error = record.error
  return safeJson(out)
}

// strings are quoted only when they would break the key=value layout; other values print as JSON
const textValue = (value: unknown): string => {
  if (typeof value !== "string") return safeJson(value)
  return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)
}

/** Formats a record as `time LEVEL message key=value …`; a cause follows on indented lines. */
export const formatText = (record: LogRecord): string => {
  const pairs = Object.entries(record.fields).map(([key, value]) => `${key}=${textValue(value)}`)
  const head = [record.time, record.level.toUpperCase().padEnd(5), record.msg, ...pairs].join(" ")
  return record.error === undefined ? head : `${head}\n  ${record.error.split("\n").join("\n  ")}`
}

/** A logger that formats every record as `format` and hands each line to `sink`. */
export const makeLineLogger = (format: LogFormat, sink: LineSink = stdoutSink): Logger.Logger<unknown, void> => {
  const render = format === "json" ? formatJson : formatText
  return Logger.make((options) => {
    const record: LogRecord = {
      time: options.date.toISOString(),
      level: options.logLevel.toLowerCase(),
      msg: messageText(options.message),
      fields: options.fiber.getRef(References.CurrentLogAnnotations),
      error: options.cause.reasons.length > 0 ? Cause.pretty(options.cause) : undefined
    }
    sink(render(record))
  })
}

/** Replaces every logger of the program with the line logger. */
export const layer = (format: LogFormat, sink?: LineSink): Layer.Layer<never> =>
  Logger.layer([makeLineLogger(format, sink)])
