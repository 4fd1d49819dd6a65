//! The console's own stylesheet and script, compiled into the binary.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::error::ConsoleError;

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

pub async fn serve(name: web::Path<String>) -> Result<HttpResponse, ConsoleError> {
    let (body, content_type) = match name.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return Err(ConsoleError::NotFound),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .content_type(content_type)
        .body(body))
}
