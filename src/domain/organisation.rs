use std::str::FromStr;

super::ids::prefixed_id!(OrgId, "org_");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Free,
    Starter,
    Professional,
    Enterprise,
}

impl Plan {
    pub const ALL: [Plan; 4] = [
        Plan::Free,
        Plan::Starter,
        Plan::Professional,
        Plan::Enterprise,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Starter => "starter",
            Plan::Professional => "professional",
            Plan::Enterprise => "enterprise",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown plan '{0}': expected free, starter, professional or enterprise")]
pub struct UnknownPlan(pub String);

impl FromStr for Plan {
    type Err = UnknownPlan;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Plan::ALL
            .into_iter()
            .find(|p| p.as_str() == raw)
            .ok_or_else(|| UnknownPlan(raw.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidName {
    #[error("a name must not be empty")]
    Empty,
    #[error("a name must be at most 200 characters")]
    TooLong,
    #[error("a name must not hold control characters")]
    Control,
}

/// A display name for an organisation or a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub fn parse(raw: &str) -> Result<Self, InvalidName> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(InvalidName::Empty);
        }
        if trimmed.chars().count() > 200 {
            return Err(InvalidName::TooLong);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(InvalidName::Control);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone)]
pub struct Organisation {
    pub id: OrgId,
    pub name: Name,
    pub plan: Plan,
    pub created_at: i64,
    /// Where the organisation's notifications go (an absolute http(s) URL).
    pub webhook_url: Option<String>,
    /// Derives the organisation's webhook signing secret; `None` until a
    /// webhook URL is first set.
    pub webhook_signing_nonce: Option<String>,
    /// Where its notification emails go; its owners and admins when unset.
    pub notification_email: Option<super::MailAddress>,
}

/// What a plan allows; the limits of every plan come from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanLimit {
    /// Whether the organisation's clients get tokens and its keys check valid.
    pub api_access: bool,
    /// How many API keys the organisation may hold; unlimited when unset.
    pub max_api_keys: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlanLimits {
    pub free: PlanLimit,
    pub starter: PlanLimit,
    pub professional: PlanLimit,
    pub enterprise: PlanLimit,
}

impl Default for PlanLimits {
    fn default() -> Self {
        let limit = |api_access, max_api_keys| PlanLimit {
            api_access,
            max_api_keys,
        };
        Self {
            free: limit(false, Some(0)),
            starter: limit(true, Some(2)),
            professional: limit(true, Some(10)),
            enterprise: limit(true, None),
        }
    }
}

impl PlanLimits {
    pub fn of(&self, plan: Plan) -> PlanLimit {
        match plan {
            Plan::Free => self.free,
            Plan::Starter => self.starter,
            Plan::Professional => self.professional,
            Plan::Enterprise => self.enterprise,
        }
    }
}
