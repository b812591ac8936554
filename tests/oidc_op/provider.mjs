// The OpenID Provider the sign-in tests start: oidc-provider (OpenID Certified) with one
// client (lessoncam), people the test sets, and answers the test may tamper with.
//
//   node provider.mjs --port 5123 --redirect-uri http://127.0.0.1:8080/login/oidc/op/callback \
//        --post-logout-uri http://127.0.0.1:8080/login?notice=signed_out --secret S --kid k1
//
// Control (JSON, this process only listens on 127.0.0.1):
//   POST /__test/people  {"anna": {"name": "...", "groups": [...], "disabled": false}, ...}
//   POST /__test/tamper  {"mode": "aud" | "iss" | "expired" | "nonce" | "alg-none" |
//                         "unknown-key" | "drop:<claim>" | "token-error" | "slow:<ms>"}
//                        applies to the next token answer only.
// It prints "ready <issuer>" once it listens.
import crypto from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    'redirect-uri': { type: 'string' },
    'post-logout-uri': { type: 'string' },
    secret: { type: 'string' },
    kid: { type: 'string', default: 'key-1' },
    'client-id': { type: 'string', default: 'lessoncam' },
  },
});
const issuer = `http://127.0.0.1:${args.port}`;
let people = {};
let tamper = null;

function rsaKey(kid) {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, jwk: { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' } };
}
const signing = rsaKey(args.kid);
const stranger = rsaKey('unknown-kid');

const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const parts = (jwt) => jwt.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url')));
function sign(header, claims, key) {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${crypto.sign('sha256', Buffer.from(input), key.privateKey).toString('base64url')}`;
}

function tampered(idToken, mode) {
  const [header, claims] = parts(idToken);
  const now = Math.floor(Date.now() / 1000);
  if (mode === 'alg-none') return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
  if (mode === 'unknown-key') return sign({ ...header, kid: stranger.kid }, claims, stranger);
  if (mode === 'aud') claims.aud = 'someone-else';
  else if (mode === 'iss') claims.iss = 'http://127.0.0.1:1/other-issuer';
  else if (mode === 'expired') Object.assign(claims, { iat: now - 7200, exp: now - 3600 });
  else if (mode === 'nonce') claims.nonce = 'not-the-nonce-we-sent';
  else if (mode.startsWith('drop:')) delete claims[mode.slice(5)];
  else throw new Error(`unknown tamper mode ${mode}`);
  return sign(header, claims, signing);
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: args['client-id'],
    client_secret: args.secret,
    redirect_uris: [args['redirect-uri']],
    post_logout_redirect_uris: [args['post-logout-uri']],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signing.jwk] },
  pkce: { required: () => true },
  // Claims asked for by scope go into the ID token (lessoncam reads only the ID token).
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'groups', 'oid'],
    email: ['email'],
  },
  features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  async findAccount(ctx, id) {
    const person = people[id];
    if (!person || person.disabled) return undefined;
    return {
      accountId: id,
      async claims() {
        const claims = { sub: person.sub || id, name: person.name, preferred_username: id };
        if (person.groups !== undefined) claims.groups = person.groups;
        if (person.oid !== undefined) claims.oid = person.oid;
        if (person.email !== undefined) claims.email = person.email;
        return claims;
      },
    };
  },
  // lessoncam is the school's own application: no consent screen.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email');
    await grant.save();
    return grant;
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: { Session: 3600, Interaction: 600, Grant: 3600, AccessToken: 600, IdToken: 600 },
});
provider.proxy = false;

// Tampered answers from the token endpoint, once per request to tamper.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== '/token' || !tamper) return;
  const mode = tamper;
  tamper = null;
  if (mode === 'token-error') {
    ctx.status = 400;
    ctx.body = { error: 'invalid_grant', error_description: 'tampered by the test' };
  } else if (mode.startsWith('slow:')) {
    await new Promise((resolve) => { setTimeout(resolve, Number(mode.slice(5))); });
  } else if (ctx.body && ctx.body.id_token) {
    ctx.body = { ...ctx.body, id_token: tampered(ctx.body.id_token, mode) };
  }
});

async function body(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function interaction(req, res, uid) {
  if (req.method === 'GET') {
    await provider.interactionDetails(req, res);
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>Test school sign-in</title><h1>Test school</h1>
      <form method="post" action="/interaction/${escape(uid)}/login">
      <input name="login" autofocus><button type="submit" id="op-sign-in">Sign in</button></form>`);
    return;
  }
  const form = new URLSearchParams(await body(req));
  const login = form.get('login') || '';
  const person = people[login];
  if (!person || person.disabled) {
    await provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'account disabled or unknown',
    }, { mergeWithLastSubmission: false });
    return;
  }
  await provider.interactionFinished(req, res, { login: { accountId: login } },
    { mergeWithLastSubmission: false });
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (url.pathname === '/__test/people' && req.method === 'POST') {
      people = JSON.parse(await body(req));
      res.writeHead(204).end();
    } else if (url.pathname === '/__test/tamper' && req.method === 'POST') {
      tamper = JSON.parse(await body(req)).mode;
      res.writeHead(204).end();
    } else if (url.pathname.startsWith('/interaction/')) {
      await interaction(req, res, url.pathname.split('/')[2]);
    } else {
      callback(req, res);
    }
  } catch (err) {
    res.writeHead(500, { 'Content-Type': 'text/plain' }).end(String(err));
  }
});
server.listen(Number(args.port), '127.0.0.1', () => {
  process.stdout.write(`ready ${issuer}\n`);
});
process.on('SIGTERM', () => { server.close(); process.exit(0); });
