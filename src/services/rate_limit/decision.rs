//! What a limiter answers, local or shared.

/// The outcome of one check, with what the rate-limit headers tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Requests per window (the per-minute rate; the window is 60 s).
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the full budget is back.
    pub reset_seconds: u64,
    /// Seconds until a request would be allowed; only when refused.
    pub retry_after_seconds: Option<u64>,
}

pub const WINDOW_SECONDS: u64 = 60;
