//! Workload identity federation: issuers whose tokens the operator trusts
//! (a CI platform, a Kubernetes cluster, any OIDC issuer), and the
//! workloads a client is bound to, each an issuer, a subject and claim
//! conditions that a platform token must match.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An issuer the operator trusts: where its keys come from and the
/// audience its tokens must carry.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustedIssuer {
    pub id: String,
    /// The `iss` of its tokens, exactly.
    pub issuer: String,
    pub keys: IssuerKeys,
    /// An `aud` its tokens must carry; Keyward's issuer when `None`.
    pub audience: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum IssuerKeys {
    /// `jwks_uri` of `{issuer}/.well-known/openid-configuration`.
    Discovery,
    JwksUri(String),
    /// A JWK Set given at registration, for issuers Keyward cannot reach.
    Static(Value),
}

impl TrustedIssuer {
    /// `ti_` and 32 hex digits.
    pub fn new_id() -> String {
        format!("ti_{}", uuid::Uuid::new_v4().simple())
    }
}

/// How a binding's `subject` is compared with a token's `sub`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectMatch {
    #[default]
    Exact,
    /// `*` stands for any run of characters, `/` and `:` included; the
    /// pattern must match the whole `sub`.
    Glob,
}

/// A workload a client is bound to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FederatedSubject {
    pub id: String,
    pub issuer: String,
    pub subject: String,
    #[serde(default)]
    pub subject_match: SubjectMatch,
    /// Claim name (or RFC 6901 JSON Pointer, starting with `/`) to the
    /// string it must equal.
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FederatedSubjectError {
    #[error("subject must be 1 to {MAX_TEXT} characters")]
    Subject,
    #[error("a subject pattern needs at least one character besides *: `*` alone would admit every workload of the issuer")]
    MatchesEverything,
    #[error("at most {MAX_CLAIMS} claim conditions, each a name and a value of 1 to {MAX_TEXT} characters")]
    Claims,
    #[error("a client has at most {MAX_SUBJECTS} federated subjects; remove one first")]
    TooMany,
    #[error("the client is already bound to this subject of this issuer with these claims")]
    Duplicate,
}

const MAX_TEXT: usize = 512;
const MAX_CLAIMS: usize = 10;
pub const MAX_SUBJECTS: usize = 10;

impl FederatedSubject {
    /// A checked binding with a new id.
    pub fn new(
        issuer: String,
        subject: String,
        subject_match: SubjectMatch,
        claims: BTreeMap<String, String>,
    ) -> Result<Self, FederatedSubjectError> {
        if subject.is_empty() || subject.len() > MAX_TEXT {
            return Err(FederatedSubjectError::Subject);
        }
        if subject_match == SubjectMatch::Glob && subject.chars().all(|c| c == '*') {
            return Err(FederatedSubjectError::MatchesEverything);
        }
        let fits = |text: &String| !text.is_empty() && text.len() <= MAX_TEXT;
        if claims.len() > MAX_CLAIMS || !claims.iter().all(|(k, v)| fits(k) && fits(v)) {
            return Err(FederatedSubjectError::Claims);
        }
        Ok(Self {
            id: format!("fs_{:016x}", rand::random::<u64>()),
            issuer,
            subject,
            subject_match,
            claims,
        })
    }

    /// Whether a token of `issuer` for `sub`, with all its `claims`,
    /// is this workload.
    pub fn matches(&self, issuer: &str, sub: &str, claims: &Value) -> bool {
        self.issuer == issuer
            && match self.subject_match {
                SubjectMatch::Exact => self.subject == sub,
                SubjectMatch::Glob => glob_matches(&self.subject, sub),
            }
            && self.claims.iter().all(|(name, wanted)| {
                let found = if name.starts_with('/') {
                    claims.pointer(name)
                } else {
                    claims.get(name)
                };
                found.and_then(Value::as_str) == Some(wanted.as_str())
            })
    }
}

/// `pattern` against the whole of `text`, `*` standing for any run of
/// characters. Greedy with backtracking to the last `*`: linear in
/// practice, and bounded by the lengths both ways.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A client's bindings, stored as a JSON array.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FederatedSubjects(Vec<FederatedSubject>);

