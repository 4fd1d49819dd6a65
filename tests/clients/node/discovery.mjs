// openid-client's discovery as OpenID Connect integrations call it: the
// default algorithm, which reads {issuer}/.well-known/openid-configuration,
// then a client-credentials token with a client secret. ISSUER, CLIENT_ID,
// CLIENT_SECRET from the environment, SCOPE optional. Prints the discovered
// metadata and the token response as JSON; on failure, the error on
// standard error and a non-zero exit.
import * as client from "openid-client";

async function main() {
  const env = process.env;
  const config = await client.discovery(
    new URL(env.ISSUER),
    env.CLIENT_ID,
    undefined,
    client.ClientSecretBasic(env.CLIENT_SECRET),
    // Our issuer is plain HTTP on loopback in the tests.
    { execute: [client.allowInsecureRequests] },
  );
  const parameters = env.SCOPE ? { scope: env.SCOPE } : {};
  const token = await client.clientCredentialsGrant(config, parameters);
  console.log(JSON.stringify({ metadata: config.serverMetadata(), token }));
}

main().catch((error) => {
  let text = `openid-client: ${error.name}: ${error.message}`;
  if (error.cause !== undefined) text += ` (cause: ${JSON.stringify(error.cause)})`;
  console.error(text);
  process.exit(1);
});
