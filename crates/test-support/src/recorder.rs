//! A recording proxy in front of moto on loopback: every request the product makes is classified by operation
//! and as a read or a write, so tests can assert, for example, that plan makes zero mutating calls.
//!
//! One request per connection: the proxy asks moto to close after each answer and tells the client the same, so
//! request boundaries never depend on parsing a response body.
//!
//! Tests can also inject faults ([`Fault`]): answer an operation with an AWS error (in the protocol the service
//! speaks) for its first N calls, or rewrite its successful answers, to produce what moto cannot: throttling, IAM
//! propagation delays, a Firehose stream that fails to create.
//!
//! It also papers over the places where moto answers differently from AWS, so product code never has to:
//! - GetBucketNotificationConfiguration on a bucket without one: moto answers an empty body, AWS an empty
//!   `<NotificationConfiguration/>` document (the Rust SDK rejects the empty body).
//! - EKS UpdateClusterConfig: moto answers with the cluster, AWS with an update id to wait on; and moto has
//!   no DescribeUpdate, which the proxy answers itself (every update has succeeded).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

/// One call the product made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `Action=` of query APIs, the `X-Amz-Target` operation of JSON APIs, or `METHOD path?subresource` for REST.
    pub operation: String,
    pub write: bool,
}

/// A request as the product sent it, whole: for tests that look into it (which resource, which role passed).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Rewrites a successful response body.
pub type Rewrite = Arc<dyn Fn(&str) -> String + Send + Sync>;

#[derive(Clone)]
enum FaultKind {
    /// Answer with an AWS error instead of forwarding.
    Error { status: u16, code: String, message: String },
    /// Forward, then rewrite a 200 answer's body.
    Rewrite(Rewrite),
}

/// A fault injected into the calls of one operation.
#[derive(Clone)]
pub struct Fault {
    operation: String,
    remaining: Option<usize>,
    kind: FaultKind,
}

impl Fault {
    /// Answers `operation` (an API name such as `CreateDeliveryStream`, or `METHOD /path` prefix for REST) with
    /// the AWS error `code` and `message`, shaped the way the service's protocol shapes errors.
    pub fn error(operation: &str, status: u16, code: &str, message: &str) -> Fault {
        Fault {
            operation: operation.to_string(),
            remaining: None,
            kind: FaultKind::Error { status, code: code.to_string(), message: message.to_string() },
        }
    }

    /// AWS's throttling answer for `operation`.
    pub fn throttle(operation: &str) -> Fault {
        Fault::error(operation, 400, "ThrottlingException", "Rate exceeded")
    }

    /// Rewrites the body of `operation`'s successful answers.
    pub fn rewrite(operation: &str, f: impl Fn(&str) -> String + Send + Sync + 'static) -> Fault {
        Fault { operation: operation.to_string(), remaining: None, kind: FaultKind::Rewrite(Arc::new(f)) }
    }

    /// Only the first `n` matching calls (every call when not set).
    pub fn times(mut self, n: usize) -> Fault {
        self.remaining = Some(n);
        self
    }

    fn matches(&self, operation: &str) -> bool {
        self.remaining != Some(0)
            && (operation == self.operation || (self.operation.contains(' ') && operation.starts_with(&self.operation)))
    }
}

/// A proxy that forwards to `upstream` and records every call, stopped when dropped.
pub struct Recorder {
    port: u16,
    calls: Arc<Mutex<Vec<(Call, Request)>>>,
    faults: Arc<Mutex<Vec<Fault>>>,
    listener: TcpListener,
}

impl Recorder {
    pub fn start(upstream_port: u16) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind recorder");
        let port = listener.local_addr().expect("addr").port();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let faults = Arc::new(Mutex::new(Vec::new()));
        let accept = listener.try_clone().expect("clone listener");
        let (sink, rules) = (Arc::clone(&calls), Arc::clone(&faults));
        thread::spawn(move || {
            for conn in accept.incoming() {
                let Ok(conn) = conn else { break };
                let (sink, rules) = (Arc::clone(&sink), Arc::clone(&rules));
                thread::spawn(move || {
                    let _ = forward(conn, upstream_port, &sink, &rules);
                });
            }
        });
        Recorder { port, calls, faults, listener }
    }

    /// Adds a fault; the first matching fault with calls left applies to each call.
    pub fn inject(&self, fault: Fault) {
        self.faults.lock().expect("faults").push(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.faults.lock().expect("faults").clear();
    }

    /// How many calls of `operation` were made (faulted ones included).
    pub fn count(&self, operation: &str) -> usize {
        self.calls().iter().filter(|c| c.operation == operation).count()
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls").iter().map(|(c, _)| c.clone()).collect()
    }

    /// Every request since the last reset, whole.
    pub fn requests(&self) -> Vec<Request> {
        self.calls.lock().expect("calls").iter().map(|(_, r)| r.clone()).collect()
    }

    pub fn writes(&self) -> Vec<String> {
        self.calls().into_iter().filter(|c| c.write).map(|c| c.operation).collect()
    }

    pub fn reads(&self) -> Vec<String> {
        self.calls().into_iter().filter(|c| !c.write).map(|c| c.operation).collect()
    }

    pub fn reset(&self) {
        self.calls.lock().expect("calls").clear();
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // Unblock the accept loop so its thread ends.
        let _ = self.listener.set_nonblocking(true);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn read_head(reader: &mut impl BufRead) -> std::io::Result<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            return Ok(lines);
        }
        lines.push(line);
    }
}

