/**
 * `--otlp-endpoint` really exports: a tiny OTLP/HTTP receiver on a free
 * loopback port collects what the server CLI posts to `/v1/traces`, and the
 * test waits (bounded) for the spans of a connection it made.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Net from "node:net"
import * as Cli from "./support/Cli.ts"

interface Attribute {
  readonly key: string
  readonly value: { readonly stringValue?: string; readonly intValue?: number | string }
}
interface Span {
  readonly name: string
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly attributes: ReadonlyArray<Attribute>
  readonly status: { readonly code: number }
}
interface Export {
  readonly service: string | undefined
  readonly spans: ReadonlyArray<Span>
}

const attribute = (attributes: ReadonlyArray<Attribute>, key: string): string | undefined => {
  const value = attributes.find((a) => a.key === key)?.value
  return value === undefined ? undefined : String(value.stringValue ?? value.intValue)
}

// A receiver of OTLP/HTTP JSON exports: `until` resolves with the spans of
// every export so far once `done` holds for them, or rejects at its deadline.
const receiver = async () => {
  const exports: Array<Export> = []
  const paths: Array<string> = []
  const waiters = new Set<() => void>()
  const server = Http.createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      paths.push(`${request.method} ${request.url}`)
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
        resourceSpans: ReadonlyArray<{
          resource: { attributes: ReadonlyArray<Attribute> }
          scopeSpans: ReadonlyArray<{ spans: ReadonlyArray<Span> }>
        }>
      }
      for (const resource of body.resourceSpans) {
        exports.push({
          service: attribute(resource.resource.attributes, "service.name"),
          spans: resource.scopeSpans.flatMap((scope) => scope.spans)
        })
      }
      response.writeHead(200, { "content-type": "application/json" }).end("{}")
      for (const wake of waiters) wake()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const until = (done: (exports: ReadonlyArray<Export>) => boolean, deadlineMs = 20_000) =>
    new Promise<ReadonlyArray<Export>>((resolve, reject) => {
      const check = () => {
        if (!done(exports)) return
        clearTimeout(timer)
        waiters.delete(check)
        resolve(exports)
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`no matching export within ${deadlineMs} ms; got ${JSON.stringify({ paths, exports })}`))
      }, deadlineMs)
      waiters.add(check)
      check()
    })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    exports: exports as ReadonlyArray<Export>,
    paths,
    until,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

const spansOf = (exports: ReadonlyArray<Export>, service: string) =>
  exports.filter((e) => e.service === service).flatMap((e) => e.spans)

// Connects, sends `lines`, reads until the server closes (or `closeAfter` is
// seen, then closes itself), and resolves with what it read.
const converse = (port: number, lines: ReadonlyArray<string>, closeAfter?: string) =>
  new Promise<string>((resolve, reject) => {
    let text = ""
    const socket = Net.connect(port, "127.0.0.1", () => socket.write(lines.map((line) => `${line}\n`).join("")))
    socket.on("data", (chunk) => {
      text += chunk.toString("utf8")
      if (closeAfter !== undefined && text.includes(closeAfter)) socket.end()
    })
    socket.on("error", reject)
    socket.on("close", () => resolve(text))
  })

describe("--otlp-endpoint", () => {
  it("echo serve --otlp-endpoint posts the connection's span, with its exit reason, to URL/v1/traces", async () => {
    const collector = await receiver()
    const server = await Cli.start(
      ["echo", "serve", "--port", "0", "--otlp-endpoint", collector.url],
      /listening on 127\.0\.0\.1:(\d+)/,
      { keepTimer: true, killAfter: 40_000 }
    )
    try {
      const echoed = await converse(Number(server.listening[1]), ["traced"], "traced\n")
      assert.strictEqual(echoed, "traced\n")
      const exports = await collector.until((all) =>
        spansOf(all, "socket-to-me-echo").some((span) => span.name === "connection")
      )
      assert.include(collector.paths, "POST /v1/traces")
      const connection = spansOf(exports, "socket-to-me-echo").find((span) => span.name === "connection")!
      assert.strictEqual(attribute(connection.attributes, "server"), "echo")
      assert.strictEqual(attribute(connection.attributes, "connection.id"), "1")
      assert.match(attribute(connection.attributes, "connection.peer") ?? "", /^127\.0\.0\.1:\d+$/)
      assert.strictEqual(attribute(connection.attributes, "connection.reason"), "PeerClosed")
      assert.isUndefined(connection.parentSpanId, "a root span")
    } finally {
      await Cli.stop(server)
      await collector.close()
    }
  }, 60_000)

  it("chat serve with SOCKET_TO_ME_OTLP_ENDPOINT exports each command as a child of its connection's span", async () => {
    const collector = await receiver()
    const server = await Cli.start(["chat", "serve", "--port", "0"], /listening on 127\.0\.0\.1:(\d+)/, {
      keepTimer: true,
      killAfter: 40_000,
      env: { SOCKET_TO_ME_OTLP_ENDPOINT: collector.url }
    })
    try {
      const seen = await converse(Number(server.listening[1]), ["/nick alice", "/quit"])
      assert.include(seen, "* bye")
      const exports = await collector.until((all) => {
        const spans = spansOf(all, "socket-to-me-chat")
        return spans.some((span) => span.name === "connection") &&
          spans.filter((span) => span.name === "chat.command").length >= 2
      })
      const spans = spansOf(exports, "socket-to-me-chat")
      const connection = spans.find((span) => span.name === "connection")!
      assert.strictEqual(attribute(connection.attributes, "connection.reason"), "Completed")
      const commands = spans.filter((span) => span.name === "chat.command")
      assert.deepStrictEqual(commands.map((span) => attribute(span.attributes, "chat.command")), ["Nick", "Quit"])
      for (const command of commands) {
        assert.strictEqual(command.traceId, connection.traceId)
        assert.strictEqual(command.parentSpanId, connection.spanId)
      }
    } finally {
      await Cli.stop(server)
      await collector.close()
    }
  }, 60_000)

  it("a server stopped by SIGTERM sends the spans its drain ended before it exits", async () => {
    const collector = await receiver()
    const server = await Cli.start(
      ["chat", "serve", "--port", "0", "--otlp-endpoint", collector.url],
      /listening on 127\.0\.0\.1:(\d+)/,
      { keepTimer: true, killAfter: 40_000 }
    )
    let text = ""
    const joined = new Promise<void>((resolve) => {
      const socket = Net.connect(Number(server.listening[1]), "127.0.0.1", () => socket.write("/nick bob\n"))
      socket.on("data", (chunk) => {
        text += chunk.toString("utf8")
        if (text.includes("* you joined lobby")) resolve()
      })
      socket.on("error", () => {})
    })
    try {
      // Once its login is answered, the connection is served: the drain ends it.
      await joined
    } finally {
      assert.strictEqual(await Cli.stop(server), 0)
    }
    try {
      // What the server posted before it exited.
      const drained = spansOf(collector.exports, "socket-to-me-chat").filter((span) =>
        span.name === "connection" && attribute(span.attributes, "connection.reason") === "Drained"
      )
      assert.lengthOf(drained, 1, JSON.stringify(collector.exports))
    } finally {
      await collector.close()
    }
  }, 60_000)

  it("every server command offers it, and no client does", async () => {
    for (const command of [["echo", "serve"], ["chat", "serve"], ["files", "serve"], ["demo"]]) {
      assert.include((await Cli.run([...command, "--help"])).stdout, "--otlp-endpoint URL", command.join(" "))
    }
    for (const command of [["echo", "send"], ["chat", "join"], ["files", "send"]]) {
      assert.notInclude((await Cli.run([...command, "--help"])).stdout, "--otlp-endpoint", command.join(" "))
    }
  }, 60_000)

  it("a URL that is not http(s) is refused with the form expected", async () => {
    const result = await Cli.run(["files", "serve", "--port", "0", "--otlp-endpoint", "localhost:4318"])
    assert.strictEqual(result.code, 1)
    assert.include(result.stderr, `Invalid value for flag --otlp-endpoint: "localhost:4318". Expected an http:// or https:// URL`)
  })
})
