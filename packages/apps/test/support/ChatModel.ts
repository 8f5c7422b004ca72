/**
 * The chat's model-based property test, shared by the one-server run
 * (chat-model.test.ts) and the run over several servers on one Redis
 * (chat-redis-model.test.ts): random scripts of clients connecting,
 * choosing and changing nicknames, talking, acting, switching rooms, sending
 * private messages, quitting and dropping, run against real servers and
 * against a plain model of what each connection must receive.
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
 * Over several servers, connection N goes to server N mod S, and each step
 * also waits until every other server has handled what the acting server
 * did (`watchers`): one hidden member per server, all in a room of their own
 * (`zz`, which the model knows of: it shows in `/rooms`), the acting
 * server's sending each other one a private line. A server handles what
 * another publishes in the order published, so once that line arrived, the
 * step's events have too. The model is the same one-server model.
 */
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as TestTransport from "@socket-to-me/testkit/TestTransport"
import type * as Server from "@socket-to-me/core/Server"
import * as Protocol from "../../src/chat/Protocol.ts"
import * as Peer from "./ChatPeer.ts"

// ---------------------------------------------------------------------------
// The script

// Four client slots; each connects (as its default nickname) the first time
// a step uses it, and again after it quit or dropped.
export const defaultNicks = ["ann", "bob", "cat", "dan"] as const
// Nicknames steps may ask for: case variants collide with the defaults.
export const nickPool = ["ann", "bob", "cat", "dan", "ANN", "Bob", "eve"] as const
export const roomPool = ["lobby", "dev", "ops"] as const

const Client = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: defaultNicks.length - 1 }))
const NickIndex = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: nickPool.length - 1 }))
const RoomIndex = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: roomPool.length - 1 }))

export const Step = Schema.TaggedUnion({
  Say: { client: Client },
  Me: { client: Client },
  Msg: { client: Client, to: NickIndex },
  Nick: { client: Client, nick: NickIndex },
  Join: { client: Client, room: RoomIndex },
  Who: { client: Client },
  Quit: { client: Client },
  Drop: { client: Client }
})
export type Step = typeof Step.Type

export const Script = Schema.Array(Step).check(Schema.isMaxLength(30))

