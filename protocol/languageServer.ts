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
export const InputKeysResult = z.array(z.object({ name: z.string(), required: z.boolean() }));
export type InputKeysResult = z.infer<typeof InputKeysResult>;
