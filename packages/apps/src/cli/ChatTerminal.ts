/**
 * The interactive side of `chat join`: a prompt on the terminal where the
 * user types, while incoming lines are printed above it without garbling
 * what is being typed (the prompt line is cleared, the incoming line
 * printed, and the prompt redrawn with the text typed so far).
 *
 * Stage: the CLI's edge. This is the one place that touches the terminal
 * (node:readline); the chat client underneath is platform-free.
 *
 * Leaving: `/quit`, Ctrl-D or Ctrl-C send `/quit` and the program ends when
 * the server has closed the connection (after its `* bye`); a second Ctrl-C
 * stops at once.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as Readline from "node:readline"
import type * as ChatClient from "../chat/ChatClient.ts"

/**
 * Runs the interactive client on the process's terminal until the server
 * closes the connection.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (session: ChatClient.Session) =>
  Effect.scoped(Effect.gen(function*() {
    const output = process.stdout
    const rl = yield* Effect.acquireRelease(
      Effect.sync(() => Readline.createInterface({ input: process.stdin, output, terminal: true, prompt: "> " })),
      (rl) => Effect.sync(() => rl.close())
    )
    const print = (line: string) =>
      Effect.sync(() => {
        Readline.clearLine(output, 0)
        Readline.cursorTo(output, 0)
        output.write(`${line}\n`)
        rl.prompt(true)
      })
    yield* Effect.forEach(session.transcript, print, { discard: true })

    // Typed lines, ended by Ctrl-D (close) or the first Ctrl-C.
    const typed = Stream.callback<string>((queue) =>
      Effect.sync(() => {
        let interrupted = false
        rl.on("line", (line) => {
          Queue.offerUnsafe(queue, line)
          rl.prompt()
        })
        rl.on("close", () => Queue.endUnsafe(queue))
        rl.on("SIGINT", () => {
          if (interrupted) {
            // Second Ctrl-C: the process-level handler stops the program.
            process.kill(process.pid, "SIGINT")
            return
          }
          interrupted = true
          Queue.endUnsafe(queue)
        })
      })
    )
    const sending = Effect.andThen(Stream.runForEach(typed, session.send), session.quit)
    yield* Effect.sync(() => rl.prompt())
    // The server's lines drive the session: it ends when the server closes.
    yield* Stream.merge(Stream.mapEffect(session.lines, print), Stream.fromEffectDrain(sending), {
      haltStrategy: "left"
    }).pipe(Stream.runDrain)
    yield* Effect.sync(() => {
      Readline.clearLine(output, 0)
      Readline.cursorTo(output, 0)
    })
  }))
