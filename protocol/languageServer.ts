/**
 * Requests of our own between the extension and the language server (beside LSP's): their
 * names and shapes, checked with zod on both sides.
 */
import { z } from 'zod';

/** `flows/inputKeys`: the keys a flow reads from its input (see server/flowInputs.ts). */
export const INPUT_KEYS_REQUEST = 'flows/inputKeys';
export const InputKeysParams = z.strictObject({
  /** The flow's source; the server parses it (the file may not be open, or may be unsaved). */
  text: z.string().max(5_000_000),
});
export type InputKeysParams = z.infer<typeof InputKeysParams>;
/**
 * `flows/recordNames` (client → server notification): names of the runner store's records of a
 * kind, offered in `system.setting('…')`, `system.connection('…')`, `system.file('…')` beside
 * the names the workspace's flows use. Send it when the runner is connected and again when they change.
 */
export const RECORD_NAMES_NOTIFICATION = 'flows/recordNames';
export const RecordNamesParams = z.strictObject({
  kind: z.enum(['setting', 'connection', 'file']),
  names: z.array(z.string().max(1000)).max(100_000),
});
export type RecordNamesParams = z.infer<typeof RecordNamesParams>;

export const InputKeysResult = z.array(z.object({ name: z.string(), required: z.boolean() }));
export type InputKeysResult = z.infer<typeof InputKeysResult>;
