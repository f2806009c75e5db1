/**
 * Runs every benchmark, one after another, each in its own Node process (the
 * same Node binary as this one), with their tables on stdout and progress on
 * stderr. `npm run bench` calls it.
 *
 *   ./node_modules/.bin/node bench/run.ts                  # all
 *   ./node_modules/.bin/node bench/run.ts --only core,sim  # some
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

/** In this order; a file that does not exist is skipped. */
const benchmarks = ["core.ts", "codec.ts", "sim.ts", "udp.ts", "ws.ts", "bounded.ts", "fuzz.ts", "lifeguard.ts", "startup.ts"]
/** A benchmark that runs longer than this is stopped (each aims at about a minute). */
const timeoutSeconds = 300

const only = (() => {
  const i = process.argv.indexOf("--only")
  return i >= 0 ? new Set((process.argv[i + 1] ?? "").split(",").map((s) => s.replace(/\.ts$/, ""))) : undefined
})()

const run = (file: string): Promise<{ code: number | null; seconds: number }> =>
  new Promise((resolve) => {
    const t0 = performance.now()
    const child = spawn(process.execPath, [file], { stdio: "inherit" })
    const timer = setTimeout(() => {
      process.stderr.write(`${file}: still running after ${timeoutSeconds} s, stopping it\n`)
      child.kill("SIGTERM")
    }, timeoutSeconds * 1000)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, seconds: (performance.now() - t0) / 1000 })
    })
  })

const summary: Array<string> = []
let failed = 0
for (const name of benchmarks) {
  if (only !== undefined && !only.has(name.replace(/\.ts$/, ""))) continue
  const file = fileURLToPath(new URL(name, import.meta.url))
  if (!existsSync(file)) {
    summary.push(`| ${name} | skipped (no such file) | |`)
    continue
  }
  console.log(`=== bench/${name}\n`)
  const { code, seconds } = await run(file)
  console.log("")
  if (code !== 0) failed++
  summary.push(`| ${name} | ${code === 0 ? "ok" : `failed (exit ${code})`} | ${seconds.toFixed(1)} |`)
}

console.log("# Benchmark runs\n")
console.log("| file | result | wall s |\n| --- | --- | ---: |")
for (const line of summary) console.log(line)
process.exitCode = failed > 0 ? 1 : 0
