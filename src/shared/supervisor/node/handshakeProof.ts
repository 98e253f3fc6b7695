import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { HEX64 } from '../handshake';

/** The nonces and proofs of the handshake in ../handshake.ts, made and checked the same way by both ends. */

export function newNonce(): string {
  return randomBytes(32).toString('hex');
}

/** What `role` sends to prove the secret on the connection with these two nonces. */
export function handshakeProof(secret: Buffer, role: 'host' | 'supervisor', hostNonce: string, supervisorNonce: string): string {
  return createHmac('sha256', secret).update(`lifeline-supervisor-handshake\0${role}\0${hostNonce}\0${supervisorNonce}`).digest('hex');
}

/** Compares in constant time; a proof of the wrong length is simply wrong. */
export function proofMatches(
  secret: Buffer,
  role: 'host' | 'supervisor',
  hostNonce: string,
  supervisorNonce: string,
  given: string,
): boolean {
  const expected = Buffer.from(handshakeProof(secret, role, hostNonce, supervisorNonce), 'hex');
  const actual = Buffer.from(given, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** The secret from the text a supervisor read on its stdin (or a host in the secret's file); undefined unless it is 64 hex digits. */
export function parseSecret(text: string): Buffer | undefined {
  const trimmed = text.trim();
  return HEX64.test(trimmed) ? Buffer.from(trimmed, 'hex') : undefined;
}
