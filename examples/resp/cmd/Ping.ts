// PING [message]: `+PONG`, or the message as a bulk string. A subscribed
// connection gets `pong` and the message (empty without one) as an array,
// as RESP2 clients in subscribed mode expect every reply to be a push.
import * as Effect from "effect/Effect"
import * as Reply from "../Reply.ts"
import type { Spec } from "./Spec.ts"

const pong = Reply.bulk(Reply.latin1("pong"))
const noMessage = Reply.bulk(new Uint8Array(0))

/** PING. */
export const ping: Spec = {
  name: "ping",
  arity: -1,
  pubsub: true,
  run: (args, session) =>
    Effect.sync(() => {
      // Redis declares -1 and checks the upper bound itself.
      if (args.length > 2) return session.reply(Reply.error("ERR wrong number of arguments for 'ping' command"))
      const message = args[1]
      if (session.subscriptions.size > 0) {
        return session.reply(Reply.array([pong, message === undefined ? noMessage : Reply.bulk(message)]))
      }
      session.reply(message === undefined ? Reply.pong : Reply.bulk(message))
    })
}
