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
 * How often the files server sweeps its staging folder (it also sweeps once
 * when it starts). A sweep deletes expired staging files, empty ones and
 * anything in the folder that is not a staging file, leaving uploads in
 * progress alone. Every minute keeps what an abandoned offer leaves behind
 * short-lived, at the cost of one `readdir` and one `lstat` per entry (at
 * most `maxStagingEntries` of them).
 *
 * @since 0.1.0
 * @category defaults
 */
export const stagingSweepInterval = "1 minute"

/**
 * An empty staging file, or an entry of the staging folder that is not a
 * staging file, untouched for this long and not used by an upload in
 * progress, is deleted by the next sweep. An upload that ends before its
 * first byte deletes its empty file itself; this catches what a crash left.
 * 5 minutes leaves alone anything another process is still writing.
 *
 * @since 0.1.0
 * @category defaults
 */
export const stagingLeftoverExpiry = "5 minutes"

/**
 * Most staging files (partial uploads) the files server keeps. Every
 * interrupted upload leaves one, kept for a resume; without a cap, offers
 * made and abandoned in a loop exhaust the volume's inodes. When a new
 * upload needs an entry and the cap is reached, the least recently written
 * partial upload that is not in progress is deleted to make room (its
 * client starts over); if every entry is in progress, the offer is refused
 * with `too-many-uploads`. 1024 is far more than the uploads in progress
 * (`maxPendingUploads`) and costs at most 1024 inodes.
 *
 * @since 0.1.0
 * @category defaults
 */
export const maxStagingEntries = 1024

/**
 * Free disk space, in bytes, an upload must leave behind to be accepted
 * (`files serve --reserve-bytes`). 64 MiB keeps the disk usable for the
 * system, logs and the store's own metadata when uploads fill it.
 *
 * @since 0.1.0
 * @category defaults
 */
export const minFreeDiskBytes = 64 * 1024 * 1024

/**
 * Most uploads the files server receives at once. Each one holds a
 * reservation of disk space (its size) and a staging file until it ends;
 * 64 bounds what idle offers can reserve, while leaving room for far more
 * concurrent uploads than one disk serves well. More are refused with
 * `too-many-uploads` before anything is reserved.
 *
 * @since 0.1.0
 * @category defaults
 */
export const maxPendingUploads = 64

/**
 * Connections the files server (`files serve`) serves at once from one
 * address, by default (`--max-connections-per-address`). A files client
 * holds one connection per transfer; 16 leaves room for a few transfers
 * side by side from every machine behind one NAT address, and stops one
 * machine from taking every slot (`Config.maxConnections`) with
 * connections that hold a socket and a file each.
 *
 * @since 0.1.0
 * @category defaults
 */
export const maxConnectionsPerAddress = 16

/**
 * Most uploads the files server receives at once from one address (the
 * peer's IP address, whatever its port): one client cannot take every
 * upload slot (`maxPendingUploads`). 4 lets a client send a few files side
 * by side.
 *
 * @since 0.1.0
 * @category defaults
 */
export const maxPendingUploadsPerPeer = 4

/**
 * Slowest upload the files server keeps receiving, in bytes per second,
 * averaged over each `uploadRateWindow` of the upload. An upload that
 * receives less in a window (and is not finished) is stopped with
 * `too-slow`: its disk reservation and upload slot are released, and what it
 * sent stays staged for a resume. Without it, an offer kept alive by a byte
 * now and then holds its reservation indefinitely (neither the idle timeout
 * nor the frame deadline sees it). 64 KiB/s is a slow mobile uplink; it
 * bounds the time an upload can hold its reservation to about its size
 * divided by it (about 4.5 hours for 1 GiB). 0 disables the rule.
 *
 * @since 0.1.0
 * @category defaults
 */
export const minUploadBytesPerSecond = 64 * 1024

/**
 * The window over which an upload's rate is measured (see
 * `minUploadBytesPerSecond`): the first one starts when the upload is
 * accepted. 30 seconds rides out a network hiccup or a slow disk flush.
 * An upload with less left to send than a window's minimum must finish
 * within the window.
 *
 * @since 0.1.0
 * @category defaults
 */
export const uploadRateWindow = "30 seconds"

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
