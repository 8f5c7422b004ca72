// Chapter 3 of the tutorial (docs/tutorial/03-shared-state.md): shared
// state. The room that every connection shares is an actor: one fiber owns
// its state and handles one message at a time, so the state needs no lock
// and every member sees the room's lines in the same order. A member's
// lines wait in a bounded outbox; one that stops reading is cut off.
import { Actor, Broadcast, ConnectionError, Framing, LineCodec } from "@socket-to-me/core"
import { Runner } from "@socket-to-me/node"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

// #region room
/** What a connection tells (or asks) the room. */
export type RoomMessage =
  | { readonly _tag: "Join"; readonly id: number; readonly outbox: Broadcast.Subscriber<Uint8Array> }
  | { readonly _tag: "Say"; readonly id: number; readonly text: string }
  | { readonly _tag: "Leave"; readonly id: number }
  | { readonly _tag: "Who"; readonly reply: Actor.Reply<ReadonlyArray<number>> }

// The state: each member's outbox, by connection id.
type Members = ReadonlyMap<number, Broadcast.Subscriber<Uint8Array>>

// Encoded once, offered to every member but `except`. An offer never
// waits: a full outbox applies its policy instead.
const announce = (members: Members, line: string, except?: number) => {
  const bytes = LineCodec.encodeLine(line)
  for (const [id, outbox] of members) if (id !== except) outbox.offerUnsafe(bytes)
}

const room: Actor.Behavior<Members, RoomMessage> = {
  initial: new Map(),
  receive: (members, message) => {
    switch (message._tag) {
      case "Join":
        announce(members, `* ${message.id} joined`)
        return Effect.succeed(new Map(members).set(message.id, message.outbox))
      case "Say":
        announce(members, `${message.id}: ${message.text}`, message.id)
        return Effect.succeed(members)
      case "Leave": {
        const rest = new Map(members)
        if (rest.delete(message.id)) announce(rest, `* ${message.id} left`)
        return Effect.succeed(rest)
      }
      case "Who":
        return Effect.as(Deferred.succeed(message.reply, [...members.keys()]), members)
    }
  }
}

/** Starts the room's actor, for the life of the enclosing scope. */
export const makeRoom = Actor.make(room, { name: "room" })
// #endregion room

// #region connection
/** Lines a member's outbox holds; one more and the member is cut off. */
export const outboxSize = 64

/** A member's connection: its lines go to the room; its outbox, filled by the room, is its output. */
export const chat = (room: Actor.Actor<RoomMessage>) =>
  Framing.handlerEncoded(LineCodec.make({ maxLineBytes: 1024 }), (lines, info) =>
    Stream.unwrap(Effect.gen(function*() {
      // Everything here lives in the connection's scope.
      const outbox = yield* Broadcast.subscriber<Uint8Array>({ capacity: outboxSize, policy: "disconnect" })
      yield* room.tell({ _tag: "Join", id: info.id, outbox })
      yield* Effect.addFinalizer(() => Effect.ignore(room.tell({ _tag: "Leave", id: info.id })))
      // Overflowed: cut off at once, not after the output it does not read.
      yield* Effect.forkScoped(
        Effect.andThen(outbox.disconnected, info.abort(new ConnectionError.SlowConsumer({ capacity: outboxSize })))
      )
      const input = Stream.mapEffect(lines, (text) =>
        text === "/who"
          ? room.ask<ReadonlyArray<number>>((reply) => ({ _tag: "Who", reply })).pipe(
            Effect.flatMap((ids) => outbox.offer(LineCodec.encodeLine(`* here: ${ids.join(", ")}`)))
          )
          : room.tell({ _tag: "Say", id: info.id, text }))
      // When the input ends, the outbox ends after what it holds, and so
      // does the connection.
      return Stream.merge(outbox.stream, Stream.concat(Stream.drain(input), Stream.fromEffectDrain(outbox.end)))
    })))
// #endregion connection

if (import.meta.main) {
  const port = Number(process.env.PORT ?? 7022)
  // Prints `broadcast listening on 127.0.0.1:7022`; Ctrl-C drains.
  Runner.runMain(Effect.scoped(Effect.flatMap(makeRoom, (room) =>
    Runner.serve(chat(room), { name: "broadcast", host: "127.0.0.1", port }))))
}
