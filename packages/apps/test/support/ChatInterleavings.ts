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


// -----------------------------------------------------------------------------
// Rooms: nobody receives a room's message after the notice that they left it

const rooms = ["lobby", "dev", "ops"] as const

/** A room client's actions: say a line (to its room), or move to a room. */
export const RoomAction = Schema.TaggedUnion({
  Say: {},
  Join: { room: Schema.Literals(rooms) }
})
export type RoomAction = typeof RoomAction.Type

export interface RoomSession extends ChatSession {
  // The room of its last `/join` sent: the server handles a connection's
  // lines in order, so its next message goes there.
  room: string
}

// Each receiver's room, followed through the notices it receives (`* you
// joined ROOM`): every message it receives was said in that room (the
// sender tags each message with its room), so none comes from a room it
// left (or was never in). Each sender's messages arrive in its order.
export const roomMessages = (outcome: Interleavings.Outcome<unknown, RoomAction, RoomSession>) =>
  Effect.forEach(outcome.clients, (receiver) =>
    Effect.gen(function*() {
      let room: string | undefined
      const last = new Map<string, number>()
      for (const line of Interleavings.receivedLines(receiver)) {
        const joined = /^\* you joined (\S+)$/.exec(line)
        if (joined !== null) room = joined[1]!
        const message = /^<(\S+)> \S+-(\d+)@(\S+)$/.exec(line)
        if (message === null) continue
        const [, from, n, said] = message
        yield* Interleavings.expect(
          said === room,
          `${receiver.name} received "${line}" (said in ${said}) while in ${room ?? "no room"}`
        )
        yield* Interleavings.expect(
          Number(n) > (last.get(from!) ?? 0),
          `${receiver.name} received "${line}" after ${from}'s message ${last.get(from!)}`
        )
        last.set(from!, Number(n))
      }
    }), { discard: true })

export const roomSpec = <S extends TestTransport.Listener>(
  server: (transport: TestTransport.TestTransport) => Effect.Effect<S, unknown, Scope.Scope>
): Interleavings.Spec<S, RoomAction, RoomSession> => ({
  clients: ["ann", "bob", "cat"],
  action: RoomAction,
  maxActions: 4,
  server,
  connect: (client) => Effect.map(login(client), (chat): RoomSession => ({ ...chat, room: "lobby" })),
  act: (chat, action, client) => {
    if (action._tag === "Join") {
      chat.room = action.room
      return chat.session.send(`/join ${action.room}`)
    }
    return chat.session.send(`${client.name}-${++chat.said}@${chat.room}`)
  },
  describe: (action) => action._tag === "Join" ? `/join ${action.room}` : "say",
  check: roomMessages
})

// -----------------------------------------------------------------------------
// Nicknames stay unique under concurrent `/nick`

// Names clients race for (none is a client's login name); a case variant
// collides with its original.
const nicks = ["eve", "EVE", "max"] as const

/** A nickname client's action: ask for one of a few names. */
export const NickAction = Schema.Literals(nicks)
export type NickAction = typeof NickAction.Type

// Each client's nickname is the last one the server gave it (`* you are now
// NAME`); at the end no two clients hold the same one, ignoring case, and
// the room's own list says the same. Every `/nick` was answered, with the
// name or with its being taken.
export const uniqueNicks = (
  nicknames: Effect.Effect<ReadonlyArray<string>, unknown>
) =>
(outcome: Interleavings.Outcome<unknown, NickAction, ChatSession>) =>
  Effect.gen(function*() {
    const held = outcome.clients.map((client) => {
      const given = Interleavings.receivedLines(client).flatMap((line) => {
        const set = /^\* you are now (\S+)$/.exec(line)
        return set === null ? [] : [set[1]!]
      })
      return { client: client.name, nick: given[given.length - 1] }
    })
    for (const client of outcome.clients) {
      const asked = client.script.length
      const answered = Interleavings.receivedLines(client).filter((line) =>
        /^\* you are now \S+$/.test(line) || /^\* error: nickname \S+ is taken$/.test(line)
      ).length
      // Its login is answered too.
      yield* Interleavings.expect(answered === asked + 1, `${client.name} asked ${asked + 1} times, ${answered} answers`)
    }
    const lower = held.map((entry) => entry.nick?.toLowerCase())
    yield* Interleavings.expect(
      new Set(lower).size === lower.length,
      `two clients hold one nickname: ${held.map((entry) => `${entry.client}=${entry.nick}`).join(", ")}`
    )
    const listed = [...(yield* nicknames)].sort()
    yield* Interleavings.expectEqual(
      listed,
      held.map((entry) => entry.nick!).sort(),
      "the room's nicknames against what the clients were told"
    )
  })

export const nickSpec = <S extends TestTransport.Listener>(
  server: (transport: TestTransport.TestTransport) => Effect.Effect<S, unknown, Scope.Scope>,
  nicknames: (server: S) => Effect.Effect<ReadonlyArray<string>, unknown>
): Interleavings.Spec<S, NickAction, ChatSession> => ({
  clients: ["ann", "bob", "cat"],
  action: NickAction,
  maxActions: 3,
  server,
  connect: login,
  act: (chat, nick) => chat.session.send(`/nick ${nick}`),
  describe: (nick) => `/nick ${nick}`,
  check: (outcome) => uniqueNicks(nicknames(outcome.server))(outcome)
})