impl FederatedSubjects {
    pub fn from_stored(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json).map(Self)
    }

    pub fn to_stored(&self) -> String {
        serde_json::to_string(&self.0).expect("bindings of strings serialise")
    }

    pub fn iter(&self) -> impl Iterator<Item = &FederatedSubject> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn add(&mut self, subject: FederatedSubject) -> Result<(), FederatedSubjectError> {
        if self.0.len() >= MAX_SUBJECTS {
            return Err(FederatedSubjectError::TooMany);
        }
        let same = |s: &FederatedSubject| {
            s.issuer == subject.issuer
                && s.subject == subject.subject
                && s.subject_match == subject.subject_match
                && s.claims == subject.claims
        };
        if self.0.iter().any(same) {
            return Err(FederatedSubjectError::Duplicate);
        }
        self.0.push(subject);
        Ok(())
    }

    /// Removes the binding `id`; whether there was one.
    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|s| s.id != id);
        self.0.len() != before
    }

    /// The first binding that a token of `issuer` for `sub` matches.
    pub fn matching(&self, issuer: &str, sub: &str, claims: &Value) -> Option<&FederatedSubject> {
        self.0.iter().find(|s| s.matches(issuer, sub, claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bound(subject: &str, glob: bool, claims: &[(&str, &str)]) -> FederatedSubject {
        let how = if glob {
            SubjectMatch::Glob
        } else {
            SubjectMatch::Exact
        };
        let claims = claims
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        FederatedSubject::new("https://issuer.test".into(), subject.into(), how, claims).unwrap()
    }

    #[test]
    fn exact_subjects_and_claims_must_all_match() {
        let token = json!({"repository": "octo/app", "ref": "refs/heads/main",
                           "kubernetes.io": {"namespace": "payments"}});
        let binding = bound(
            "repo:octo/app:ref:refs/heads/main",
            false,
            &[("repository", "octo/app")],
        );
        assert!(binding.matches(
            "https://issuer.test",
            "repo:octo/app:ref:refs/heads/main",
            &token
        ));
        assert!(!binding.matches(
            "https://other.test",
            "repo:octo/app:ref:refs/heads/main",
            &token
        ));
        assert!(!binding.matches(
            "https://issuer.test",
            "repo:octo/app:ref:refs/heads/dev",
            &token
        ));
        let other_repo = json!({"repository": "octo/evil"});
        assert!(!binding.matches(
            "https://issuer.test",
            "repo:octo/app:ref:refs/heads/main",
            &other_repo
        ));
        // A JSON Pointer reaches a nested claim; a missing or non-string one fails.
        let nested = bound(
            "system:serviceaccount:payments:worker",
            false,
            &[("/kubernetes.io/namespace", "payments")],
        );
        assert!(nested.matches(
            "https://issuer.test",
            "system:serviceaccount:payments:worker",
            &token
        ));
        assert!(!nested.matches(
            "https://issuer.test",
            "system:serviceaccount:payments:worker",
            &json!({})
        ));
        let numeric = bound("s", false, &[("n", "1")]);
        assert!(!numeric.matches("https://issuer.test", "s", &json!({"n": 1})));
    }

    #[test]
    fn a_pattern_is_anchored_at_both_ends() {
        let binding = bound("repo:octo/*:ref:refs/heads/main", true, &[]);
        let matches = |sub: &str| binding.matches("https://issuer.test", sub, &json!({}));
        assert!(matches("repo:octo/app:ref:refs/heads/main"));
        assert!(matches("repo:octo/a/b:ref:refs/heads/main"));
        assert!(!matches("repo:octo/app:ref:refs/heads/main-x"));
        assert!(!matches("xrepo:octo/app:ref:refs/heads/main"));
        assert!(!matches("repo:other/app:ref:refs/heads/main"));
        assert!(glob_matches("a*b*c", "abbbc") && !glob_matches("a*b*c", "abbb"));
        assert!(glob_matches("*x", "yyx") && !glob_matches("x*", "yx"));
    }

    #[test]
    fn bindings_that_admit_everyone_or_too_much_are_refused() {
        let new = |subject: &str, how| {
            FederatedSubject::new("i".into(), subject.into(), how, BTreeMap::new())
        };
        assert_eq!(
            new("**", SubjectMatch::Glob).unwrap_err(),
            FederatedSubjectError::MatchesEverything
        );
        assert!(
            new("*", SubjectMatch::Exact).is_ok(),
            "an exact `*` is the literal subject"
        );
        assert_eq!(
            new("", SubjectMatch::Exact).unwrap_err(),
            FederatedSubjectError::Subject
        );
        let mut all = FederatedSubjects::default();
        for i in 0..MAX_SUBJECTS {
            all.add(bound(&format!("s{i}"), false, &[])).unwrap();
        }
        assert_eq!(
            all.add(bound("s", false, &[])).unwrap_err(),
            FederatedSubjectError::TooMany
        );
        let mut one = FederatedSubjects::default();
        one.add(bound("s", false, &[])).unwrap();
        assert_eq!(
            one.add(bound("s", false, &[])).unwrap_err(),
            FederatedSubjectError::Duplicate
        );
        let stored = FederatedSubjects::from_stored(&one.to_stored()).unwrap();
        assert_eq!(stored, one);
    }
}