export const describeStep = (step: Step, index: number): string => {
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

export interface ModelMember {
  readonly conn: number
  nick: string | undefined
  room: string | undefined
}

export class Model {
  readonly transcripts = new Map<number, Array<string>>()
  readonly members = new Map<number, ModelMember>()
  private conns = 0

  private hiddenConns = 0

  // Hidden members (see `hide`) have no transcript.
  private emit(conn: number, event: Protocol.Event) {
    this.transcripts.get(conn)?.push(Protocol.formatEvent(event))
  }

  /**
   * A member the script never acts for and whose transcript is not
   * compared (the multi-server runner's watchers): it only counts in
   * `/rooms` and `/who` of `room`, and holds `nick`.
   */
  hide(nick: string, room: string) {
    const conn = --this.hiddenConns
    this.members.set(conn, { conn, nick, room })
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

export const stepLine = (step: Step, index: number): string => {
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

export const isRoomsReply = (line: string) => line.startsWith("* rooms: ")

export interface Slot {
  readonly member: ModelMember
  readonly peer: Peer.Peer
}


/** A server the script runs against, and the ends of its connections (their ids). */
export interface Served {
  readonly server: TestTransport.TestServer
  readonly ended: Queue.Dequeue<number>
}

/** Starts a server with `serve`, recording the ids of its connections as they end. */
export const served = <E, R>(serve: (options: Server.Options) => Effect.Effect<TestTransport.TestServer, E, R>) =>
  Effect.gen(function*() {
    const ended = yield* Queue.unbounded<number>()
    const server = yield* serve({ onEnd: (info) => Effect.asVoid(Queue.offer(ended, info.id)) })
    return { server, ended } satisfies Served
  })

// The hidden members of a run over several servers (see the module docs).
const watchRoom = "zz"
const watcherNick = (server: number) => `w${server}`

// Logs a watcher in on every server and moves them all to their room; each
// move is seen by the others (as a leave from the lobby or a join of the
// room), and a server shows it only after it knows the move.
const startWatchers = (servers: ReadonlyArray<Served>, model: Model) =>
  Effect.gen(function*() {
    const watchers: Array<Peer.Peer> = []
    for (let k = 0; k < servers.length; k++) {
      const watcher = yield* Peer.login(servers[k]!.server, watcherNick(k))
      for (const other of watchers) yield* other.expect(`* ${watcherNick(k)} joined lobby`)
      watchers.push(watcher)
    }
    for (let k = 0; k < servers.length; k++) {
      yield* watchers[k]!.send(`/join ${watchRoom}`)
      yield* watchers[k]!.expect(`* you joined ${watchRoom}`)
      for (let j = 0; j < servers.length; j++) {
        if (j === k) continue
        const nick = watcherNick(k)
        yield* watchers[j]!.expect((line) => line === `* ${nick} left lobby` || line === `* ${nick} joined ${watchRoom}`)
      }
      model.hide(watcherNick(k), watchRoom)
    }
    let syncs = 0
    // Waits until every other server has handled what server `k` did so far.
    const sync = (k: number) =>
      Effect.gen(function*() {
        const mark = `sync ${++syncs}`
        for (let j = 0; j < servers.length; j++) {
          if (j === k) continue
          yield* watchers[k]!.send(`/msg ${watcherNick(j)} ${mark}`)
          yield* watchers[j]!.expect(`*${watcherNick(k)}* ${mark}`)
        }
      })
    return sync
  })

/**
 * Runs `script` against `servers` (fresh ones); returns what the model
 * expects each connection to have received and what each actually received
 * (connections that quit or dropped included).
 */
export const runScript = (servers: ReadonlyArray<Served>, script: ReadonlyArray<Step>) =>
  Effect.gen(function*() {
    const model = new Model()
    const sync = servers.length > 1 ? yield* startWatchers(servers, model) : () => Effect.void
    // Connection ids are given in accept order on each server, and the
    // script connects one client at a time.
    const accepted = servers.map(() => servers.length > 1 ? 1 : 0)
    const actual = new Map<number, ReadonlyArray<string>>()
    const slots = new Map<number, Slot & { readonly server: number; readonly id: number }>()
    const endedIds = servers.map(() => new Set<number>())
    const awaitEnd = (server: number, id: number) =>
      Effect.gen(function*() {
        while (!endedIds[server]!.has(id)) endedIds[server]!.add(yield* Queue.take(servers[server]!.ended))
      }).pipe(Effect.timeoutOrElse({
        duration: Peer.expectTimeout,
        orElse: () => Effect.fail(new Error(`connection ${id} of server ${server} did not end`))
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
        const member = model.connect()
        const server = (member.conn - 1) % servers.length
        const peer = yield* Peer.connect(servers[server]!.server)
        actual.set(member.conn, peer.seen)
        const nick = defaultNicks[step.client]!
        model.nick(member, nick)
        yield* peer.send(`/nick ${nick}`)
        yield* peer.expect((line) => line === "* you joined lobby" || line === `* error: nickname ${nick} is taken`)
        slot = { member, peer, server, id: ++accepted[server]! }
        slots.set(step.client, slot)
      }
      const { member, peer } = slot
      if (step._tag === "Drop") {
        // Read what it was sent, so that its transcript can be compared,
        // then reset; the step is over when the server has seen it end.
        yield* barrier(slot)
        model.step(member, step, index)
        yield* peer.duplex.reset
        yield* awaitEnd(slot.server, slot.id)
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
      yield* sync(slot.server)
    }
    // Everyone still connected reads the rest.
    for (const slot of slots.values()) yield* barrier(slot)
    return { expected: model.transcripts, actual }
  })

/** Per connection, what the model expected and what was received, with the script as a story for a failure message. */
export const transcripts = (
  script: ReadonlyArray<Step>,
  result: { readonly expected: ReadonlyMap<number, ReadonlyArray<string>>; readonly actual: ReadonlyMap<number, ReadonlyArray<string>> }
): Array<{ readonly actual: ReadonlyArray<string>; readonly expected: ReadonlyArray<string>; readonly message: string }> => {
  const story = script.length === 0 ? "(empty script)" : script.map(describeStep).join("\n")
  const show = (list: ReadonlyArray<string>) => list.map((line) => `    ${line}`).join("\n")
  return Array.from(result.expected, ([conn, lines]) => {
    const got = result.actual.get(conn) ?? []
    return {
      actual: got,
      expected: lines,
      message: `connection ${conn} after the script:\n${story}\n  expected:\n${show(lines)}\n  received:\n${show(got)}\n`
    }
  })
}
