/**
 * The interactive side of `chat join`: a prompt showing your room and
 * nickname (`[lobby] ada> `) where you type, while the lines that arrive
 * are printed above it without garbling what you are typing, however much
 * wider than the terminal it is (see `PromptLine`).
 *
 * Stage: the CLI's edge. This is the one place that touches the terminal
 * (raw mode, keys through `node:readline`'s key decoder); what the keys do
 * and what is drawn are `PromptLine`'s pure functions; the chat client
 * underneath is platform-free.
 *
 * Leaving: `/quit`, Ctrl-D on an empty line or Ctrl-C send `/quit` and the
 * program ends when the server has closed the connection (after its
 * `* bye`); a second Ctrl-C stops at once. When the server ends the session
 * itself, its last line is on the screen and the session fails with
 * `ChatClient.SessionEnded`, which `chat join` reports.
 *
 * @since 0.1.0
 */
import type * as ConnectionError from "@socket-to-me/core/ConnectionError"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Readline from "node:readline"
import type * as ChatClient from "../chat/ChatClient.ts"
import * as Protocol from "../chat/Protocol.ts"
import * as Sanitize from "../chat/Sanitize.ts"
import * as PromptLine from "./PromptLine.ts"

/**
 * Who you are and where, as the prompt shows it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Place {
  readonly nick: string
  readonly room: string
}

/**
 * The prompt for `place`: `[room] nick> `.
 *
 * @since 0.1.0
 * @category drawing
 */
export const prompt = (place: Place): string => `[${place.room}] ${place.nick}> `

const parseEvent = Schema.decodeOption(Protocol.EventFromLine)

/**
 * Follows a server line: your nickname and room change with `* you are now
 * NICK` and `* you joined ROOM`; other lines leave them as they are.
 *
 * @since 0.1.0
 * @category drawing
 */
export const follow = (place: Place, line: string): Place => {
  const event = parseEvent(line)
  if (event._tag === "None") return place
  switch (event.value._tag) {
    case "NickSet":
      return { ...place, nick: event.value.nick }
    case "YouJoined":
      return { ...place, room: event.value.room }
    default:
      return place
  }
}

/**
 * Runs the interactive client on the process's terminal until the server
 * closes the connection.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (
  session: ChatClient.Session
): Effect.Effect<void, ConnectionError.ConnectionError | ChatClient.SessionEnded> =>
  Effect.scoped(Effect.gen(function*() {
    const input = process.stdin
    const output = process.stdout
    // Owned by this module's callbacks and effects, which all run on the
    // one JavaScript thread, each to its end.
    let place: Place = { nick: session.nick, room: session.room }
    let line = PromptLine.empty
    let drawn = PromptLine.initial
    const redraw = (above: ReadonlyArray<string> = []) => {
      const next = PromptLine.draw(drawn, { columns: output.columns || 80, prompt: prompt(place), line }, above)
      drawn = next.drawn
      output.write(next.output)
    }

    yield* Effect.acquireRelease(
      Effect.sync(() => {
        Readline.emitKeypressEvents(input)
        input.setRawMode(true)
        input.resume()
      }),
      () =>
        Effect.sync(() => {
          output.write(PromptLine.erase(drawn))
          input.setRawMode(false)
          input.pause()
        })
    )
    const onResize = () => redraw()
    yield* Effect.acquireRelease(
      Effect.sync(() => output.on("resize", onResize)),
      () => Effect.sync(() => output.off("resize", onResize))
    )
    redraw(session.transcript.map(Sanitize.sanitize))

    // Typed lines, ended by Ctrl-D on an empty line or the first Ctrl-C.
    const typed = Stream.callback<string>((queue) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          let interrupted = false
          const onKey = (text: string | undefined, key: PromptLine.Key | undefined) => {
            const edit = PromptLine.edit(line, text, key)
            switch (edit._tag) {
              case "Edit":
                line = edit.line
                return redraw()
              case "Submit": {
                // What was typed stays on the screen, as it looked.
                const sent = prompt(place) + edit.text
                line = edit.line
                redraw([sent])
                if (edit.text.trim() !== "") Queue.offerUnsafe(queue, edit.text)
                return
              }
              case "EndOfInput":
                return Queue.endUnsafe(queue)
              case "Interrupt":
                if (interrupted) {
                  // Second Ctrl-C: the process-level handler stops the program.
                  process.kill(process.pid, "SIGINT")
                  return
                }
                interrupted = true
                return Queue.endUnsafe(queue)
            }
          }
          input.on("keypress", onKey)
          return onKey
        }),
        (onKey) => Effect.sync(() => input.off("keypress", onKey))
      )
    )
    const sending = Effect.andThen(Stream.runForEach(typed, session.send), session.quit)
    const show = (text: string) =>
      Effect.sync(() => {
        place = follow(place, text)
        redraw([Sanitize.sanitize(text)])
      })
    // The server's lines drive the session: it ends when the server closes.
    yield* Stream.merge(Stream.mapEffect(session.lines, show), Stream.fromEffectDrain(sending), {
      haltStrategy: "left"
    }).pipe(Stream.runDrain)
  }))
