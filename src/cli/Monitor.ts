/**
 * `gossip monitor`: the agent's log records (member changes, user events,
 * queries, and whatever else it logs at the level asked) streamed live to
 * clients of the control endpoint, as serf's `monitor` streams its agent's
 * log. The agent side is a hub fed by one more logger; each client gets its
 * own ring of at most `capacity` records: a client that reads too slowly
 * loses the oldest records, and is told how many, but never makes the agent
 * hold more.
 */
import { Cause, Context, Effect, Layer, Logger, References, Stream } from "effect"
import type { Scope } from "effect"
import type { LogFormat } from "./Options.ts"
import type { LogRecord } from "./LineLogger.ts"
import { formatJson, formatText, makeLineLogger } from "./LineLogger.ts"

/** Monitor levels, lowest first (`warning` is `warn`). */
export const MONITOR_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const
/** A monitor level. */
export type MonitorLevel = typeof MONITOR_LEVELS[number]

/** Rank of a level name (Effect's or the monitor's, any case); `undefined` when unknown. */
export const levelRank = (level: string): number | undefined => {
  const l = level.toLowerCase()
  if (l === "all") return 0
  const i = MONITOR_LEVELS.indexOf((l === "warning" ? "warn" : l) as MonitorLevel)
  return i < 0 ? undefined : i
}

/** Records a client may fall behind by before the oldest are dropped. */
export const DEFAULT_MONITOR_CAPACITY = 1024

/** One client's ring of records, oldest first, with a count of those dropped. */
export class MonitorSubscription {
  private readonly ring: Array<LogRecord | undefined>
  private head = 0
  private count = 0
  private wake: (() => void) | undefined = undefined
  /** Records dropped since the client last read. */
  dropped = 0
  /** Records dropped over the subscription's life. */
  droppedTotal = 0
  readonly minRank: number
  readonly capacity: number

  constructor(minRank: number, capacity: number) {
    this.minRank = minRank
    this.capacity = Math.max(1, capacity)
    this.ring = new Array(this.capacity)
  }

  /** Records buffered now. */
  get size(): number {
    return this.count
  }

  /** Adds a record at or above the level; when full, the oldest is dropped and counted. */
  push(record: LogRecord): void {
    if ((levelRank(record.level) ?? 2) < this.minRank) return
    if (this.count === this.capacity) {
      this.ring[this.head] = undefined
      this.head = (this.head + 1) % this.capacity
      this.count--
      this.dropped++
      this.droppedTotal++
    }
    this.ring[(this.head + this.count) % this.capacity] = record
    this.count++
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  /** Takes every buffered record, and the number dropped before them (then reset). */
  drain(): { readonly records: ReadonlyArray<LogRecord>; readonly dropped: number } {
    const records: Array<LogRecord> = []
    for (let i = 0; i < this.count; i++) {
      const index = (this.head + i) % this.capacity
      records.push(this.ring[index]!)
      this.ring[index] = undefined
    }
    this.head = 0
    this.count = 0
    const dropped = this.dropped
    this.dropped = 0
    return { records, dropped }
  }

  /** Waits until there is something to drain. */
  readonly next: Effect.Effect<{ readonly records: ReadonlyArray<LogRecord>; readonly dropped: number }> = Effect.suspend(
    () =>
      this.count > 0 || this.dropped > 0
        ? Effect.sync(() => this.drain())
        : Effect.callback<void>((resume) => {
          this.wake = () => resume(Effect.void)
          return Effect.sync(() => {
            this.wake = undefined
          })
        }).pipe(Effect.andThen(Effect.sync(() => this.drain())))
  )
}

/** The agent's monitor hub: every log record goes to every subscription. */
export class MonitorHub extends Context.Service<MonitorHub, {
  /** Hands a record to every subscription. */
  publish(record: LogRecord): void
  /** Subscriptions open now. */
  readonly subscribers: () => number
  /** Subscribes for the scope's life. */
  subscribe(minRank: number, capacity?: number): Effect.Effect<MonitorSubscription, never, Scope.Scope>
}>()("effect-gossip/cli/MonitorHub") {
  /** A hub with no subscribers. */
  static readonly make = (): MonitorHub["Service"] => {
    const subscriptions = new Set<MonitorSubscription>()
    return MonitorHub.of({
      publish: (record) => {
        for (const s of subscriptions) s.push(record)
      },
      subscribers: () => subscriptions.size,
      subscribe: (minRank, capacity = DEFAULT_MONITOR_CAPACITY) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            const s = new MonitorSubscription(minRank, capacity)
            subscriptions.add(s)
            return s
          }),
          (s) => Effect.sync(() => void subscriptions.delete(s))
        )
    })
  }
}

