import { createHash } from 'node:crypto';
import type * as vscode from 'vscode';
import type { EncryptionKeyStore } from '../core/runtime/runtimeEncryption';

/**
 * The workspace's data key in VS Code's SecretStorage (the OS keychain on a desktop; see
 * docs/encryption.md for where it lives elsewhere), one secret per workspace storage folder.
 * The secret's name carries a hash of the workspace key, not the folder's path.
 */
export function secretKeyStore(secrets: vscode.SecretStorage, workspaceKey: string): EncryptionKeyStore {
  const name = `lifeline.encryptionKey.${createHash('sha256').update(workspaceKey).digest('hex').slice(0, 32)}`;
  return {
    getKey: async () => {
      const stored = await secrets.get(name);
      return stored ? new Uint8Array(Buffer.from(stored, 'base64')) : undefined;
    },
    setKey: async (key) => {
      await secrets.store(name, Buffer.from(key).toString('base64'));
    },
    deleteKey: async () => {
      await secrets.delete(name);
    },
  };
}
