//! Revoked access tokens held in memory, so that introspection checks
//! revocation without SQL. Filled from the store and the change feed.

use std::collections::HashMap;
use std::sync::RwLock;

#[derive(Debug, Default)]
pub struct RevocationList {
    /// jti → the expiry of the revoked token; after it the entry is moot.
    revoked: RwLock<HashMap<String, i64>>,
}

impl RevocationList {
    pub fn is_revoked(&self, jti: &str, now: i64) -> bool {
        let revoked = self.revoked.read().unwrap_or_else(|e| e.into_inner());
        revoked.get(jti).is_some_and(|exp| *exp > now)
    }

    pub fn add(&self, jti: String, expires_at: i64) {
        let mut revoked = self.revoked.write().unwrap_or_else(|e| e.into_inner());
        revoked.insert(jti, expires_at);
    }

    /// Replaces the whole list with what the store holds now.
    pub fn replace_all(&self, live: Vec<(String, i64)>) {
        let fresh: HashMap<String, i64> = live.into_iter().collect();
        *self.revoked.write().unwrap_or_else(|e| e.into_inner()) = fresh;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_lapses_with_its_token() {
        let list = RevocationList::default();
        list.add("a".into(), 100);
        assert!(list.is_revoked("a", 99));
        assert!(!list.is_revoked("a", 100));
        assert!(!list.is_revoked("b", 0));
        list.replace_all(vec![("b".into(), 100)]);
        assert!(!list.is_revoked("a", 0));
        assert!(list.is_revoked("b", 0));
    }
}
