/**
 * The chat's interleaving properties, shared by its tests: a client that
 * logs in and acts, the checks over every client's transcript, and the
 * specs that put them together (see `Interleavings`).
 */
import * as Interleavings from "@socket-to-me/testkit/Interleavings"
import type * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"

export interface ChatSession {
  readonly session: Interleavings.LineSession
  // Messages sent so far, which numbers the next one.
  said: number
}

// Connects and logs in as the client's name (into the lobby).
export const login = (client: Interleavings.ClientContext<unknown>) =>
  Effect.gen(function*() {
    const session = yield* Interleavings.lineSession(client)
    yield* session.send(`/nick ${client.name}`)
    yield* session.expect("* you joined lobby")
    const chat: ChatSession = { session, said: 0 }
    return chat
  })

const joinedLine = (name: string) => `* ${name} joined lobby`

// Every message a sender sent reaches every client the sender had seen
// join before sending it, and every client that had seen the sender join
// (the lobby's members then; nobody leaves here). Each receiver gets each
// sender's messages once, in the order they were sent.
export const causalDelivery = (outcome: Interleavings.Outcome<unknown, unknown, ChatSession>) =>
  Effect.gen(function*() {
    const timelines = new Map(outcome.clients.map((client) => [client.name, Interleavings.timeline(client)]))
    const received = new Map(outcome.clients.map((client) => [client.name, Interleavings.receivedLines(client)]))
    for (const sender of outcome.clients) {
      const timeline = timelines.get(sender.name)!
      const messages: Array<string> = []
      const seenJoining = new Set<string>()
      for (const entry of timeline) {
        if (entry.direction === "received") {
          const joined = /^\* (\S+) joined lobby$/.exec(entry.line)
          if (joined !== null) seenJoining.add(joined[1]!)
          continue
        }
        if (entry.line.startsWith("/")) continue
        messages.push(entry.line)
        for (const receiver of outcome.clients) {
          if (receiver === sender) continue
          const lines = received.get(receiver.name)!
          const knew = seenJoining.has(receiver.name) || lines.includes(joinedLine(sender.name))
          const copies = lines.filter((line) => line === `<${sender.name}> ${entry.line}`).length
          yield* Interleavings.expect(
            copies <= 1,
            `${receiver.name} received "${entry.line}" from ${sender.name} ${copies} times`
          )
          yield* Interleavings.expect(
            !knew || copies === 1,
            `${sender.name} sent "${entry.line}" after ${
              seenJoining.has(receiver.name) ? `seeing "* ${receiver.name} joined lobby"` : `${receiver.name} saw it join`
            }, but ${receiver.name} never received it`
          )
        }
      }
      for (const receiver of outcome.clients) {
        const order = received.get(receiver.name)!
          .filter((line) => line.startsWith(`<${sender.name}> `))
          .map((line) => messages.indexOf(line.slice(sender.name.length + 3)))
        yield* Interleavings.expect(
          order.every((position, i) => i === 0 || position > order[i - 1]!),
          `${receiver.name} received ${sender.name}'s messages out of order: ${order.join(", ")}`
        )
      }
    }
  })

// Clients that log in and say numbered lines, over a network where every
// write waits for its reader (a 1-byte high-water mark), so that a server
// that writes in the middle of changing its state leaves a window open.
export const sayingSpec = <S extends TestTransport.Listener>(
  server: (transport: TestTransport.TestTransport) => Effect.Effect<S, unknown, Scope.Scope>
): Interleavings.Spec<S, "say", ChatSession> => ({
  clients: ["ann", "bob", "cat"],
  action: Schema.Literal("say"),
  maxActions: 3,
  network: { highWaterMark: 1 },
  server,
  connect: login,
  act: (chat, _, client) => chat.session.send(`${client.name}-${++chat.said}`),
  describe: () => "say",
  check: causalDelivery
})

