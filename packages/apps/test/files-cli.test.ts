/**
 * `socket-to-me files` as a user meets it (real processes, real TCP, a
 * temporary folder), and the progress display's formatting.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Progress from "../src/cli/Progress.ts"
import * as FilesCommand from "../src/cli/FilesCommand.ts"
import * as FileStore from "../src/files/FileStore.ts"
import * as Cli from "./support/Cli.ts"
import { sha256 } from "./support/files.ts"

// These commands move a few MiB each, several side by side: more time than the default.
const killAfter = 30_000

// A command run in `cwd`.
const run = (args: ReadonlyArray<string>, cwd: string) => Cli.run(args, { cwd, killAfter })


describe("socket-to-me files", () => {
  it("prints help for the files commands", async () => {
    const cwd = Os.tmpdir()
    const commands = [["files", "--help"], ["files", "send", "--help"]]
    const results = await Promise.all(commands.map((args) => run(args, cwd)))
    results.forEach((result, i) => {
      assert.strictEqual(result.code, 0, commands[i]!.join(" "))
      assert.include(result.stdout, "USAGE")
    })
  })

  it("serve, send (fresh, resumed, duplicate name), list and get; errors are one line with exit 1", async () => {
    const cwd = Fs.mkdtempSync(Path.join(Os.tmpdir(), "socket-to-me-files-cli-"))
    const server = await Cli.start(
      ["files", "serve", "--port", "0", "--max-size", "4MiB"],
      /^files listening on 127\.0\.0\.1:(\d+)$/m,
      { cwd, killAfter }
    )
    const port = server.listening[1]!
    try {
      const bytes = Bytes.random(3 * 1024 * 1024 + 5)
      Fs.writeFileSync(Path.join(cwd, "report.pdf"), bytes)
      const digest = sha256(bytes)

      const sent = await run(["files", "send", "report.pdf", "--port", port], cwd)
      assert.strictEqual(sent.code, 0, sent.stderr)
      assert.strictEqual(sent.stdout, `saved as report.pdf (${bytes.length} bytes, sha256 ${digest})\n`)
      // Not a terminal: plain progress lines, the last one at 100%.
      assert.match(sent.stderr.trim().split("\n").at(-1)!, /^report\.pdf: 100% \(3\.0 MiB of 3\.0 MiB\)/)

      // A partial upload left by an earlier attempt (what a killed client leaves).
      const received = Path.join(cwd, FilesCommand.defaultDirectory)
      const key = FileStore.stagingKey({ name: "again.pdf", size: bytes.length, sha256: digest })
      Fs.writeFileSync(Path.join(received, FileStore.stagingFolder, `${key}.part`), bytes.subarray(0, 1_000_000))
      const resumed = await run(["files", "send", "report.pdf", "--as", "again.pdf", "--port", port], cwd)
      assert.strictEqual(resumed.code, 0, resumed.stderr)
      assert.strictEqual(
        resumed.stdout,
        `resumed at 1000000 bytes\nsaved as again.pdf (${bytes.length} bytes, sha256 ${digest})\n`
      )

      const duplicate = await run(["files", "send", "report.pdf", "--port", port], cwd)
      assert.strictEqual(duplicate.code, 0, duplicate.stderr)
      assert.include(duplicate.stdout, "saved as report (1).pdf")

      const list = await run(["files", "list", "--port", port], cwd)
      assert.strictEqual(list.code, 0)
      const lines = list.stdout.trim().split("\n")
      assert.deepStrictEqual(lines.map((line) => line.split(/\s+/).slice(3).join(" ")), ["again.pdf", "report (1).pdf", "report.pdf"])
      for (const line of lines) {
        assert.match(line, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z +${bytes.length}  ${digest}  `))
      }

      const got = await run(["files", "get", "report (1).pdf", "--out", "copy.pdf", "--port", port], cwd)
      assert.strictEqual(got.code, 0, got.stderr)
      assert.strictEqual(got.stdout, `saved report (1).pdf to copy.pdf (${bytes.length} bytes, sha256 ${digest} verified)\n`)
      assert.isTrue(Bytes.equals(Fs.readFileSync(Path.join(cwd, "copy.pdf")), bytes))

      const oneLine = (result: Cli.Result, pattern: RegExp) => {
        assert.strictEqual(result.code, 1)
        assert.strictEqual(result.stdout, "")
        const errors = result.stderr.trim().split("\n").filter((line) => line.startsWith("socket-to-me"))
        assert.strictEqual(errors.length, 1, result.stderr)
        assert.match(errors[0]!, pattern)
        assert.notInclude(result.stderr, "    at ")
      }
      Fs.writeFileSync(Path.join(cwd, "big.bin"), Bytes.random(5 * 1024 * 1024))
      // Independent failures, run side by side.
      const [tooLarge, badName, missing, notFound, exists, badSize] = await Promise.all([
        run(["files", "send", "big.bin", "--port", port], cwd),
        run(["files", "send", "report.pdf", "--as", "../x", "--port", port], cwd),
        run(["files", "send", "missing.bin", "--port", port], cwd),
        run(["files", "get", "nope", "--port", port], cwd),
        run(["files", "get", "report.pdf", "--out", "copy.pdf", "--port", port], cwd),
        run(["files", "serve", "--max-size", "lots"], cwd)
      ])
      oneLine(tooLarge!, /^socket-to-me: server refused \(too-large\): file of 5242880 bytes exceeds the limit of 4194304 bytes$/)
      oneLine(badName!, /^socket-to-me: invalid file name "\.\.\/x": .*--as$/)
      oneLine(missing!, /^socket-to-me: missing\.bin: open: no such file or directory$/)
      oneLine(notFound!, /^socket-to-me: server refused \(not-found\): no file named "nope"$/)
      oneLine(exists!, /^socket-to-me: copy\.pdf: already exists/)
      assert.strictEqual(badSize!.code, 1)
      assert.include(badSize!.stderr, "--max-size")
    } finally {
      const code = await Cli.stop(server)
      Fs.rmSync(cwd, { recursive: true, force: true })
      assert.strictEqual(code, 0)
    }
  }, 120_000)
})

describe("socket-to-me files serve, refusing to start", () => {
  it("on a taken port it fails and leaves no folder behind; an existing folder is left as it was", async () => {
    const cwd = Fs.mkdtempSync(Path.join(Os.tmpdir(), "socket-to-me-files-cli-"))
    const taken = Net.createServer()
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve))
    const port = String((taken.address() as Net.AddressInfo).port)
    try {
      const fresh = await run(["files", "serve", "--dir", Path.join("new", "sub", "received"), "--port", port], cwd)
      assert.strictEqual(fresh.code, 1)
      assert.include(fresh.stderr, `127.0.0.1:${port} is already in use`)
      assert.deepStrictEqual(Fs.readdirSync(cwd), [])

      Fs.mkdirSync(Path.join(cwd, "kept"))
      Fs.writeFileSync(Path.join(cwd, "kept", "a.txt"), "a")
      const existing = await run(["files", "serve", "--dir", "kept", "--port", port], cwd)
      assert.strictEqual(existing.code, 1)
      assert.deepStrictEqual(Fs.readdirSync(Path.join(cwd, "kept")).sort(), [".meta", ".staging", "a.txt"])
    } finally {
      taken.close()
      Fs.rmSync(cwd, { recursive: true, force: true })
    }
  }, 60_000)

  it("--reserve-bytes sets the free space every upload must leave", async () => {
    const cwd = Fs.mkdtempSync(Path.join(Os.tmpdir(), "socket-to-me-files-cli-"))
    // 4 PiB: more than any test machine has free.
    const server = await Cli.start(
      ["files", "serve", "--port", "0", "--reserve-bytes", String(2 ** 52)],
      /^files listening on 127\.0\.0\.1:(\d+)$/m,
      { cwd, killAfter }
    )
    try {
      Fs.writeFileSync(Path.join(cwd, "a.bin"), Bytes.random(1000))
      const sent = await run(["files", "send", "a.bin", "--port", server.listening[1]!], cwd)
      assert.strictEqual(sent.code, 1)
      assert.match(sent.stderr, /server refused \(insufficient-space\): insufficient disk space: 1000 bytes needed, 0 available/)
    } finally {
      const code = await Cli.stop(server)
      Fs.rmSync(cwd, { recursive: true, force: true })
      assert.strictEqual(code, 0)
    }
  }, 60_000)
})

describe("files progress display", () => {
  it("formats sizes, durations and bars", () => {
    assert.strictEqual(Progress.formatBytes(0), "0 B")
    assert.strictEqual(Progress.formatBytes(1536), "1.5 KiB")
    assert.strictEqual(Progress.formatBytes(1024 ** 3), "1.0 GiB")
    assert.strictEqual(Progress.formatDuration(42), "42s")
    assert.strictEqual(Progress.formatDuration(185), "3m05s")
    assert.strictEqual(Progress.formatDuration(3720), "1h02m")
    assert.strictEqual(Progress.bar(0.5, 10), "[#####-----]")
    assert.strictEqual(Progress.bar(2, 4), "[####]")
  })

  it("shows bytes, percent, rate and ETA", () => {
    const snapshot = { done: 512 * 1024 ** 2, total: 1024 ** 3, moved: 512 * 1024 ** 2, elapsedMillis: 2000 }
    assert.strictEqual(
      Progress.terminalLine("big.iso", snapshot),
      "big.iso   50.0% [############------------]  512.0 MiB / 1.0 GiB  256.0 MiB/s  ETA 2s"
    )
    assert.strictEqual(Progress.plainLine("big.iso", snapshot), "big.iso: 50% (512.0 MiB of 1.0 GiB), 256.0 MiB/s, ETA 2s")
    assert.strictEqual(Progress.plainLine("empty", { done: 0, total: 0, moved: 0, elapsedMillis: 0 }), "empty: 100% (0 B of 0 B), -, ETA -")
  })

  it("parses sizes for --max-size", () => {
    const value = (text: string) => {
      const parsed = FilesCommand.parseSize(text)
      return parsed._tag === "Some" ? parsed.value : undefined
    }
    assert.strictEqual(value("1048576"), 1048576)
    assert.strictEqual(value("1GiB"), 1024 ** 3)
    assert.strictEqual(value("500 MB"), 500_000_000)
    assert.strictEqual(value("1.5KiB"), 1536)
    assert.isUndefined(value("lots"))
    assert.isUndefined(value("-1"))
  })
})
