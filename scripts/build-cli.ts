/**
 * Builds the `gossip` executable after `tsc` has built the library: the program
 * (`src/cli/Main.ts`) as one tree-shaken file, `dist/cli/main.js`, with every
 * package it uses inside (and a file per part it loads with `import()`, such
 * as the HTTP server of the control endpoint), and the loader (`src/cli.ts`) as `dist/cli.js`.
 *
 * One file starts faster than the few hundred modules it replaces (each is
 * resolved, read and compiled on its own), carries only the code the commands
 * reach, and needs no package the library itself does not: `npx gossip` works
 * wherever the library is installed.
 */
import { build, type Plugin } from "esbuild"
import { chmodSync, rmSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))

/** The loader's import of the program points at the bundle, which stays a file of its own. */
const programOutside: Plugin = {
  name: "program-outside",
  setup(b) {
    b.onResolve({ filter: /^\.\/cli\/Main\.ts$/ }, () => ({ path: "./cli/main.js", external: true }))
  }
}

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22.19",
  logLevel: "warning",
  legalComments: "none"
} as const

// the directory is the bundle's alone: nothing of an earlier build may linger there
rmSync(`${root}dist/cli`, { recursive: true, force: true })
await build({
  ...common,
  entryPoints: ["src/cli/Main.ts"],
  outdir: "dist/cli",
  entryNames: "main",
  // what the program imports with import() stays out of main.js, read only when used
  splitting: true,
  chunkNames: "[name]-[hash]",
  minifySyntax: true,
  minifyWhitespace: true,
  // ws's optional native helpers: ws falls back to JavaScript when they are absent; undici:
  // @effect/platform-node's HTTP client offers it, the commands' client uses node:http
  external: ["bufferutil", "utf-8-validate", "undici"],
  // CommonJS packages inside (ws) call require for Node's own modules
  banner: { js: "import { createRequire as __gossipRequire } from \"node:module\"; const require = __gossipRequire(import.meta.url);" }
})

await build({ ...common, entryPoints: ["src/cli.ts"], outfile: "dist/cli.js", plugins: [programOutside] })
chmodSync(`${root}dist/cli.js`, 0o755)
