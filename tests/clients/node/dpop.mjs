// oauth4webapi's DPoP, as an integration uses it: discovers the server from
// its RFC 8414 metadata, makes an ES256 key pair, gets a client-credentials
// token bound to it (retrying once when the server asks for its nonce),
// and calls a resource server with the token and a fresh proof. ISSUER,
// CLIENT_ID, CLIENT_SECRET and RESOURCE_URL from the environment, SCOPE
// and RESOURCE optional. Prints {token_type, scope, status, body} as JSON;
// on failure, the error on standard error and a non-zero exit.
import * as oauth from "oauth4webapi";

// Our issuer and the resource server are plain HTTP on loopback in the tests.
const insecure = { [oauth.allowInsecureRequests]: true };

async function tokenResponse(as, client, auth, parameters, DPoP) {
  const request = () =>
    oauth.clientCredentialsGrantRequest(as, client, auth, parameters, { DPoP, ...insecure });
  try {
    return await oauth.processClientCredentialsResponse(as, client, await request());
  } catch (error) {
    // The handle has kept the nonce of the refusal; one retry uses it.
    if (!oauth.isDPoPNonceError(error)) throw error;
    return oauth.processClientCredentialsResponse(as, client, await request());
  }
}

async function main() {
  const env = process.env;
  const issuer = new URL(env.ISSUER);
  const as = await oauth
    .discoveryRequest(issuer, { algorithm: "oauth2", ...insecure })
    .then((response) => oauth.processDiscoveryResponse(issuer, response));
  const client = { client_id: env.CLIENT_ID };
  const auth = oauth.ClientSecretBasic(env.CLIENT_SECRET);
  const DPoP = oauth.DPoP(client, await oauth.generateKeyPair("ES256"));
  const parameters = new URLSearchParams();
  if (env.SCOPE) parameters.set("scope", env.SCOPE);
  if (env.RESOURCE) parameters.set("resource", env.RESOURCE);
  const token = await tokenResponse(as, client, auth, parameters, DPoP);
  const response = await oauth.protectedResourceRequest(
    token.access_token,
    "GET",
    new URL(env.RESOURCE_URL),
    new Headers(),
    null,
    { DPoP, ...insecure },
  );
  console.log(
    JSON.stringify({
      token_type: token.token_type,
      scope: token.scope,
      status: response.status,
      body: await response.json(),
    }),
  );
}

main().catch((error) => {
  let text = `oauth4webapi: ${error.name}: ${error.message}`;
  if (error.cause !== undefined) text += ` (cause: ${JSON.stringify(error.cause)})`;
  console.error(text);
  process.exit(1);
});
