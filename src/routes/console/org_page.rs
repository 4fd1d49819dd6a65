//! What every page of one organisation starts from: the member's role in
//! it (another organisation does not exist for them), the organisation, and
//! what the role and the plan allow.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use maud::Markup;

use super::error::ConsoleError;
use super::layout::{self, Section};
use super::session::SignedIn;
use crate::domain::{OrgId, Organisation, Role, Scope};
use crate::management::Management;

pub struct OrgPage<'a> {
    pub signed_in: &'a SignedIn,
    pub org: Organisation,
    pub role: Role,
    pub api_access: bool,
    section: Section,
}

impl<'a> OrgPage<'a> {
    pub async fn open(
        signed_in: &'a SignedIn,
        management: &Management,
        raw_org_id: &str,
        section: Section,
    ) -> Result<Self, ConsoleError> {
        let org_id = OrgId::parse(raw_org_id).map_err(|_| ConsoleError::NotFound)?;
        let role = signed_in.role_in(&org_id)?;
        let org = management
            .get_organisation(&signed_in.caller(&org_id), &org_id)
            .await?;
        Ok(Self {
            signed_in,
            api_access: management.plans.of(org.plan).api_access,
            org,
            role,
            section,
        })
    }

    /// Whether the member's role holds `scope` here.
    pub fn can(&self, scope: &str) -> bool {
        let scope = Scope::parse(scope).expect("a valid scope");
        self.role.scopes().grants(&scope)
    }

    /// `/console/orgs/<org><rest>`.
    pub fn url(&self, rest: &str) -> String {
        format!("/console/orgs/{}{rest}", self.org.id)
    }

    pub fn caller(&self) -> crate::management::Caller {
        self.signed_in.caller(&self.org.id)
    }

    pub fn page(&self, title: &str, body: Markup) -> HttpResponse {
        self.page_with(StatusCode::OK, title, body)
    }

    pub fn page_with(&self, status: StatusCode, title: &str, body: Markup) -> HttpResponse {
        let frame = self.signed_in.frame(Some(&self.org), Some(self.section));
        layout::respond(status, layout::page(title, &frame, body))
    }

    /// Refuses what the member's role does not allow, before a form shows.
    pub fn require(&self, scope: &str) -> Result<(), ConsoleError> {
        if self.can(scope) {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden(
                "Your role in this organisation does not allow this.".into(),
            ))
        }
    }

    pub fn require_api_access(&self) -> Result<(), ConsoleError> {
        if self.api_access {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden(
                "API access requires Starter or higher.".into(),
            ))
        }
    }
}

pub fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}
