//! Server-generated identifiers: a type prefix and 128 random bits in hex.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed identifier: expected '{prefix}' followed by 32 lowercase hex digits")]
pub struct InvalidId {
    pub prefix: &'static str,
}

pub(crate) fn random_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

pub(crate) fn check_id(raw: &str, prefix: &'static str) -> Result<(), InvalidId> {
    let well_formed = raw.strip_prefix(prefix).is_some_and(|hex| {
        hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    });
    well_formed.then_some(()).ok_or(InvalidId { prefix })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_check() {
        let id = random_id("cl_");
        assert!(check_id(&id, "cl_").is_ok());
        assert!(check_id(&id, "org_").is_err());
        assert!(check_id("cl_XYZ", "cl_").is_err());
    }
}
