/**
 * Model-based property test of the chat: random scripts of clients
 * connecting, choosing and changing nicknames, talking, acting, switching
 * rooms, sending private messages, quitting and dropping, run against a real
 * server and against a plain model of what each connection must receive.
 *
 * The model is the specification in a few lines: a room message reaches
 * every other member of the sender's room at that moment and nobody else; a
 * private message reaches its target only; joins, leaves, quits, drops and
 * renames are announced to the room; errors go to the sender only. Each
 * step ends with a barrier (the acting client's `/rooms` reply, or the
 * dropped connection's end), so the server handles the steps in script
 * order and the model can predict every connection's transcript exactly,
 * line by line. Comparing whole transcripts checks more than the property
 * the issue states (every member gets every message sent to its room while
 * it was a member, in each sender's order, and nobody else does), and
 * implies it.
 *
 * A failing script shrinks (steps are removed) to a short one, printed as
 * a transcript. Every test body runs over every transport in `transports`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Protocol from "../src/chat/Protocol.ts"
import * as Peer from "./support/ChatPeer.ts"
import * as ChatServer from "./support/ChatServer.ts"
import { all as transports } from "@socket-to-me/testkit/TcpTransport"

// Four client slots; each connects (as its default nickname) the first time
// a step uses it, and again after it quit or dropped.
const defaultNicks = ["ann", "bob", "cat", "dan"] as const
// Nicknames steps may ask for: case variants collide with the defaults.
const nickPool = ["ann", "bob", "cat", "dan", "ANN", "Bob", "eve"] as const
const roomPool = ["lobby", "dev", "ops"] as const

const Client = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: defaultNicks.length - 1 }))
const NickIndex = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: nickPool.length - 1 }))
const RoomIndex = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: roomPool.length - 1 }))

const Step = Schema.TaggedUnion({
  Say: { client: Client },
  Me: { client: Client },
  Msg: { client: Client, to: NickIndex },
  Nick: { client: Client, nick: NickIndex },
  Join: { client: Client, room: RoomIndex },
  Who: { client: Client },
  Quit: { client: Client },
  Drop: { client: Client }
})
type Step = typeof Step.Type

const Script = Schema.Array(Step).check(Schema.isMaxLength(30))

const describeStep = (step: Step, index: number): string => {
  const who = defaultNicks[step.client]
  switch (step._tag) {
    case "Say":
      return `${index}: client ${who} says "say ${index}"`
    case "Me":
      return `${index}: client ${who} /me "acts ${index}"`
    case "Msg":
      return `${index}: client ${who} /msg ${nickPool[step.to]!} "psst ${index}"`
    case "Nick":
      return `${index}: client ${who} /nick ${nickPool[step.nick]!}`
    case "Join":
      return `${index}: client ${who} /join ${roomPool[step.room]!}`
    case "Who":
      return `${index}: client ${who} /who`
    case "Quit":
      return `${index}: client ${who} /quit`
    case "Drop":
      return `${index}: client ${who} drops (connection reset)`
  }
}

// ---------------------------------------------------------------------------
// The model

interface ModelMember {
  readonly conn: number
  nick: string | undefined
  room: string | undefined
}

class Model {
  readonly transcripts = new Map<number, Array<string>>()
  readonly members = new Map<number, ModelMember>()
  private conns = 0

  private emit(conn: number, event: Protocol.Event) {
    this.transcripts.get(conn)!.push(Protocol.formatEvent(event))
  }
  private toRoom(room: string, event: Protocol.Event, except?: ModelMember) {
    for (const m of this.members.values()) if (m.room === room && m !== except) this.emit(m.conn, event)
  }
  private byNick(nick: string): ModelMember | undefined {
    for (const m of this.members.values()) if (m.nick?.toLowerCase() === nick.toLowerCase()) return m
    return undefined
  }

  connect(): ModelMember {
    const member: ModelMember = { conn: ++this.conns, nick: undefined, room: undefined }
    this.members.set(member.conn, member)
    this.transcripts.set(member.conn, [])
    for (const event of Protocol.greeting) this.emit(member.conn, event)
    return member
  }

  nick(m: ModelMember, nick: string) {
    const owner = this.byNick(nick)
    if (owner !== undefined && owner !== m) return this.emit(m.conn, { _tag: "Error", message: `nickname ${nick} is taken` })
    this.emit(m.conn, { _tag: "NickSet", nick })
    if (m.nick === nick) return
    if (m.nick === undefined) {
      this.toRoom(Protocol.lobby, { _tag: "Joined", nick, room: Protocol.lobby })
      m.nick = nick
      m.room = Protocol.lobby
      return this.emit(m.conn, { _tag: "YouJoined", room: Protocol.lobby })
    }
    this.toRoom(m.room!, { _tag: "NickChanged", from: m.nick, to: nick }, m)
    m.nick = nick
  }

  step(m: ModelMember, step: Step, index: number) {
    if (step._tag === "Nick") return this.nick(m, nickPool[step.nick]!)
    if (step._tag === "Quit") {
      this.members.delete(m.conn)
      if (m.nick !== undefined) this.toRoom(m.room!, { _tag: "Quit", nick: m.nick })
      return this.emit(m.conn, { _tag: "Bye" })
    }
    if (step._tag === "Drop") {
      this.members.delete(m.conn)
      if (m.nick !== undefined) this.toRoom(m.room!, { _tag: "Disconnected", nick: m.nick })
      return
    }
    if (m.nick === undefined || m.room === undefined) {
      return this.emit(m.conn, { _tag: "Error", message: "choose a nickname first with /nick NAME" })
    }
    const nick = m.nick
    switch (step._tag) {
      case "Say":
        return this.toRoom(m.room, { _tag: "Message", from: nick, text: `say ${index}` }, m)
      case "Me":
        return this.toRoom(m.room, { _tag: "Action", from: nick, action: `acts ${index}` }, m)
      case "Msg": {
        const target = this.byNick(nickPool[step.to]!)
        if (target === undefined || target.nick === undefined) {
          return this.emit(m.conn, { _tag: "Error", message: `no such user ${nickPool[step.to]!}` })
        }
        this.emit(target.conn, { _tag: "Private", from: nick, text: `psst ${index}` })
        return this.emit(m.conn, { _tag: "PrivateSent", to: target.nick, text: `psst ${index}` })
      }
      case "Join": {
        const room = roomPool[step.room]!
        if (room === m.room) return this.emit(m.conn, { _tag: "AlreadyIn", room })
        const old = m.room
        m.room = room
        this.toRoom(old, { _tag: "Left", nick, room: old })
        this.toRoom(room, { _tag: "Joined", nick, room }, m)
        return this.emit(m.conn, { _tag: "YouJoined", room })
      }
      case "Who": {
        const nicks = Array.from(this.members.values())
          .filter((other) => other.room === m.room)
          .map((other) => other.nick!)
          .sort((a, b) => a.toLowerCase() < b.toLowerCase() ? -1 : 1)
        return this.emit(m.conn, { _tag: "Who", room: m.room, nicks })
      }
    }
  }

  rooms(m: ModelMember) {
    const counts = new Map<string, number>()
    for (const other of this.members.values()) {
      if (other.room !== undefined) counts.set(other.room, (counts.get(other.room) ?? 0) + 1)
    }
    const rooms = Array.from(counts, ([name, members]) => ({ name, members })).sort((a, b) => a.name < b.name ? -1 : 1)
    this.emit(m.conn, { _tag: "Rooms", rooms })
  }
}

// ---------------------------------------------------------------------------
// The runner

const stepLine = (step: Step, index: number): string => {
  switch (step._tag) {
    case "Say":
      return `say ${index}`
    case "Me":
      return `/me acts ${index}`
    case "Msg":
      return `/msg ${nickPool[step.to]!} psst ${index}`
    case "Nick":
      return `/nick ${nickPool[step.nick]!}`
    case "Join":
      return `/join ${roomPool[step.room]!}`
    case "Who":
      return "/who"
    case "Quit":
      return "/quit"
    case "Drop":
      return ""
  }
}

const isRoomsReply = (line: string) => line.startsWith("* rooms: ")

interface Slot {
  readonly member: ModelMember
  readonly peer: Peer.Peer
}

// Runs the script against a fresh server; returns what the model expects
// each connection to have received and what each actually received
// (connections that quit or dropped included).
const runScript = (transport: (typeof transports)[number], script: ReadonlyArray<Step>) =>
  Effect.scoped(Effect.gen(function*() {
    const ended = yield* Queue.unbounded<number>()
    const server = yield* ChatServer.serve(transport, { rateLimit: 0 }, {
      onEnd: (info) => Effect.asVoid(Queue.offer(ended, info.id))
    })
    const model = new Model()
    const actual = new Map<number, ReadonlyArray<string>>()
    const slots = new Map<number, Slot>()
    const endedIds = new Set<number>()
    // Connection ids are given in accept order, and the script connects one
    // client at a time, so the model's numbering matches the server's.
    const awaitEnd = (conn: number) =>
      Effect.gen(function*() {
        while (!endedIds.has(conn)) endedIds.add(yield* Queue.take(ended))
      }).pipe(Effect.timeoutOrElse({
        duration: Peer.expectTimeout,
        orElse: () => Effect.fail(new Error(`connection ${conn} did not end`))
      }))
    // The acting client's `/rooms` reply comes after everything the server
    // sent it before: once it arrived, the transcript so far is complete
    // (missing lines show up as a mismatch, not as a wait).
    const barrier = (slot: Slot) =>
      Effect.gen(function*() {
        model.rooms(slot.member)
        yield* slot.peer.send("/rooms")
        yield* slot.peer.expect(isRoomsReply)
      })

    for (let index = 0; index < script.length; index++) {
      const step = script[index]!
      let slot = slots.get(step.client)
      if (slot === undefined) {
        const peer = yield* Peer.connect(server)
        const member = model.connect()
        actual.set(member.conn, peer.seen)
        const nick = defaultNicks[step.client]!
        model.nick(member, nick)
        yield* peer.send(`/nick ${nick}`)
        yield* peer.expect((line) => line === "* you joined lobby" || line === `* error: nickname ${nick} is taken`)
        slot = { member, peer }
        slots.set(step.client, slot)
      }
      const { member, peer } = slot
      if (step._tag === "Drop") {
        // Read what it was sent, so that its transcript can be compared,
        // then reset; the step is over when the server has seen it end.
        yield* barrier(slot)
        model.step(member, step, index)
        yield* peer.duplex.reset
        yield* awaitEnd(member.conn)
        slots.delete(step.client)
      } else if (step._tag === "Quit") {
        model.step(member, step, index)
        yield* peer.send("/quit")
        yield* peer.readToEnd
        slots.delete(step.client)
      } else {
        model.step(member, step, index)
        yield* peer.send(stepLine(step, index))
        yield* barrier(slot)
      }
    }
    // Everyone still connected reads the rest.
    for (const slot of slots.values()) yield* barrier(slot)
    return { expected: model.transcripts, actual }
  }))

for (const transport of transports) {
  describe(`chat model over ${transport.name}`, () => {
    it.live.prop(
      "every connection receives exactly what the model says: room messages to the room's other members, private messages to their target, announcements to the room",
      [Script],
      ([script]) =>
        Effect.gen(function*() {
          const { actual, expected } = yield* runScript(transport, script)
          const story = script.length === 0 ? "(empty script)" : script.map(describeStep).join("\n")
          for (const [conn, lines] of expected) {
            const got = actual.get(conn) ?? []
            const show = (list: ReadonlyArray<string>) => list.map((line) => `    ${line}`).join("\n")
            assert.deepStrictEqual(
              got,
              lines,
              `connection ${conn} after the script:\n${story}\n  expected:\n${show(lines)}\n  received:\n${show(got)}\n`
            )
          }
        }),
      { timeout: 60_000, arbitrary: { runs: 40 } }
    )
  })
}
