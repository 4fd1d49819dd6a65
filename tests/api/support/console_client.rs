//! A client of the console that sends forms and keeps cookies as a browser
//! does, but follows no redirect, so tests see each answer. Users are made
//! as the operator makes them: `keyward user create`, then the printed link.

use reqwest::header::HeaderMap;

use super::cli_process::{keyward, one_json_object};
use super::helpers::TestApp;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers["location"].to_str().unwrap()
    }

    /// The value of the first `name="<name>"` field of the page.
    pub fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker).unwrap_or_else(|| {
            panic!("no field {name} in the page:\n{}", self.body);
        }) + marker.len();
        let end = start + self.body[start..].find('"').unwrap();
        self.body[start..end].replace("&amp;", "&")
    }

    pub fn csrf(&self) -> String {
        self.field("csrf")
    }

    /// The text of the element with id `id`.
    pub fn text_of(&self, id: &str) -> Option<String> {
        let marker = format!("id=\"{id}\">");
        let start = self.body.find(&marker)? + marker.len();
        let end = start + self.body[start..].find('<')?;
        Some(self.body[start..end].to_owned())
    }
}

pub struct ConsoleClient {
    pub http: reqwest::Client,
    base: String,
}

impl ConsoleClient {
    pub fn new(app: &TestApp) -> Self {
        Self::with_headers(app, HeaderMap::new())
    }

    /// A client that sends `headers` with every request.
    pub fn with_headers(app: &TestApp, headers: HeaderMap) -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .unwrap();
        Self {
            http,
            base: app.address.clone(),
        }
    }

    async fn page(response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        assert!(status < 500, "{status}: {body}");
        Page {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        let url = format!("{}{path}", self.base);
        Self::page(self.http.get(url).send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let url = format!("{}{path}", self.base);
        Self::page(self.http.post(url).form(form).send().await.unwrap()).await
    }

    /// Sends the password form of a link; the answer.
    pub async fn set_password(&self, token: &str, password: &str) -> Page {
        self.post(
            "/console/password",
            &[
                ("token", token),
                ("password", password),
                ("confirm", password),
            ],
        )
        .await
    }

    /// Signs in; the answer to the sign-in form.
    pub async fn sign_in(&self, email: &str, password: &str) -> Page {
        self.post(
            "/console/sign-in",
            &[("email", email), ("password", password)],
        )
        .await
    }
}

/// Makes a member of `org` with `role` through the CLI, sets their password
/// through the printed link, and returns their email.
pub async fn member(app: &TestApp, org: &str, role: &str) -> String {
    let email = format!("{role}-{}@example.com", uuid::Uuid::new_v4().simple());
    let made = one_json_object(&keyward(
        app,
        &[
            "--json", "user", "create", "--org", org, "--email", &email, "--role", role,
        ],
    ));
    let link = made["password_link"].as_str().unwrap();
    let token = link.split_once("?token=").unwrap().1;
    let browser = ConsoleClient::new(app);
    let form = browser
        .get(&format!("/console/password?token={token}"))
        .await;
    assert_eq!(form.status, 200, "{}", form.body);
    let set = browser.set_password(token, PASSWORD).await;
    assert_eq!(set.status, 200, "{}", set.body);
    email
}

/// A console client signed in as a new member of `org` with `role`.
pub async fn signed_in(app: &TestApp, org: &str, role: &str) -> (ConsoleClient, String) {
    let email = member(app, org, role).await;
    let browser = ConsoleClient::new(app);
    let answer = browser.sign_in(&email, PASSWORD).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    (browser, email)
}