const messageText = (message: unknown): string =>
  (Array.isArray(message) ? message : [message])
    .map((part) => typeof part === "string" ? part : part instanceof Error ? part.message : safeString(part))
    .join(" ")

const safeString = (value: unknown): string => {
  try {
    return JSON.stringify(value, (_k, v) => typeof v === "bigint" ? v.toString() : v) ?? String(value)
  } catch {
    return String(value)
  }
}

/** A logger that hands every record to the hub (nothing to do while nobody monitors). */
export const hubLogger = (hub: MonitorHub["Service"]): Logger.Logger<unknown, void> =>
  Logger.make((options) => {
    if (hub.subscribers() === 0) return
    hub.publish({
      time: options.date.toISOString(),
      level: options.logLevel.toLowerCase(),
      msg: messageText(options.message),
      fields: options.fiber.getRef(References.CurrentLogAnnotations),
      error: options.cause.reasons.length > 0 ? Cause.pretty(options.cause) : undefined
    })
  })

/**
 * The agent's logging: its log lines in `format` on stdout at the level the
 * command line asked (the global `--log-level`, info by default), and every
 * record, whatever its level, to a monitor hub, which the layer also provides
 * (for the control endpoint): like serf, `gossip monitor --log-level debug`
 * shows debug records of an agent that logs at info. (The library logs at
 * debug only on error paths, so passing them on costs nothing when idle.)
 */
export const agentLogging = (format: LogFormat): Layer.Layer<MonitorHub> =>
  Layer.unwrap(Effect.gen(function*() {
    const chosen = yield* References.MinimumLogLevel
    const stdoutRank = chosen === "None" ? Infinity : levelRank(chosen) ?? 2
    const hub = MonitorHub.make()
    const lines = makeLineLogger(format)
    const stdout = Logger.make<unknown, void>((options) => {
      if ((levelRank(options.logLevel) ?? 2) >= stdoutRank) lines.log(options)
    })
    return Layer.mergeAll(
      Layer.succeed(MonitorHub, hub),
      Logger.layer([stdout, hubLogger(hub)]),
      Layer.succeed(References.MinimumLogLevel, "Trace")
    )
  }))

const encoder = new TextEncoder()

/** The record telling a client that records were dropped because it read too slowly. */
export const droppedRecord = (dropped: number): LogRecord => ({
  time: new Date().toISOString(),
  level: "warn",
  msg: "monitor fell behind: records dropped",
  fields: { event: "monitor-dropped", dropped },
  error: undefined
})

/**
 * A subscription as NDJSON (one `formatJson` record per line): a first
 * `monitor attached` record, then the records as they come, each batch
 * preceded by a `monitor-dropped` record when some were lost.
 */
export const monitorStream = (
  hub: MonitorHub["Service"],
  minRank: number,
  capacity = DEFAULT_MONITOR_CAPACITY
): Stream.Stream<Uint8Array> =>
  Stream.unwrap(Effect.map(hub.subscribe(minRank, capacity), (subscription) => {
    const attached: LogRecord = {
      time: new Date().toISOString(),
      level: "info",
      msg: "monitor attached",
      fields: { event: "monitor-attached", monitorLevel: MONITOR_LEVELS[minRank] ?? "info" },
      error: undefined
    }
    const batches = Stream.fromEffectRepeat(Effect.map(subscription.next, ({ dropped, records }) => {
      const lines = (dropped > 0 ? [droppedRecord(dropped), ...records] : records).map(formatJson)
      return encoder.encode(`${lines.join("\n")}\n`)
    }))
    return Stream.concat(Stream.succeed(encoder.encode(`${formatJson(attached)}\n`)), batches)
  }))

/** Parses one NDJSON line from the endpoint back into a record; `undefined` for anything else. */
export const parseRecord = (line: string): LogRecord | undefined => {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return undefined
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined
  const { error, level, msg, time, ...fields } = value as Record<string, unknown>
  if (typeof time !== "string" || typeof level !== "string" || typeof msg !== "string") return undefined
  return { time, level, msg, fields, error: typeof error === "string" ? error : undefined }
}

/** One record as the monitor prints it. */
export const renderRecord = (record: LogRecord, format: LogFormat): string =>
  format === "json" ? formatJson(record) : formatText(record)
