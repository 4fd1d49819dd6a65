"""authlib's PrivateKeyJWT, as an integration configures it, fetching a
client-credentials token: TOKEN_URL, CLIENT_ID, PRIVATE_KEY_PEM_FILE,
KEY_ID and ALG (ES256, EdDSA, RS256 or PS256) from the environment, SCOPE
optional. Prints the token response as JSON; on failure, the error on
standard error and a non-zero exit."""

import json
import os
import sys
import time

from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import ECKey, OKPKey, RSAKey

# authlib signs with a joserfc key of the algorithm's type.
KEY_TYPES = {"ES256": ECKey, "EdDSA": OKPKey, "RS256": RSAKey, "PS256": RSAKey}


def main():
    token_url = os.environ["TOKEN_URL"]
    alg = os.environ["ALG"]
    with open(os.environ["PRIVATE_KEY_PEM_FILE"], "rb") as pem:
        key = KEY_TYPES[alg].import_key(pem.read())
    session = OAuth2Session(
        os.environ["CLIENT_ID"],
        key,
        token_endpoint_auth_method="private_key_jwt",
    )
    # authlib's assertions live an hour by default; Keyward takes at most
    # five minutes (RFC 7523 §3 leaves the bound to the server), so the
    # integration sets exp. authlib keeps its jti in these claims: one
    # PrivateKeyJWT per token request.
    session.register_client_auth_method(
        PrivateKeyJWT(
            token_url,
            claims={"exp": int(time.time()) + 60},
            headers={"kid": os.environ["KEY_ID"]},
            alg=alg,
        )
    )
    token = session.fetch_token(
        token_url, grant_type="client_credentials", scope=os.environ.get("SCOPE")
    )
    json.dump(dict(token), sys.stdout)
    print()


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # noqa: BLE001 - the test reads the cause
        print(f"authlib: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
