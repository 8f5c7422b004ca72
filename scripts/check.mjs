// `npm test`: type-check, lint, then the test suite, each with its own output
// left visible. Every stage runs even after one fails, so a single run shows
// every problem. The last line is a plain `N passed, M failed` summary read
// from vitest's JSON report, for humans and for CI logs alike.
// Started through with-node.mjs, so process.execPath is the project's Node.
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { envWithNode, exitLike, root, spawnForwarding } from "./lib/node.mjs"

const report = join(root, ".vitest-report.json")

// Tools are started as `node <their bin file>` rather than through the
// node_modules/.bin shims, so that they get this exact Node on every OS.
const binOf = (pkg, name) => {
  const dir = join(root, "node_modules", pkg)
  const { bin } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
  return join(dir, typeof bin === "string" ? bin : bin[name])
}

const failed = []
const stage = async (name, pkg, bin, args) => {
  console.log(`\ncheck: ${name}`)
  const result = await spawnForwarding(process.execPath, [binOf(pkg, bin), ...args], {
    cwd: root,
    env: envWithNode(process.execPath)
  })
  if (result.signal) {
    // Interrupted: die the same way instead of reporting, and start nothing
    // more while the signal lands.
    exitLike(result)
    await new Promise(() => {})
  }
  if (result.code !== 0) failed.push(name)
}

// Examples first: the type-check compiles what it writes to .examples/.
console.log("\ncheck: docs (examples, doc comments)")
if ((await spawnForwarding(process.execPath, [join(root, "scripts", "examples.mjs")], { cwd: root })).code !== 0) {
  failed.push("docs")
}
await stage("type-check", "typescript", "tsc", ["-p", "tsconfig.json"])
await stage("lint", "eslint", "eslint", ["."])
rmSync(report, { force: true }) // a stale report must not count
await stage("test", "vitest", "vitest", [
  "run",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${report}`
])

const counts = existsSync(report) ? JSON.parse(readFileSync(report, "utf8")) : {}
const passed = counts.numPassedTests ?? 0
const failedTests = counts.numFailedTests ?? 0
const skipped = (counts.numPendingTests ?? 0) + (counts.numTodoTests ?? 0)
const noTests = passed + failedTests === 0
if (noTests && !failed.includes("test")) failed.push("test")

// The tests against redis-server (examples/resp/test/redis.test.ts, the
// chat across servers in packages/apps/test/chat-redis*.test.ts) skip
// themselves when a redis tool is missing; say how many and what to install
// (`.ci/run` installs them, so CI never skips them).
const redisTools = { "redis-server": "redis-server", "redis-cli": "redis-tools", "redis-benchmark": "redis-tools" }
const needRedis = (counts.testResults ?? [])
  .filter((file) => /(examples\/resp\/test\/redis|packages\/apps\/test\/chat-redis[a-z-]*)\.test\.ts$/.test(file.name))
  .flatMap((file) => file.assertionResults)
  .filter((test) => test.status === "skipped" || test.status === "pending").length

console.log("")
if (noTests) console.error("check: no tests ran")
if (needRedis > 0) {
  const absent = Object.keys(redisTools).filter((tool) => spawnSync(tool, ["--version"], { stdio: "ignore" }).error !== undefined)
  const packages = [...new Set(absent.map((tool) => redisTools[tool]))]
  console.log(`skipped: ${needRedis} tests need ${absent.join(", ") || "the redis tools"} (apt-get install ${packages.join(" ") || "redis-server redis-tools"})`)
}
// The tests of the listener features against real peers (HAProxy, openssl
// s_client, Python's ssl; packages/apps/test/support/Tools.ts) and over
// TLS (certificates made with openssl: testkit's TlsCertificates) skip
// themselves when their tool is missing; say how many and what to install
// (`.ci/run` installs them).
const listenerTools = [
  { tool: "haproxy", commands: [["haproxy", "-v"], ["/usr/sbin/haproxy", "-v"]], install: "haproxy" },
  { tool: "openssl", commands: [["openssl", "version"]], install: "openssl" },
  { tool: "python3", commands: [["python3", "-c", "import ssl"]], install: "python3" }
]
const skippedIn = (pattern) =>
  (counts.testResults ?? [])
    .filter((file) => pattern.test(file.name))
    .flatMap((file) => file.assertionResults)
    .filter((test) => test.status === "skipped" || test.status === "pending").length
// (Lint refuses a skip written into a test, so any other skipped test is one of these.)
const needTools = skippedIn(/^(?!.*examples\/resp\/test\/redis\.test\.ts$)/)
if (needTools > 0) {
  const absent = listenerTools.filter(({ commands }) =>
    !commands.some(([command, ...args]) => spawnSync(command, args, { stdio: "ignore" }).status === 0)
  )
  console.log(
    `skipped: ${needTools} tests need ${absent.map(({ tool }) => tool).join(", ") || "haproxy, openssl, python3"} (apt-get install ${
      absent.map(({ install }) => install).join(" ") || "haproxy openssl python3"
    })`
  )
}
for (const name of failed) console.error(`check: ${name} failed`)
console.log(`${passed} passed, ${failedTests} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`)
process.exitCode = failed.length > 0 ? 1 : 0