fn header<'a>(head: &'a [String], name: &str) -> Option<&'a str> {
    head.iter().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The body as sent, chunked encoding included.
fn read_body(reader: &mut impl BufRead, head: &[String]) -> std::io::Result<Vec<u8>> {
    if let Some(len) = header(head, "content-length").and_then(|l| l.parse::<usize>().ok()) {
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        return Ok(body);
    }
    let mut body = Vec::new();
    if header(head, "transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            body.extend_from_slice(size_line.as_bytes());
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            if size == 0 {
                break;
            }
        }
    }
    Ok(body)
}

/// Writes a response with a correct length and `Connection: close`.
fn write_response(client: &mut TcpStream, head: &[String], body: &[u8]) -> std::io::Result<()> {
    let mut out = Vec::new();
    for (i, line) in head.iter().enumerate() {
        let name = line.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
        if i > 0 && matches!(name.as_str(), "connection" | "content-length" | "transfer-encoding") {
            continue;
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    client.write_all(&out)
}

/// EKS's DescribeUpdate, which moto lacks: every update it reports has succeeded.
fn answer_locally(method: &str, target: &str) -> Option<String> {
    let path = target.split('?').next().unwrap_or(target);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if method == "GET" && parts.len() == 4 && parts[0] == "clusters" && parts[2] == "updates" {
        return Some(format!(
            r#"{{"update":{{"id":"{}","status":"Successful","type":"LoggingUpdate","params":[],"errors":[]}}}}"#,
            parts[3]
        ));
    }
    None
}

/// Rewrites moto's answers where they differ from AWS's.
fn emulate(method: &str, target: &str, head: &mut Vec<String>, body: &mut Vec<u8>) {
    let ok = head.first().is_some_and(|l| l.contains(" 200 "));
    if method == "GET" && target.ends_with("?notification") && ok && body.is_empty() {
        *body = br#"<?xml version="1.0" encoding="UTF-8"?><NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#.to_vec();
        set_content_type(head, "application/xml");
    }
    // moto answers UpdateClusterConfig with the cluster; EKS with an update to wait on.
    let path = target.split('?').next().unwrap_or(target);
    if method == "POST" && path.starts_with("/clusters/") && path.ends_with("/update-config") && ok {
        let id = format!(
            "{:032x}",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
        );
        *body = format!(
            r#"{{"update":{{"id":"{id}","status":"InProgress","type":"LoggingUpdate","params":[],"errors":[]}}}}"#
        )
        .into_bytes();
        set_content_type(head, "application/json");
    }
}

fn set_content_type(head: &mut Vec<String>, value: &str) {
    head.retain(|l| !l.to_ascii_lowercase().starts_with("content-type:"));
    head.push(format!("Content-Type: {value}"));
}

/// Names the operation and whether it changes anything.
pub fn classify(method: &str, target: &str, amz_target: Option<&str>, body: &[u8]) -> Call {
    let read_name = |op: &str| ["Get", "List", "Describe", "Head"].iter().any(|p| op.starts_with(p));
    if let Some(t) = amz_target {
        let op = t.rsplit('.').next().unwrap_or(t).to_string();
        return Call { write: !read_name(&op), operation: op };
    }
    let text = String::from_utf8_lossy(body);
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    for part in text.split('&').chain(query.split('&')) {
        if let Some(action) = part.strip_prefix("Action=") {
            return Call { write: !read_name(action), operation: action.to_string() };
        }
    }
    // REST APIs (S3, EKS): the method says it.
    let write = !matches!(method, "GET" | "HEAD");
    Call { operation: format!("{method} {target}"), write }
}

/// Takes one use of the first fault matching `operation`.
fn take_fault(faults: &Mutex<Vec<Fault>>, operation: &str) -> Option<FaultKind> {
    let mut faults = faults.lock().expect("faults");
    let fault = faults.iter_mut().find(|f| f.matches(operation))?;
    // A rewrite is used up only when it rewrites (see `use_rewrite`).
    if let (FaultKind::Error { .. }, Some(n)) = (&fault.kind, fault.remaining.as_mut()) {
        *n -= 1;
    }
    Some(fault.kind.clone())
}

/// Counts one use of the first rewrite matching `operation`.
fn use_rewrite(faults: &Mutex<Vec<Fault>>, operation: &str) {
    let mut faults = faults.lock().expect("faults");
    let rewrite = faults.iter_mut().find(|f| f.matches(operation) && matches!(f.kind, FaultKind::Rewrite(_)));
    if let Some(n) = rewrite.and_then(|f| f.remaining.as_mut()) {
        *n -= 1;
    }
}

/// An AWS error in the shape of the request's protocol: JSON 1.1 (`X-Amz-Target`), query (`Action=`), REST-JSON
/// (EKS) or REST-XML (S3).
fn error_response(
    target: &str,
    amz_target: Option<&str>,
    query_api: bool,
    status: u16,
    code: &str,
    message: &str,
) -> (Vec<String>, Vec<u8>) {
    let status_line =
        format!("HTTP/1.1 {status} {}", if status >= 500 { "Service Unavailable" } else { "Bad Request" });
    let xml_escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    if amz_target.is_some() {
        let body = serde_json::json!({"__type": code, "message": message}).to_string();
        return (vec![status_line, "Content-Type: application/x-amz-json-1.1".into()], body.into_bytes());
    }
    if query_api {
        let body = format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>fault</RequestId></ErrorResponse>",
            xml_escape(message)
        );
        return (vec![status_line, "Content-Type: text/xml".into()], body.into_bytes());
    }
    if target.starts_with("/clusters") {
        let body = serde_json::json!({"message": message}).to_string();
        return (
            vec![status_line, "Content-Type: application/json".into(), format!("x-amzn-ErrorType: {code}")],
            body.into_bytes(),
        );
    }
    let body = format!("<Error><Code>{code}</Code><Message>{}</Message></Error>", xml_escape(message));
    (vec![status_line, "Content-Type: application/xml".into()], body.into_bytes())
}

fn forward(
    client: TcpStream,
    upstream_port: u16,
    calls: &Mutex<Vec<(Call, Request)>>,
    faults: &Mutex<Vec<Fault>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let head = read_head(&mut reader)?;
    let mut parts = head.first().map(|l| l.split(' ')).into_iter().flatten();
    let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let mut client_w = client.try_clone()?;
    if header(&head, "expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
        client_w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = read_body(&mut reader, &head)?;
    let call = classify(&method, &target, header(&head, "x-amz-target"), &body);
    let fault = take_fault(faults, &call.operation);
    let query_api = String::from_utf8_lossy(&body).contains("Action=") || target.contains("Action=");
    let operation = call.operation.clone();
    let request = Request {
        method: method.clone(),
        target: target.clone(),
        headers: head
            .iter()
            .skip(1)
            .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
            .collect(),
        body: body.clone(),
    };
    calls.lock().expect("calls").push((call, request));
    let mut rewrite = None;
    match fault {
        Some(FaultKind::Error { status, code, message }) => {
            let (head, body) =
                error_response(&target, header(&head, "x-amz-target"), query_api, status, &code, &message);
            write_response(&mut client_w, &head, &body)?;
            let _ = client_w.shutdown(std::net::Shutdown::Both);
            return Ok(());
        }
        Some(FaultKind::Rewrite(f)) => rewrite = Some(f),
        None => {}
    }
    if let Some(answer) = answer_locally(&method, &target) {
        let head = vec!["HTTP/1.1 200 OK".to_string(), "Content-Type: application/json".to_string()];
        write_response(&mut client_w, &head, answer.as_bytes())?;
        let _ = client_w.shutdown(std::net::Shutdown::Both);
        return Ok(());
    }

    let mut upstream = TcpStream::connect(("127.0.0.1", upstream_port))?;
    let mut out = Vec::new();
    out.extend_from_slice(head[0].as_bytes());
    out.extend_from_slice(b"\r\n");
    for line in head.iter().skip(1) {
        let name = line.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
        if name == "connection" || name == "expect" {
            continue;
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&body);
    upstream.write_all(&out)?;

    let mut response = BufReader::new(upstream);
    let mut head = read_head(&mut response)?;
    let mut body = Vec::new();
    response.read_to_end(&mut body)?;
    emulate(&method, &target, &mut head, &mut body);
    if let Some(f) = rewrite.filter(|_| head.first().is_some_and(|l| l.contains(" 200 "))) {
        use_rewrite(faults, &operation);
        body = f(&String::from_utf8_lossy(&body)).into_bytes();
    }
    write_response(&mut client_w, &head, &body)?;
    client_w.flush()?;
    let _ = client_w.shutdown(std::net::Shutdown::Both);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_protocol() {
        assert_eq!(
            classify("POST", "/", None, b"Action=GetRole&RoleName=x"),
            Call { operation: "GetRole".into(), write: false }
        );
        assert!(classify("POST", "/", None, b"Action=CreateRole&RoleName=x").write);
        assert!(!classify("POST", "/", Some("Firehose_20150804.DescribeDeliveryStream"), b"{}").write);
        assert!(classify("POST", "/", Some("Logs_20140328.PutSubscriptionFilter"), b"{}").write);
        assert!(!classify("GET", "/bucket?tagging", None, b"").write);
        assert!(!classify("HEAD", "/bucket", None, b"").write);
        assert!(classify("PUT", "/bucket?policy", None, b"{}").write);
        assert!(classify("POST", "/clusters/x/update-config", None, b"{}").write);
    }
}
