//! A stand-in for the Mailkeys policy listener that records what Dovecot sends.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

/// A stand-in for the Mailkeys policy listener: records Dovecot's policy requests and answers
/// `{"status":0,"msg":""}`.
pub struct PolicyRecorder {
    pub url: String,
    requests: Arc<Mutex<Vec<PolicyRequest>>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone, Debug)]
pub struct PolicyRequest {
    pub method: String,
    /// Path and query, e.g. `/dovecot/auth-policy?command=report`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

impl PolicyRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl PolicyRecorder {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/dovecot/auth-policy",
            listener.local_addr().unwrap()
        );
        let requests = Arc::new(Mutex::new(Vec::new()));
        let sink = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let sink = sink.clone();
                tokio::spawn(async move {
                    let _ = serve_policy_connection(stream, sink).await;
                });
            }
        });
        Self {
            url,
            requests,
            task,
        }
    }

    pub fn requests(&self) -> Vec<PolicyRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) for a request whose JSON body satisfies `matches`.
    pub async fn wait_for(&self, matches: impl Fn(&PolicyRequest) -> bool) -> PolicyRequest {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(found) = self.requests().into_iter().find(|r| matches(r)) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no matching policy request; got {:#?}",
                self.requests()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for PolicyRecorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_policy_connection(
    stream: TcpStream,
    sink: Arc<Mutex<Vec<PolicyRequest>>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        let body = serde_json::from_slice(&body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&body).into_owned())
        });
        sink.lock().unwrap().push(PolicyRequest {
            method,
            target,
            headers,
            body,
        });
        let answer = br#"{"status":0,"msg":""}"#;
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            answer.len()
        );
        reader.get_mut().write_all(head.as_bytes()).await?;
        reader.get_mut().write_all(answer).await?;
    }
}
