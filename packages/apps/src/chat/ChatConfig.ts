/**
 * Every limit of the chat app, with its default and the reason for it.
 *
 * The chat server and client read their defaults from here; the CLI lets
 * flags and environment variables override some of them (`chat serve
 * --rate-limit`, ...). Limits every server shares (connections, idle time,
 * frame deadline, shutdown grace) are core's, in `@socket-to-me/core/Config`.
 *
 * @since 0.1.0
 */

/**
 * Largest chat line in bytes (terminator excluded). 4 KiB is far more than
 * anyone types in one message and keeps a hostile connection's partial line
 * (and every copy of a broadcast line in the members' outboxes) small.
 *
 * @since 0.1.0
 * @category defaults
 */
export const maxLineBytes = 4 * 1024

/**
 * Longest nickname and longest room name, in characters (ASCII letters,
 * digits, `_` and `-`, so also in bytes). 32 fits any handle people use and
 * keeps the marker every line carries (`<nick> `) and the `/who` and
 * `/rooms` replies short.
 *
 * @since 0.1.0
 * @category defaults
 */
export const maxNameLength = 32

/**
 * Lines per second a chat connection may send over time (token bucket
 * refill rate). 20 is faster than anyone types, slow enough that one
 * connection cannot flood a room.
 *
 * @since 0.1.0
 * @category defaults
 */
export const rateLimit = 20

/**
 * Lines a chat connection may send at once (token bucket size): room for a
 * pasted paragraph or a scripted login, not for a flood.
 *
 * @since 0.1.0
 * @category defaults
 */
export const rateBurst = 50

/**
 * Lines queued for one connection (its outbox) before it is cut off as a
 * slow consumer. 256 lines lets a reader that pauses for a moment (a busy
 * terminal, a network hiccup) catch up with five people pasting a 50-line
 * burst each, and bounds what one stalled reader costs the server: 256
 * lines of at most `maxLineBytes` each.
 *
 * @since 0.1.0
 * @category defaults
 */
export const outboxLines = 256


/**
 * How long the client waits, after connecting, for the server's greeting
 * before deciding the peer is not a chat server. A chat server greets at
 * once; 5 seconds allows for a slow network and a loaded server, and a user
 * who pointed `chat join` at the wrong port learns it promptly instead of
 * typing into a silent prompt.
 *
 * @since 0.1.0
 * @category defaults
 */
export const greetingTimeout = "5 seconds"
