// QUIT: `+OK`, then the server closes the connection once its replies are
// written; commands after it are not run.
import * as Effect from "effect/Effect"
import * as Reply from "../Reply.ts"
import type { Spec } from "./Spec.ts"

/** QUIT. */
export const quit: Spec = {
  name: "quit",
  arity: -1,
  pubsub: true,
  run: (_args, session) =>
    Effect.sync(() => {
      session.reply(Reply.ok)
      session.quit()
    })
}
