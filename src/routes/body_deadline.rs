//! A bounded time to read a request body. actix's `client_request_timeout`
//! bounds only the head; a client that sends a `Content-Length` and then
//! trickles or stalls the body would hold its connection and worker slot
//! for as long as it likes. Here the body must arrive within
//! `client_request_timeout_ms` of the head: past it, reading the body fails
//! with a timeout (answered 408 by `body::read_body`), and the answer
//! closes the connection, whose unread remainder no one will wait for.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{header, ConnectionType};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::HttpMessage;
use futures_util::Stream;

/// How long a body may take to arrive after its head.
#[derive(Clone, Copy)]
pub struct BodyDeadline(pub Duration);

pub async fn bound_body_time(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let has_body = req.headers().contains_key(header::CONTENT_LENGTH)
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    let limit = req
        .app_data::<web::Data<BodyDeadline>>()
        .map(|deadline| deadline.0);
    let (Some(limit), true) = (limit, has_body) else {
        return next.call(req).await;
    };
    let expired = Arc::new(AtomicBool::new(false));
    let body = Deadline {
        inner: req.take_payload(),
        deadline: tokio::time::Instant::now() + limit,
        sleep: None,
        expired: expired.clone(),
        limit,
    };
    req.set_payload(Payload::from(
        Box::pin(body) as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>
    ));
    let mut res = next.call(req).await?;
    if expired.load(Ordering::Relaxed) {
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(res)
}

/// Whether reading a body failed because its time ran out.
pub fn timed_out(err: &PayloadError) -> bool {
    matches!(err, PayloadError::Io(e) if e.kind() == io::ErrorKind::TimedOut)
}

struct Deadline {
    inner: Payload,
    deadline: tokio::time::Instant,
    /// Made only when the body is not all in at once: most bodies arrive
    /// with their head and never need a timer.
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    expired: Arc<AtomicBool>,
    limit: Duration,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.expired.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        let deadline = self.deadline;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.as_mut().poll(cx).is_ready() {
            self.expired.store(true, Ordering::Relaxed);
            let message = format!("the body did not arrive within {:?}", self.limit);
            let timeout = io::Error::new(io::ErrorKind::TimedOut, message);
            return Poll::Ready(Some(Err(PayloadError::Io(timeout))));
        }
        Poll::Pending
    }
}
