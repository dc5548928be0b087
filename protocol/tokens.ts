/**
 * Users' API tokens (team mode): `flows token create|revoke|list` and the REST calls they make to
 * a runner that owns the data folder. A token is shown once, when it is made; the runner keeps
 * only its hash, and nothing lists it again.
 */
import { z } from 'zod';

const Timestamp = z.string().describe('ISO 8601 timestamp, UTC');

/** POST /api/latest/token */
export const CreateUserTokenBody = z
  .strictObject({
    name: z
      .string()
      .describe(
        'the user\'s name: 1 to 64 letters, digits and . _ @ - (no spaces); not "local". One token per user',
      ),
  })
  .describe("Make a user's API token");
export type CreateUserTokenBody = z.infer<typeof CreateUserTokenBody>;

export const CreatedUserToken = z
  .object({
    name: z.string(),
    token: z.string().describe('the token: shown this once, never again (the runner keeps only its hash)'),
    created_at: Timestamp,
  })
  .meta({ id: 'CreatedUserToken' });
export type CreatedUserToken = z.infer<typeof CreatedUserToken>;

export const UserToken = z
  .object({
    name: z.string(),
    created_at: Timestamp,
    last_used_at: Timestamp.nullable().describe(
      'when a request last came with it (kept about once a minute)',
    ),
  })
  .meta({ id: 'UserToken' });
export type UserToken = z.infer<typeof UserToken>;

export const UserTokenList = z.object({ items: z.array(UserToken) }).meta({ id: 'UserTokenList' });

export const RevokedUserToken = z
  .object({ name: z.string(), revoked: z.literal(true) })
  .meta({ id: 'RevokedUserToken' });
