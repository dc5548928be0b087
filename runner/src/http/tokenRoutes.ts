/**
 * Users' API tokens over REST, for the runner's own token only: `flows token` uses these when a
 * runner has the data folder's SQLite file open (exclusively), and an admin can use them from
 * anywhere. With PostgreSQL, `flows token` writes the database itself (no runner needed).
 */
import {
  CreatedUserToken,
  CreateUserTokenBody,
  ErrorBody,
  RevokedUserToken,
  UserTokenList,
} from '@flows/protocol';
import { errors, json, ok } from './openapi';
import type { Route, RequestHead } from './router';
import { createUserToken, LOCAL_USER, revokeUserToken, type TokenAdmin } from './userTokens';
import { HttpError, validate } from './validation';

/** A user's token may start executions, not make other users' tokens (or its own anew). */
function adminOnly({ user }: RequestHead): void {
  if (user !== LOCAL_USER) {
    throw new HttpError(403, {
      error: 'forbidden',
      message: `users' tokens are managed with the runner's own token (runner.token), not a user's (${user})`,
    });
  }
}

export function tokenRoutes(admin: TokenAdmin): Route[] {
  const base = '/api/latest/token';
  return [
    {
      method: 'GET',
      pattern: base,
      beforeBody: adminOnly,
      handler: async () => ({ status: 200, body: { items: await admin.listUserTokens() } }),
    },
    {
      method: 'POST',
      pattern: base,
      maxBody: 4 * 1024,
      beforeBody: adminOnly,
      handler: async ({ body }) => {
        const { name } = validate(CreateUserTokenBody, body, 'body');
        return { status: 201, body: await createUserToken(admin, name) };
      },
    },
    {
      method: 'DELETE',
      pattern: `${base}/:name`,
      beforeBody: adminOnly,
      handler: async ({ params }) => {
        await revokeUserToken(admin, params.name);
        return { status: 200, body: { name: params.name, revoked: true } };
      },
    },
  ];
}

const forbidden = {
  '403': { description: "a user's token: only the runner's own manages tokens", content: json(ErrorBody) },
};

/** The OpenAPI paths of tokenRoutes. */
export function tokenPaths(): Record<string, object> {
  return {
    '/api/latest/token': {
      get: {
        summary: "List users' tokens: names, when made, when last used (never a token)",
        responses: { '200': ok('the users with a token, by name', UserTokenList), ...errors, ...forbidden },
      },
      post: {
        summary: "Make a user's token (one per user); the answer is the only time it is shown",
        requestBody: { required: true, content: json(CreateUserTokenBody, 'input') },
        responses: {
          '201': ok('the token, once', CreatedUserToken),
          ...errors,
          ...forbidden,
          '409': { description: 'the user has a token already', content: json(ErrorBody) },
        },
      },
    },
    '/api/latest/token/{name}': {
      delete: {
        summary: "Revoke a user's token: every node refuses it within a second",
        parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': ok('revoked', RevokedUserToken), ...errors, ...forbidden },
      },
    },
  };
}
