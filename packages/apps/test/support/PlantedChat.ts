/**
 * A small chat server for tests, with an ordering bug planted on purpose:
 * it speaks the part of the chat protocol the interleaving properties use
 * (`/nick NAME` logs in to the lobby, any other line goes to everyone else
 * there), but a new member joins the member list only after its welcome
 * has gone out. Its writes go straight to the sockets and wait for the
 * reader (over a network with a small high-water mark), so the window is
 * real: a message handled meanwhile misses the newcomer, although its
 * sender was already told the newcomer joined.
 *
 * The real chat does the announcement and the membership change in one
 * step of its room actor; `chat-interleavings.test.ts` checks that the same
 * property finds this bug and passes against the real server.
 */
import * as Bytes from "@socket-to-me/testkit/Bytes"
import type * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import type * as Socket from "effect/socket/Socket"

interface Member {
  readonly name: string
  readonly send: (line: string) => Effect.Effect<void>
}

const session = (socket: Socket.Socket, members: Ref.Ref<ReadonlyArray<Member>>) =>
  Effect.scoped(Effect.gen(function*() {
    const { pull } = yield* socket.reader
    const writer = yield* socket.writer
    const send = (line: string) => Effect.ignore(writer.write(Bytes.encode(`${line}\n`)))
    let me: Member | undefined
    const handle = Effect.fnUntraced(function*(line: string) {
      if (me === undefined) {
        if (!line.startsWith("/nick ")) return yield* send("* error: choose a nickname first with /nick NAME")
        const joining: Member = { name: line.slice(6), send }
        for (const member of yield* Ref.get(members)) yield* member.send(`* ${joining.name} joined lobby`)
        yield* send(`* you are now ${joining.name}`)
        yield* send("* you joined lobby")
        // The planted bug: the member list changes only now, after the
        // writes above waited for their readers.
        yield* Ref.update(members, (list) => [...list, joining])
        me = joining
        return
      }
      const from = me
      for (const member of yield* Ref.get(members)) {
        if (member !== from) yield* member.send(`<${from.name}> ${line}`)
      }
    })
    let buffered = ""
    while (true) {
      const chunk = yield* Effect.result(pull)
      if (chunk._tag === "Failure") break
      buffered += Bytes.decode(Bytes.concat(chunk.success))
      let end = buffered.indexOf("\n")
      while (end !== -1) {
        const line = buffered.slice(0, end)
        buffered = buffered.slice(end + 1)
        yield* handle(line)
        end = buffered.indexOf("\n")
      }
    }
    const left = me
    if (left !== undefined) {
      const rest = yield* Ref.updateAndGet(members, (list) => list.filter((member) => member !== left))
      for (const member of rest) yield* member.send(`* ${left.name} quit`)
    }
  }))

/** Serves the planted chat on `transport` for the life of the scope. */
export const serve = Effect.fnUntraced(function*(transport: TestTransport.TestTransport) {
  const listener = yield* transport.listen
  const members = yield* Ref.make<ReadonlyArray<Member>>([])
  yield* Effect.forkScoped(listener.socketServer.run((socket) => session(socket, members)))
  return listener
})
