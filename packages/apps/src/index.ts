/**
 * The echo, chat and files apps and the `socket-to-me` CLI.
 *
 * Every module is exported as a namespace, as Effect does:
 * `import { ... } from "@socket-to-me/apps"`; each is also reachable as
 * `@socket-to-me/apps/<Module>`.
 *
 * @since 0.1.0
 */

/**
 * The chat app: a multi-client line chat with rooms, usable from `nc` and telnet (see docs/protocols/chat.md), assembled from its parts.
 *
 * @since 0.1.0
 */
export * as Chat from "./chat/Chat.ts"

/**
 * The chat client, without a terminal: connect, log in (`/nick`, then `/join` if asked), then send lines and read the server's lines. The CLI's `chat join` puts a terminal or stdin/stdout around it; tests use it as is.
 *
 * @since 0.1.0
 */
export * as ChatClient from "./chat/ChatClient.ts"

/**
 * The chat's shared state (who is connected, their nicknames, which room each is in) owned by one actor, and everything that changes it.
 *
 * @since 0.1.0
 */
export * as ChatRoom from "./chat/ChatRoom.ts"

/**
 * Flood control: a token bucket per connection. Each line costs one token; tokens refill at `rate` per second up to `burst`. A line that finds the bucket empty is dropped (not delivered, not executed) and the sender is told once per flood; the connection stays open, since a paste that is a bit too long is not an attack. Dropping instead of waiting keeps a flooder from holding the room's attention and keeps its lines from queueing up.
 *
 * @since 0.1.0
 */
export * as Flood from "./chat/Flood.ts"

/**
 * The chat protocol as `effect/Schema` values: what a client may send (a `Command`, one per line) and what the server sends (an `Event`, one per line), with the line form of each. docs/protocols/chat.md describes the same wire format for people; this module is its one definition in code.
 *
 * @since 0.1.0
 */
export * as ChatProtocol from "./chat/Protocol.ts"

/**
 * Hostile text made harmless: what one client sends must not be able to drive another client's terminal (clear the screen, move the cursor, change the title) or forge a line (a CR that returns to the start of the line and overwrites it with something that looks like a server line).
 *
 * @since 0.1.0
 */
export * as Sanitize from "./chat/Sanitize.ts"

/**
 * One chat connection: lines in, lines out.
 *
 * @since 0.1.0
 */
export * as Session from "./chat/Session.ts"

/**
 * The echo app (RFC 862): every byte a client sends comes back, in order, whatever its size, streamed (never held whole in memory).
 *
 * @since 0.1.0
 */
export * as Echo from "./echo/Echo.ts"

/**
 * The file-system operations the files app needs, as a service: the store and the client do all their disk work through it, so a test can replace it (a disk that fills up, a failing `fsync`) without touching a real disk in a special way.
 *
 * @since 0.1.0
 */
export * as Disk from "./files/Disk.ts"

/**
 * File names from peers: which are accepted, and the numbered variants a taken name is saved under.
 *
 * @since 0.1.0
 */
export * as FileName from "./files/FileName.ts"

/**
 * The folder the files server saves into, and the rules that keep it clean: a file appears in it complete and verified, or not at all.
 *
 * @since 0.1.0
 */
export * as FileStore from "./files/FileStore.ts"

/**
 * The files client: upload a local file, download a saved one, list the server's folder, each over one connection.
 *
 * @since 0.1.0
 */
export * as FilesClient from "./files/FilesClient.ts"

/**
 * The error family of the files app: every way an upload, download or list can fail, on either side, as one tagged `FilesError` whose `reason` says which.
 *
 * @since 0.1.0
 */
export * as FilesError from "./files/FilesError.ts"

/**
 * The files server: one request per connection (upload, download or list), spoken over the files protocol and served from the `FileStore`.
 *
 * @since 0.1.0
 */
export * as FilesServer from "./files/FilesServer.ts"

/**
 * The files protocol's wire form (docs/protocols/files.md is its reference): length-prefixed frames (`LengthPrefixedCodec`) whose first payload byte says what the rest is.
 *
 * @since 0.1.0
 */
export * as FilesProtocol from "./files/Protocol.ts"
