// PUBLISH channel message: sends the message to the channel's subscribers;
// how many there were.
import * as Effect from "effect/Effect"
import * as Reply from "../Reply.ts"
import type { Spec } from "./Spec.ts"

/** PUBLISH. */
export const publish: Spec = {
  name: "publish",
  arity: 3,
  pubsub: false,
  run: (args, session) =>
    Effect.map(session.channels.publish(args[1]!, args[2]!), (receivers) => session.reply(Reply.integer(receivers)))
}
