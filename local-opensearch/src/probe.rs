//! Asking a node about its cluster: `GET /_cluster/health` over plain
//! HTTP/1.1 on a fresh connection (no client library: one request, a few
//! lines, and the launcher stays free of an async runtime).
//!
//! Contract: [`health`] returns the node's answer if it gave a 200 with a
//! JSON body, and an error saying what it got otherwise (refused, timed
//! out, another status: a node that is up but has no cluster manager yet
//! answers 503).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// What a node says of its cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// green, yellow or red.
    pub status: String,
    /// Nodes in the cluster, as this node sees it.
    pub nodes: u64,
}

/// `GET /_cluster/health` on the node at `addr`.
pub fn health(addr: SocketAddr, timeout: Duration) -> std::io::Result<Health> {
    let body = get(addr, "/_cluster/health", timeout)?;
    let json: serde_json::Value = serde_json::from_str(&body).map_err(std::io::Error::other)?;
    let status = json["status"].as_str().unwrap_or_default().to_owned();
    let nodes = json["number_of_nodes"].as_u64().unwrap_or(0);
    Ok(Health { status, nodes })
}

/// The body of a 200 answer to `GET path`.
pub fn get(addr: SocketAddr, path: &str, timeout: Duration) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(std::io::Error::other(format!("HTTP {status}: {}", body.chars().take(200).collect::<String>())));
    }
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return Ok(dechunk(body));
    }
    Ok(body.to_owned())
}

/// A chunked body's data.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk("5\r\n{\"a\":\r\n3\r\n 1}\r\n0\r\n\r\n"), "{\"a\": 1}");
    }

    #[test]
    fn a_closed_port_is_an_error() {
        let port = imdb_local_jvm::free_port().unwrap();
        assert!(health(SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_millis(500)).is_err());
    }
}
