// The command table and the checks Redis makes before running a command,
// in its order (`processCommand` in server.c): the name (any case), the
// arity, then subscribed mode, where only the pub/sub commands, PING and
// QUIT run. Every error text is redis-server's.
import * as Effect from "effect/Effect"
import { del } from "./cmd/Del.ts"
import { echo } from "./cmd/Echo.ts"
import { exists } from "./cmd/Exists.ts"
import { expire } from "./cmd/Expire.ts"
import { get } from "./cmd/Get.ts"
import { decr, incr } from "./cmd/Incr.ts"
import { ping } from "./cmd/Ping.ts"
import { publish } from "./cmd/Publish.ts"
import { quit } from "./cmd/Quit.ts"
import { set } from "./cmd/Set.ts"
import { cString, lower, type Session, type Spec } from "./cmd/Spec.ts"
import { subscribe, unsubscribe } from "./cmd/Subscribe.ts"
import { ttl } from "./cmd/Ttl.ts"
import * as Reply from "./Reply.ts"

/** Every command the server knows. */
export const all: ReadonlyArray<Spec> = [
  ping, echo, get, set, del, exists, incr, decr, expire, ttl, publish, subscribe, unsubscribe, quit
]

const table = new Map(all.map((spec) => [spec.name, spec]))

/**
 * Redis's reply to a name it does not know: the name and the first
 * arguments quoted, each cut to what is left of 128 characters, as C
 * strings (up to a NUL), with CR and LF made spaces.
 */
export const unknownCommand = (args: Reply.Command): Reply.Reply => {
  let quoted = ""
  for (let i = 1; i < args.length && quoted.length < 128; i++) {
    quoted += `'${cString(args[i]!).slice(0, 128 - quoted.length)}' `
  }
  const text = `ERR unknown command '${cString(args[0]!).slice(0, 128)}', with args beginning with: ${quoted}`
  return Reply.error(text.replace(/[\r\n]/g, " "))
}

/** Runs one command for `session`, or replies why it does not. */
export const execute = (args: Reply.Command, session: Session): Effect.Effect<void> => {
  const spec = table.get(lower(args[0]!))
  if (spec === undefined) return Effect.sync(() => session.reply(unknownCommand(args)))
  if ((spec.arity > 0 && args.length !== spec.arity) || args.length < -spec.arity) {
    return Effect.sync(() => session.reply(Reply.error(`ERR wrong number of arguments for '${spec.name}' command`)))
  }
  if (session.subscriptions.size > 0 && !spec.pubsub) {
    return Effect.sync(() =>
      session.reply(Reply.error(
        `ERR Can't execute '${spec.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`
      ))
    )
  }
  return spec.run(args, session)
}
