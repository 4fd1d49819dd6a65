// openid-client's PrivateKeyJwt, as an integration configures it: discovers
// the server from its RFC 8414 metadata and fetches a client-credentials
// token. ISSUER, CLIENT_ID, PRIVATE_KEY_PEM_FILE, KEY_ID and ALG (ES256,
// EdDSA, RS256 or PS256) from the environment, SCOPE optional. Prints the
// token response as JSON; on failure, the error on standard error and a
// non-zero exit.
import { readFileSync } from "node:fs";
import { webcrypto } from "node:crypto";
import * as client from "openid-client";

// The Web Crypto import parameters of each JWS algorithm.
const KEY_ALGORITHMS = {
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  EdDSA: { name: "Ed25519" },
  RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  PS256: { name: "RSA-PSS", hash: "SHA-256" },
};

async function privateKey(file, alg) {
  const pem = readFileSync(file, "utf8");
  const base64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  const der = Buffer.from(base64, "base64");
  return webcrypto.subtle.importKey("pkcs8", der, KEY_ALGORITHMS[alg], false, ["sign"]);
}

async function main() {
  const env = process.env;
  const key = await privateKey(env.PRIVATE_KEY_PEM_FILE, env.ALG);
  const config = await client.discovery(
    new URL(env.ISSUER),
    env.CLIENT_ID,
    undefined,
    client.PrivateKeyJwt({ key, kid: env.KEY_ID }),
    // Our issuer is plain HTTP on loopback in the tests.
    { algorithm: "oauth2", execute: [client.allowInsecureRequests] },
  );
  const parameters = env.SCOPE ? { scope: env.SCOPE } : {};
  const token = await client.clientCredentialsGrant(config, parameters);
  console.log(JSON.stringify(token));
}

// The error, and the server's answer when there was one: a challenge in
// WWW-Authenticate leaves the body unread and the OAuth error in it.
async function describe(error) {
  let text = `openid-client: ${error.name}: ${error.message}`;
  if (error.cause !== undefined) text += ` (cause: ${JSON.stringify(error.cause)})`;
  const response = error.response;
  if (response && !response.bodyUsed) {
    text += `; the server answered ${response.status}: ${await response.text()}`;
  }
  return text;
}

main().catch(async (error) => {
  console.error(await describe(error));
  process.exit(1);
});
