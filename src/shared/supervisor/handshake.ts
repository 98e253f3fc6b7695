import * as z from 'zod/mini';

/**
 * The handshake that opens every connection between a host and a supervisor (docs/security.md).
 * Both ends know one secret per jobs folder; each sends a fresh nonce and proves the secret with
 * an HMAC over both nonces and its own role, so neither a process that only found a socket
 * (a forged host) nor one listening where a journal points (a forged supervisor) is accepted,
 * and a proof seen on one connection is worth nothing on the next.
 *
 *   host → supervisor   { op: 'hello', protocol, nonce: Nh }
 *   supervisor → host   { ev: 'challenge', protocol, nonce: Ns, proof: HMAC(secret, supervisor|Nh|Ns) }
 *   host → supervisor   { op: 'auth', proof: HMAC(secret, host|Nh|Ns) }
 *   supervisor → host   { ev: 'hello', protocol, pid, job }     (then the protocol of supervisorWire.ts)
 *
 * Its messages and limits; the nonces and proofs are in ./node/handshakeProof.ts, the secret's
 * file (host side only) in src/core/supervisors/supervisorAuth.ts.
 */

/** A connection that has not finished the handshake by then is closed. */
export const HANDSHAKE_TIMEOUT_MS = 2000;
/** Handshake lines are a nonce and a proof: anything longer before it is done ends the connection. */
export const MAX_HANDSHAKE_LINE_CHARS = 4 * 1024;
/** One message after the handshake: a run request with its stages fits many times over. */
export const MAX_SUPERVISOR_LINE_CHARS = 8 * 1024 * 1024;

/** 64 hex digits: a nonce, a proof, and the secret itself. */
export const HEX64 = /^[0-9a-f]{64}$/;
const hex64 = () => z.string().check(z.regex(HEX64));
export const handshakeHelloSchema = z.object({ op: z.literal('hello'), protocol: z.int(), nonce: hex64() });
export const handshakeAuthSchema = z.object({ op: z.literal('auth'), proof: hex64() });
export const challengeSchema = z.object({ ev: z.literal('challenge'), protocol: z.int(), nonce: hex64(), proof: hex64() });
export type Challenge = z.infer<typeof challengeSchema>;
