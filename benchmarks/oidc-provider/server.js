// The comparison of scripts/bench-oidc (BENCHMARKS.md, "OpenID Connect token endpoint"):
// npm oidc-provider with its in-memory adapter, the authorization code flow with PKCE (S256)
// and confidential client_secret_basic clients whose ID tokens are signed with RS256 or ES256,
// refresh tokens that rotate on every use (as ours do).
//
//   node server.js PORT
//
// POST /bench/mint?client=bench-rs256&n=1000 makes n grants and codes the way the provider's
// interaction flow would have (a Grant with the scopes, then an AuthorizationCode bound to it,
// to the redirect URI and to the PKCE challenge of VERIFIER) and answers them one per line.
// Loopback only.
import { generateKeyPairSync, createHash } from 'node:crypto';
import Provider from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

// The in-memory adapter keeps 1,000 entries by default: minted codes and their grants would be
// evicted before the run reaches them. Same adapter class, on an LRU with room for a
// benchmark's codes and tokens (a bigger cache can only help it).
const storage = new LRU({ maxSize: 5_000_000 });
const adapter = (model) => new MemoryAdapter(model, storage, 0);

const port = Number(process.argv[2] || 3999);
const issuer = `http://127.0.0.1:${port}`;
const VERIFIER = 'nhsmal-benchmark-code-verifier-0123456789-abcdefghijklmnop';
const challenge = createHash('sha256').update(VERIFIER).digest('base64url');
const REDIRECT = 'http://127.0.0.1:1/callback';
const SECRET = 'nhsmal-benchmark-client-secret-0123456789';
const SCOPE = 'openid email profile offline_access';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

const client = (id, alg) => ({
  client_id: id,
  client_secret: SECRET,
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: [REDIRECT],
  id_token_signed_response_alg: alg,
});

const provider = new Provider(issuer, {
  adapter,
  clients: [client('bench-rs256', 'RS256'), client('bench-es256', 'ES256')],
  jwks: { keys: [{ ...rsa, kid: 'rs', use: 'sig', alg: 'RS256' }, { ...ec, kid: 'es', use: 'sig', alg: 'ES256' }] },
  cookies: { keys: ['nhsmal-benchmark-cookie-key'] },
  pkce: { required: () => true },
  enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256'] },
  // Ours rotates every refresh token on use (with reuse detection); so does this one here.
  rotateRefreshToken: () => true,
  features: { devInteractions: { enabled: false } },
  // Ours puts email and name in the ID token; so does this one here.
  conformIdTokenClaims: false,
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, email: 'bench@nhsmal.example', email_verified: true, name: 'Bench User' };
      },
    };
  },
});

provider.use(async (ctx, next) => {
  if (ctx.path !== '/bench/mint' || ctx.method !== 'POST') {
    await next();
    return;
  }
  const n = Math.min(Number(ctx.query.n || 1), 1_000_000);
  const found = await provider.Client.find(String(ctx.query.client || 'bench-rs256'));
  const authTime = Math.floor(Date.now() / 1000);
  const codes = [];
  for (let i = 0; i < n; i += 1) {
    const grant = new provider.Grant({ accountId: 'bench-user', clientId: found.clientId });
    grant.addOIDCScope(SCOPE);
    const grantId = await grant.save();
    const code = new provider.AuthorizationCode({
      client: found,
      grantId,
      accountId: 'bench-user',
      scope: SCOPE,
      redirectUri: REDIRECT,
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
      nonce: `n${i}`,
      authTime,
      acr: 'urn:nhsmal:acr:mfa',
      amr: ['pwd', 'otp', 'mfa'],
    });
    codes.push(await code.save());
  }
  ctx.type = 'text/plain';
  ctx.body = `${codes.join('\n')}\n`;
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ${issuer} ready`);
});
