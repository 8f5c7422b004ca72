/**
 * The chat app: a multi-client line chat with rooms, usable from `nc` and
 * telnet (see docs/protocols/chat.md), assembled from its parts.
 *
 * Stage: app. `handler` stacks the line codec (4 KiB cap, frame deadline),
 * the per-connection session and the chat room (an actor, provided by
 * `ChatRoom.layer`); `serverOptions` adds what the server sends to a
 * refused connection and to one it closes for being idle.
 *
 * @since 0.1.0
 */
import type * as Actor from "@socket-to-me/core/Actor"
import type * as Connection from "@socket-to-me/core/Connection"
import * as Framing from "@socket-to-me/core/Framing"
import * as LineCodec from "@socket-to-me/core/LineCodec"
import type * as Server from "@socket-to-me/core/Server"
import * as Duration from "effect/Duration"
import * as ChatConfig from "./ChatConfig.ts"
import type { ChatRoom } from "./ChatRoom.ts"
import * as Protocol from "./Protocol.ts"
import * as Session from "./Session.ts"

/**
 * Default TCP port of the chat server.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultPort = 7002

/**
 * Chat handler options.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Session.Options {
  /** Longest line in bytes. Default `ChatConfig.maxLineBytes`. */
  readonly maxLineBytes?: number | undefined
  /** A started line must be complete within this time. Default `Config.frameDeadline`. */
  readonly frameDeadline?: Duration.Input | undefined
}

/**
 * The chat's connection handler; needs a `ChatRoom`.
 *
 * @since 0.1.0
 * @category handlers
 */
export const handler = (options: Options = {}): Connection.Handler<Actor.ActorError, ChatRoom> =>
  Framing.handlerEncoded(
    LineCodec.make({ maxLineBytes: options.maxLineBytes ?? ChatConfig.maxLineBytes }),
    Session.app(options),
    { frameDeadline: options.frameDeadline }
  )

/**
 * The line a connection refused at the connection limit receives.
 *
 * @since 0.1.0
 * @category constants
 */
export const refusal: Uint8Array = new TextEncoder().encode("* error: server full\n")

/**
 * The line a connection closed for being idle receives before the close:
 * `* error: idle for 5m; closing`.
 *
 * @since 0.1.0
 * @category constants
 */
export const idleNotice = (after: Duration.Duration): Uint8Array =>
  LineCodec.encodeLine(Protocol.formatEvent({ _tag: "Error", message: `idle for ${Duration.format(after)}; closing` }))

/**
 * Server options the chat always uses: what a refused connection and an
 * idle one are told.
 *
 * @since 0.1.0
 * @category constants
 */
export const serverOptions: Server.Options = { refusal, idleNotice }
