//! The request log of one API key or client, newest first, for the
//! organisation's admins.

use super::records::time;
use super::{Caller, Management, ManagementError};
use crate::domain::management_scope::{CLIENTS_READ, KEYS_READ};
use crate::domain::{ApiKeyId, ClientId, OrgId, RequestRecord};
use crate::storage::{PageRequest, RequestLogQuery};

/// Filters of the request log: a result code, and times in RFC 3339
/// (`since` included, `until` not).
#[derive(Debug, Default)]
pub struct RequestFilter {
    pub code: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
}

impl RequestFilter {
    fn into_query(self, page: PageRequest) -> Result<RequestLogQuery, ManagementError> {
        let code = match self.code {
            Some(c) if c.is_empty() || c.len() > 64 => {
                return Err(ManagementError::invalid(
                    "code",
                    "must be between 1 and 64 characters",
                ))
            }
            c => c,
        };
        if let Some((_, id)) = &page.after {
            if RequestRecord::position_of(id).is_none() {
                return Err(ManagementError::invalid(
                    "cursor",
                    "not a cursor of this list",
                ));
            }
        }
        Ok(RequestLogQuery {
            page,
            code,
            since: time("since", self.since)?,
            until: time("until", self.until)?,
        })
    }
}

impl Management {
    /// Checks of an API key of `org`; `NotFound` for a key of another.
    pub async fn api_key_requests(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ApiKeyId,
        filter: RequestFilter,
        page: PageRequest,
    ) -> Result<Vec<RequestRecord>, ManagementError> {
        caller.actor.require(org, KEYS_READ)?;
        let query = filter.into_query(page)?;
        self.store.get_api_key(org, id).await?;
        Ok(self.store.list_requests(org, id.as_str(), &query).await?)
    }

    /// Token requests of a client of `org`; `NotFound` for a client of another.
    pub async fn client_requests(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ClientId,
        filter: RequestFilter,
        page: PageRequest,
    ) -> Result<Vec<RequestRecord>, ManagementError> {
        caller.actor.require(org, CLIENTS_READ)?;
        let query = filter.into_query(page)?;
        self.store.get_client(org, id).await?;
        Ok(self.store.list_requests(org, id.as_str(), &query).await?)
    }
}
