/**
 * Shared pieces of the benchmarks: the machine header, a sampling timer with
 * warm-up and median, and Markdown tables. Plain Node, no Effect.
 */
import { readFileSync } from "node:fs"
import * as os from "node:os"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

/** The load when the benchmark started (other processes on the machine skew every figure). */
const startLoad = os.loadavg()

/** Versions and hardware, as one header block (printed at the top of every benchmark). */
export const machine = (): string => {
  let effect = "unknown"
  try {
    const pkg = JSON.parse(readFileSync(new URL("../node_modules/effect/package.json", import.meta.url), "utf8"))
    effect = String(pkg.version)
  } catch {
    // left as unknown
  }
  const cpus = os.cpus()
  const gib = (os.totalmem() / 2 ** 30).toFixed(1)
  return [
    `machine: ${cpus[0]?.model.trim() ?? "unknown CPU"}, ${cpus.length} cores, ${gib} GiB RAM, ${os.platform()} ${os.arch()}`,
    `runtime: Node ${process.version}, effect ${effect}`
  ].join("\n")
}

export const printHeader = (title: string, notes: ReadonlyArray<string> = []): void => {
  console.log(`# ${title}\n`)
  console.log(machine())
  const [one, five] = os.loadavg()
  console.log(
    `date: ${new Date().toISOString()}; load average at start ${startLoad[0]!.toFixed(2)}, at end ${one!.toFixed(2)} (1 min), ${
      five!.toFixed(2)
    } (5 min)`
  )
  for (const note of notes) console.log(note)
  console.log("")
}

/** Markdown table; numbers are expected pre-formatted. */
export const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const right = headers.map((_, i) => rows.length > 0 && rows.every((r) => /^[-~≈0-9.,–× %µnsmkMGB/]*$/.test(r[i] ?? "")))
  const line = (cells: ReadonlyArray<string>) => `| ${cells.join(" | ")} |`
  return [
    line(headers),
    line(headers.map((_, i) => (right[i] ? "---:" : "---"))),
    ...rows.map(line)
  ].join("\n")
}

/** 1234567 → "1,234,567"; fractions kept to `digits`. */
export const num = (x: number, digits = 0): string =>
  Number.isFinite(x)
    ? x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : String(x)

/** Nanoseconds with a sensible precision. */
export const ns = (x: number): string => (x < 10 ? num(x, 1) : num(x, 0))

/** Operations per second, rounded to three significant figures. */
export const perSecond = (nsPerOp: number): string => {
  const ops = 1e9 / nsPerOp
  if (ops >= 1e6) return `${num(ops / 1e6, ops >= 1e8 ? 0 : ops >= 1e7 ? 1 : 2)}M`
  if (ops >= 1e3) return `${num(ops / 1e3, ops >= 1e5 ? 0 : ops >= 1e4 ? 1 : 2)}k`
  return num(ops, ops >= 100 ? 0 : 1)
}

export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export const now = (): number => Number(process.hrtime.bigint())

/** Result of one sampled measurement: per-operation nanoseconds. */
export interface Sampled {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly samples: number
  readonly ops: number
}

export interface SampleOptions<S> {
  /**
   * Builds the state one sample runs on (not timed). Return the same object each
   * time for operations that leave the state as it was.
   */
  readonly setup: () => S
  /** One operation; `i` counts from 0 within the sample. */
  readonly op: (state: S, i: number) => void
  /** Operations per sample (what the state allows before it must be rebuilt). */
  readonly batch: number
  /**
   * Work done before each operation that must not be timed (then every
   * operation is timed on its own and the timer's own cost is subtracted).
   */
  readonly prepare?: (state: S, i: number) => void
  /** Untimed warm-up samples (default: 3, and at least 100 ms). */
  readonly warmup?: number
  /** Timed samples (default: at least 7, and until `minMillis` of timed work). */
  readonly samples?: number
  readonly minMillis?: number
  /** Stop adding samples after this much wall time (default 2,000 ms). */
  readonly maxMillis?: number
}

let timerOverhead: number | undefined

/** Cost of an empty `now(); now()` pair, subtracted from individually timed operations. */
const overhead = (): number => {
  if (timerOverhead === undefined) {
    const xs: Array<number> = []
    for (let r = 0; r < 9; r++) {
      let total = 0
      for (let i = 0; i < 20_000; i++) {
        const t0 = now()
        total += now() - t0
      }
      xs.push(total / 20_000)
    }
    timerOverhead = median(xs)
  }
  return timerOverhead
}

/**
 * Runs warm-up samples, then timed samples, each on state from `setup`, and
 * reports the median (and range) of the per-operation time of the samples.
 */
export const sample = <S>(options: SampleOptions<S>): Sampled => {
  const { setup, op, batch, prepare } = options
  const warmup = options.warmup ?? 3
  const minSamples = options.samples ?? 7
  const minMillis = options.minMillis ?? 200
  const maxMillis = options.maxMillis ?? 2_000
  const bias = prepare === undefined ? 0 : overhead()

  const runOnce = (): number => {
    const state = setup()
    if (prepare === undefined) {
      const t0 = now()
      for (let i = 0; i < batch; i++) op(state, i)
      return (now() - t0) / batch
    }
    let total = 0
    for (let i = 0; i < batch; i++) {
      prepare(state, i)
      const t0 = now()
      op(state, i)
      total += now() - t0
    }
    return Math.max(0, total / batch - bias)
  }

  const warmStart = now()
  for (let w = 0; w < warmup || (now() - warmStart < 100e6 && w < 50); w++) runOnce()
  const results: Array<number> = []
  const start = now()
  let timed = 0
  while (
    results.length < minSamples ||
    (timed < minMillis * 1e6 && now() - start < maxMillis * 1e6 && results.length < 1000)
  ) {
    const r = runOnce()
    results.push(r)
    timed += r * batch
    if (results.length >= minSamples && now() - start > maxMillis * 1e6) break
  }
  return {
    median: median(results),
    min: Math.min(...results),
    max: Math.max(...results),
    samples: results.length,
    ops: results.length * batch
  }
}

/** "min–max" of a sample, in ns/op. */
export const spread = (s: Sampled): string => `${ns(s.min)}–${ns(s.max)}`

export const mb = (bytes: number): string => num(bytes / 2 ** 20, 1)

/** Wall-clock seconds since `t0` (from `now()`). */
export const secondsSince = (t0: number): number => (now() - t0) / 1e9

/** Heap in use after two full collections (exposes `gc` to this process on first use). */
export const heapAfterGc = (): number => {
  if (gcFn === undefined) {
    setFlagsFromString("--expose-gc")
    gcFn = runInNewContext("gc") as () => void
  }
  gcFn()
  gcFn()
  return process.memoryUsage().heapUsed
}
let gcFn: (() => void) | undefined
