/**
 * Traces of the apps: with a tracer installed (an in-memory one here), each
 * connection is a `connection` span and each request a child of it, a chat
 * command (`chat.command`, named, never its text) and a files upload
 * (`files.upload`, with its name and size).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import * as Path from "node:path"
import * as FilesClient from "../src/files/FilesClient.ts"
import * as Peer from "./support/ChatPeer.ts"
import * as ChatServer from "./support/ChatServer.ts"
import { quiet, serveFiles, tempDirectory, writeLocal } from "./support/files.ts"

// A tracer that keeps every span it makes, for the test to read.
const collecting = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}

const named = (spans: ReadonlyArray<Tracer.Span>, name: string) => spans.filter((span) => span.name === name)

const isEnded = (span: Tracer.Span) => span.status._tag === "Ended"

describe("traces", () => {
  it.live("a chat connection is a span; each command is a child span named for the command, without its text", () =>
    Effect.gen(function*() {
      const { spans, tracer } = collecting()
      const server = yield* Effect.withTracer(ChatServer.serve(TestTransport.memory, {}, { name: "chat" }), tracer)
      const alice = yield* Peer.login(server, "alice")
      yield* alice.send("a secret plan", "/quit")
      yield* alice.expect("* bye")
      yield* ChatServer.awaitExits(server, 1)
      const [connection, ...others] = named(spans, "connection")
      assert.isDefined(connection)
      assert.lengthOf(others, 0)
      assert.isTrue(isEnded(connection!))
      assert.strictEqual(connection!.attributes.get("server"), "chat")
      assert.strictEqual(connection!.attributes.get("connection.id"), server.exits[0]!.id)
      assert.strictEqual(connection!.attributes.get("connection.reason"), server.exits[0]!.reason._tag)
      const commands = named(spans, "chat.command")
      assert.deepStrictEqual(commands.map((span) => span.attributes.get("chat.command")), ["Nick", "Say", "Quit"])
      for (const command of commands) {
        assert.strictEqual(Option.getOrUndefined(command.parent), connection, "a child of the connection's span")
        assert.isTrue(isEnded(command))
      }
      for (const span of spans) {
        for (const value of span.attributes.values()) assert.notInclude(String(value), "secret", span.name)
      }
    }))

  it.live("a files upload is a child span of its connection's, with the file's name and size", () =>
    quiet(Effect.gen(function*() {
      const { spans, tracer } = collecting()
      const root = yield* tempDirectory
      const served = yield* Effect.withTracer(serveFiles(TestTransport.memory, { directory: Path.join(root, "received") }), tracer)
      const local = writeLocal(root, "notes.txt", Bytes.random(1000))
      yield* FilesClient.upload(served.target, local)
      yield* ChatServer.awaitExits(served.server, 1)
      const [connection] = named(spans, "connection")
      assert.isDefined(connection)
      assert.strictEqual(connection!.attributes.get("connection.reason"), "Completed")
      assert.isTrue(Exit.isSuccess((connection!.status as Extract<Tracer.SpanStatus, { _tag: "Ended" }>).exit))
      const [upload, ...more] = named(spans, "files.upload")
      assert.isDefined(upload)
      assert.lengthOf(more, 0)
      assert.strictEqual(Option.getOrUndefined(upload!.parent), connection)
      assert.strictEqual(upload!.attributes.get("files.name"), "notes.txt")
      assert.strictEqual(upload!.attributes.get("files.size"), 1000)
      assert.isTrue(isEnded(upload!))
    })))
})
