// ECHO message: the message as a bulk string.
import * as Effect from "effect/Effect"
import * as Reply from "../Reply.ts"
import type { Spec } from "./Spec.ts"

/** ECHO. */
export const echo: Spec = {
  name: "echo",
  arity: 2,
  pubsub: false,
  run: (args, session) => Effect.sync(() => session.reply(Reply.bulk(args[1]!)))
}
