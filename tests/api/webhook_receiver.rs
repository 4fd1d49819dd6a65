//! A local HTTP receiver that stands in for an organisation's webhook
//! endpoint. It listens on loopback, so apps that send to it need
//! `webhook_allow_private_networks` (and `webhook_allow_http`).

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub delivery: String,
    pub event: String,
    pub signature: String,
    pub body: String,
    pub answered: u16,
}

/// A webhook receiver that fails the first `failures` attempts of each delivery.
pub struct Receiver {
    pub url: String,
    log: Arc<Mutex<Vec<Received>>>,
    server: actix_web::dev::ServerHandle,
}

struct ReceiverState {
    failures: usize,
    log: Arc<Mutex<Vec<Received>>>,
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<ReceiverState>,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let delivery = header("x-keyward-delivery");
    let mut log = state.log.lock().unwrap();
    let earlier = log.iter().filter(|r| r.delivery == delivery).count();
    let answered = if earlier < state.failures { 503 } else { 200 };
    log.push(Received {
        delivery,
        event: header("x-keyward-event"),
        signature: header("x-keyward-signature"),
        body: String::from_utf8(body.to_vec()).unwrap(),
        answered,
    });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(answered).unwrap()).finish()
}

impl Receiver {
    pub fn start(failures: usize) -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = web::Data::new(ReceiverState {
            failures,
            log: log.clone(),
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .route("/hooks", web::post().to(receive))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url,
            log,
            server: handle,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.answered == 200)
            .collect()
    }

    pub async fn wait_for_accepted(&self, count: usize) -> Vec<Received> {
        for _ in 0..300 {
            if self.accepted().len() >= count {
                return self.accepted();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the receiver got {:?}", self.received());
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let server = self.server.clone();
        tokio::spawn(async move { server.stop(false).await });
    }
}
