//! Where a token's check happens: offline against the JWKS, or by asking
//! Keyward.

use crate::introspection::Introspector;
use crate::verifier::Verifier;
use crate::{Claims, Denial};

pub(crate) enum TokenCheck {
    Offline(Verifier),
    Introspection(Introspector),
}

impl TokenCheck {
    pub async fn verify(&self, token: &str) -> Result<Claims, Denial> {
        match self {
            Self::Offline(verifier) => verifier.verify(token).await,
            Self::Introspection(introspector) => introspector.verify(token).await,
        }
    }
}
