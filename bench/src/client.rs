//! A minimal HTTP/1.1 client: one keep-alive connection per worker, timings taken with
//! `Instant` around each exchange (time to first body byte, total time, bytes read).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// No single exchange may take longer than this (every loop of the harness is bounded).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// One request, ready to be sent any number of times.
#[derive(Clone)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

impl Call {
    pub fn post_json(path: &str, body: Bytes) -> Call {
        Call {
            method: Method::POST,
            path: path.to_owned(),
            headers: vec![(
                hyper::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        }
    }

    pub fn get(path: &str) -> Call {
        Call {
            method: Method::GET,
            path: path.to_owned(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }
}

/// What one exchange took.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// From sending the request to the first body byte.
    pub ttfb: Duration,
    /// From sending the request to the end of the body.
    pub total: Duration,
    /// Body bytes read.
    pub bytes: usize,
}

/// A keep-alive connection to one server (re-opened if the server closes it).
pub struct Conn {
    addr: SocketAddr,
    send: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Result<Conn, String> {
        let mut conn = Conn { addr, send: None };
        conn.ensure().await?;
        Ok(conn)
    }

    async fn ensure(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, String> {
        let usable = match self.send.as_mut() {
            Some(s) => s.ready().await.is_ok(),
            None => false,
        };
        if !usable {
            let stream = TcpStream::connect(self.addr)
                .await
                .map_err(|e| format!("connect {}: {e}", self.addr))?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            let (send, connection) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake {}: {e}", self.addr))?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            self.send = Some(send);
        }
        self.send.as_mut().ok_or_else(|| "no connection".to_owned())
    }

    /// Sends `call` and reads the whole answer. `keep` returns the body too.
    pub async fn exchange(&mut self, call: &Call, keep: bool) -> Result<(Timing, Bytes), String> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange_inner(call, keep)).await {
            Ok(result) => result,
            Err(_) => {
                self.send = None;
                Err(format!("{} {}: timed out", call.method, call.path))
            }
        }
    }

    async fn exchange_inner(&mut self, call: &Call, keep: bool) -> Result<(Timing, Bytes), String> {
        let host = self.addr.to_string();
        let mut builder = Request::builder()
            .method(call.method.clone())
            .uri(call.path.as_str())
            .header(hyper::header::HOST, host);
        for (name, value) in &call.headers {
            builder = builder.header(name, value);
        }
        let request = builder
            .body(Full::new(call.body.clone()))
            .map_err(|e| e.to_string())?;
        let send = self.ensure().await?;
        let started = Instant::now();
        let response = match send.send_request(request).await {
            Ok(r) => r,
            Err(e) => {
                self.send = None;
                return Err(format!("{} {}: {e}", call.method, call.path));
            }
        };
        let status = response.status();
        let mut body = response.into_body();
        let mut ttfb = None;
        let mut bytes = 0usize;
        let mut kept = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = match frame {
                Ok(f) => f,
                Err(e) => {
                    self.send = None;
                    return Err(format!("{} {}: body: {e}", call.method, call.path));
                }
            };
            if let Some(data) = frame.data_ref()
                && !data.is_empty()
            {
                if ttfb.is_none() {
                    ttfb = Some(started.elapsed());
                }
                bytes += data.len();
                if keep || !status.is_success() {
                    kept.extend_from_slice(data);
                }
            }
        }
        let total = started.elapsed();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&kept[..kept.len().min(400)]).into_owned();
            return Err(format!(
                "{} {}: HTTP {status}: {text}",
                call.method, call.path
            ));
        }
        Ok((
            Timing {
                ttfb: ttfb.unwrap_or(total),
                total,
                bytes,
            },
            Bytes::from(kept),
        ))
    }
}
