/**
 * Hostile text made harmless: what one client sends must not be able to
 * drive another client's terminal (clear the screen, move the cursor, change
 * the title) or forge a line (a CR that returns to the start of the line and
 * overwrites it with something that looks like a server line).
 *
 * Stage: protocol decode, between the line codec (which already replaced
 * invalid UTF-8 with U+FFFD) and command parsing, so that every command and
 * every message is built from clean text.
 *
 * @since 0.1.0
 */

// Terminal escape sequences, removed whole so that no parameter bytes are
// left behind as visible garbage: CSI (`ESC [` ... final byte) and its 8-bit
// form U+009B, OSC (`ESC ]` ... BEL or ST), DCS/SOS/PM/APC strings (`ESC P`,
// `ESC X`, `ESC ^`, `ESC _` ... ST), and two-byte escapes (`ESC` plus one).
const escapeSequences = new RegExp(
  [
    "\\u001b\\[[0-?]*[ -/]*[@-~]?",
    "\\u009b[0-?]*[ -/]*[@-~]?",
    "\\u001b\\][^\\u0007\\u001b]*(?:\\u0007|\\u001b\\\\)?",
    "\\u001b[PX^_][^\\u001b]*(?:\\u001b\\\\)?",
    "\\u001b[ -/]*[0-~]?"
  ].join("|"),
  "g"
)

// Every remaining C0 control (CR, BEL, BS, ESC, ...), DEL, the C1 controls,
// and the Unicode bidirectional overrides and isolates, which can make text
// display in another order than it was sent (and so spoof a line).
const controls = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/**
 * Strips terminal escape sequences and control characters from one line;
 * a TAB becomes a space, so that words it separated stay apart.
 *
 * @since 0.1.0
 * @category sanitizing
 */
export const sanitize = (line: string): string =>
  line.replace(escapeSequences, "").replace(/\t/g, " ").replace(controls, "")
