// Reads vitest's JSON report, prints one summary line, and fails when a test did not run
// (skipped or todo) unless `.ci/expected-skips` names it.
//
//   node .ci/check-report.mjs <report.json> <expected-skips file>
import { readFileSync } from "node:fs"
import { relative } from "node:path"

const [reportPath, expectedPath] = process.argv.slice(2)

let report
try {
  report = JSON.parse(readFileSync(reportPath, "utf8"))
} catch (error) {
  console.error(`no usable test report at ${reportPath}: ${error.message}`)
  process.exit(1)
}

const expected = new Set(
  readFileSync(expectedPath, "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
)

// "<file> > <describe> > … > <test>", the form `.ci/expected-skips` uses
const notRun = []
for (const file of report.testResults ?? []) {
  const path = relative(process.cwd(), file.name)
  for (const test of file.assertionResults ?? []) {
    if (test.status === "passed" || test.status === "failed") continue
    notRun.push({ id: [path, ...(test.ancestorTitles ?? []), test.title].join(" > "), status: test.status })
  }
}

const unexpected = notRun.filter((t) => !expected.has(t.id))
const stale = [...expected].filter((id) => !notRun.some((t) => t.id === id))

console.log(
  `tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ` +
    `${notRun.length} skipped (${notRun.length - unexpected.length} expected)`
)
for (const id of stale) console.log(`note: listed in ${expectedPath} but it ran: ${id}`)
if (unexpected.length > 0) {
  console.error(`${unexpected.length} test(s) did not run and are not listed in ${expectedPath}:`)
  for (const t of unexpected) console.error(`  [${t.status}] ${t.id}`)
  process.exit(1)
}
