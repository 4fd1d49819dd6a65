//! While the server stops, every response closes its connection, so a
//! keep-alive client opens a new one (to another replica, or to be refused)
//! instead of sending on a connection that is about to close.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::web;

use crate::drain::Drain;

pub async fn close_connections_while_stopping(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    // Checked once the response is ready: a request that began before the
    // stop still closes its connection.
    let stopping = res
        .request()
        .app_data::<web::Data<Drain>>()
        .is_some_and(|drain| drain.is_stopping());
    if stopping {
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(res)
}
