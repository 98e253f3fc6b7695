/**
 * Encryption at rest, as the storage core sees it. A store that is given a cipher seals every
 * snapshot and journal payload with it, binding the record header as associated data, and
 * writes `keyFingerprint` into its file headers so that a missing or wrong key is told apart
 * from corruption (and never sends live data to quarantine).
 *
 * The implementation (AES-256-GCM, fresh 96-bit IV per seal) lives in aesGcmCipher.ts.
 */
export interface RecordCipher {
  /** Short hex fingerprint of the key (not the key): stored in headers to recognise the key. */
  readonly keyFingerprint: string;
  /** Returns IV || ciphertext || tag. `associatedData` is authenticated, not stored. */
  seal(plaintext: Uint8Array, associatedData: Uint8Array): Uint8Array;
  /** Inverse of seal; throws StorageError('decryptFailed') when the tag does not verify. */
  open(sealed: Uint8Array, associatedData: Uint8Array): Uint8Array;
}

/**
 * Where keys come from. The VS Code layer backs it with SecretStorage; tests with memory.
 * `undefined` means no key is known for that store: an encrypted store then refuses to open
 * with StorageError('missingKey') and is never re-created empty.
 */
export interface KeyProvider {
  getKey(keyId: string): Promise<Uint8Array | undefined>;
  setKey(keyId: string, key: Uint8Array): Promise<void>;
}
