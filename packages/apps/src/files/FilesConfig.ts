/**
 * Every limit of the files app, with its default and the reason for it.
 *
 * The files server and client read their defaults from here; the CLI lets
 * flags and environment variables override them (`files serve --max-size`,
 * ...). Limits every server shares (connections, idle time, frame
 * deadline) are core's, in `@socket-to-me/core/Config`.
 *
 * @since 0.1.0
 */

/**
 * Largest file, in bytes, the files app accepts for upload. 1 GiB covers
 * documents, media and backups while bounding what one client can make the
 * server store (and reserve on disk) with a single offer.
 *
 * @since 0.1.0
 * @category defaults
 */
export const maxFileBytes = 1024 * 1024 * 1024

/**
 * File bytes per data frame of the files protocol. 64 KiB matches Node's
 * socket read size and stream high-water mark, so a frame is about one read
 * and one disk write, and a connection holds at most one such frame while
 * assembling it.
 *
 * @since 0.1.0
 * @category defaults
 */
export const fileChunkBytes = 64 * 1024

/**
 * Longest file name, in UTF-8 bytes, the files app accepts, lists and
 * serves. File systems allow 255; 200 leaves room for what a client adds to
 * a name it downloads (the reference client's partial file is
 * `<name>.<16 hex digits>.part`, 22 bytes more). Numbered variants of a
 * taken name are shortened to fit.
 *
 * @since 0.1.0
 * @category defaults
 */
export const maxFileNameBytes = 200

/**
 * How many numbered variants (`report (1).pdf`, `report (2).pdf`, ...) the
 * files app tries before refusing to save under a name. Each try is one
 * `link` call; 1000 bounds the work of saving one file.
 *
 * @since 0.1.0
 * @category defaults
 */
export const maxFileNameCopies = 1000

/**
 * A partial upload (staging file) untouched for this long is deleted. A day
 * lets a client resume after a night's interruption; past that, the bytes
 * are more likely abandoned than awaited, and they cost disk space.
 *
 * @since 0.1.0
 * @category defaults
 */
export const stagingExpiry = "24 hours"

/**
 * How often the files server looks for expired staging files. Hourly keeps
 * the cost negligible; an expired file lives at most this much longer.
 *
 * @since 0.1.0
 * @category defaults
 */
export const stagingSweepInterval = "1 hour"

/**
 * Free disk space, in bytes, an upload must leave behind to be accepted.
 * 64 MiB keeps the disk usable for the system, logs and the store's own
 * metadata when uploads fill it.
 *
 * @since 0.1.0
 * @category defaults
 */
export const minFreeDiskBytes = 64 * 1024 * 1024

/**
 * How long the files server keeps reading (and discarding) a client's bytes
 * after replying with an error, before it closes. Closing a socket with
 * unread input makes TCP send a reset, which can destroy the error reply
 * before the client reads it; 2 seconds lets a client that is still sending
 * see the reply and stop.
 *
 * @since 0.1.0
 * @category defaults
 */
export const errorLinger = "2 seconds"

/**
 * How many times the files client retries an upload the server answered
 * with `busy` (the same file is being received on another connection, for
 * instance one the client just lost and the server has not yet noticed).
 * With backoff from 100 ms that is about 6 seconds of patience.
 *
 * @since 0.1.0
 * @category defaults
 */
export const fileBusyRetries = 6
