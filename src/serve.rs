//! The fixture server: a real HTTP server on 127.0.0.1 that answers from fixture files.
//!
//! It lets a recipe run through the live transport without the real API (`recipe serve`, and
//! the project's own tests of the real HTTP path). A request is answered by the first recorded
//! exchange with the same method and URL that has not been served yet (or, once all have, the
//! last one that matches); anything else gets a 404 whose JSON body lists what it knows.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::fixture::{Exchange, Fixture};

struct Book {
    exchanges: Vec<Exchange>,
    served: Vec<bool>,
}

/// A running server; dropping the handle does not stop it (the task ends with the runtime).
pub struct Server {
    pub address: SocketAddr,
}

/// Binds 127.0.0.1:`port` (0 for any free port) and serves `fixtures` until the runtime ends.
pub async fn start(fixtures: Vec<Fixture>, port: u16) -> Result<Server, String> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|error| format!("cannot listen on 127.0.0.1:{port}: {error}"))?;
    let address = listener.local_addr().map_err(|error| error.to_string())?;
    // Attempts recorded as failures (a timeout, a reset) have no response to serve.
    let exchanges: Vec<Exchange> = fixtures.into_iter().flat_map(|f| f.exchanges).filter(|e| e.response.is_some()).collect();
    let served = vec![false; exchanges.len()];
    let book = Arc::new(Mutex::new(Book { exchanges, served }));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let book = Arc::clone(&book);
            tokio::spawn(async move {
                let service = service_fn(move |request| answer(Arc::clone(&book), request));
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Ok(Server { address })
}

async fn answer(book: Arc<Mutex<Book>>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let method = request.method().as_str().to_owned();
    let url = request.uri().path_and_query().map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned());
    // Drain the body so the connection stays usable.
    let _ = request.into_body().collect().await?;
    let found = {
        let mut book = book.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let matching: Vec<usize> = (0..book.exchanges.len())
            .filter(|&i| book.exchanges[i].request.method == method && book.exchanges[i].request.url == url)
            .collect();
        let chosen = matching.iter().copied().find(|&i| !book.served[i]).or_else(|| matching.last().copied());
        if let Some(i) = chosen {
            book.served[i] = true;
        }
        chosen.and_then(|i| book.exchanges[i].response.clone()).ok_or_else(|| {
            let known: Vec<String> = book.exchanges.iter().map(|e| format!("{} {}", e.request.method, e.request.url)).collect();
            known
        })
    };
    let response = match found {
        Ok(recorded) => {
            let mut builder = Response::builder().status(recorded.status);
            for (name, value) in &recorded.headers {
                builder = builder.header(name, value);
            }
            builder.body(Full::new(Bytes::from(recorded.to_bytes())))
        }
        Err(known) => {
            let body = serde_json::json!({"error": format!("no recorded exchange for {method} {url}"), "known": known});
            Response::builder().status(404).header("content-type", "application/json").body(Full::new(Bytes::from(body.to_string())))
        }
    };
    Ok(response.unwrap_or_else(|_| Response::new(Full::new(Bytes::from_static(b"invalid recorded response")))))
}

/// A short listing of what a server answers, for `recipe serve`.
pub fn describe(fixtures: &[Fixture]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for exchange in fixtures.iter().flat_map(|f| &f.exchanges) {
        *counts.entry(format!("{} {}", exchange.request.method, exchange.request.url)).or_insert(0) += 1;
    }
    counts
}
