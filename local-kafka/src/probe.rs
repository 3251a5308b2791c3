//! Readiness probes, written by hand so this crate needs no librdkafka and
//! no JVM round trip: Kafka's `Metadata` request, and ZooKeeper's `ruok`.
//!
//! An open port is not enough (a broker listens before it has registered
//! with the controller); a broker is ready when it answers `Metadata` and
//! the answer lists every broker of the cluster, which a KRaft controller
//! only does for brokers that registered and were unfenced.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const METADATA_KEY: i16 = 3;
/// The oldest `Metadata` version Kafka 4 still serves (KIP-896 removed
/// 0 to 3), and the newest without flexible (tagged) encoding.
const METADATA_VERSION: i16 = 4;
const CORRELATION_ID: i32 = 0x1d_b0_0c;
const CLIENT_ID: &[u8] = b"imdb-local-kafka";

/// A broker as the cluster's metadata lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// `node.id` (KRaft) or `broker.id` (ZooKeeper mode).
    pub id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
}

/// What a `Metadata` request without topics returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterMetadata {
    /// Live brokers.
    pub brokers: Vec<BrokerInfo>,
    /// The active controller's id (-1 when none is known).
    pub controller: i32,
}

/// Sends `Metadata` v4 for no topics to `addr`: the brokers the cluster
/// lists as alive, and its controller.
pub fn metadata(addr: SocketAddr, timeout: Duration) -> std::io::Result<ClusterMetadata> {
    // topics: an empty array (not null, which would mean every topic);
    // allow_auto_topic_creation: false.
    let body = [0, 0, 0, 0, 0];
    let response = exchange(addr, timeout, METADATA_KEY, METADATA_VERSION, &body)?;
    parse_metadata(&response)
}

fn parse_metadata(response: &[u8]) -> std::io::Result<ClusterMetadata> {
    let mut r = Reader(response);
    let _throttle_ms = r.i32()?;
    let count = r.i32()?;
    let count = usize::try_from(count).map_err(|_| invalid(format!("negative broker count {count}")))?;
    let mut brokers = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let id = r.i32()?;
        let host = r.string()?.unwrap_or_default();
        let port = r.i32()?;
        let _rack = r.string()?;
        brokers.push(BrokerInfo { id, host, port });
    }
    let _cluster_id = r.string()?;
    let controller = r.i32()?;
    brokers.sort_by_key(|b| b.id);
    Ok(ClusterMetadata { brokers, controller })
}

/// Asks ZooKeeper `ruok`; true when it answers `imok`.
pub fn zookeeper_ok(addr: SocketAddr, timeout: Duration) -> bool {
    let ask = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.write_all(b"ruok")?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        Ok(answer == b"imok")
    };
    ask().unwrap_or(false)
}

/// One request with header v1 (non-flexible) and its response body, after
/// the correlation id was checked.
fn exchange(addr: SocketAddr, timeout: Duration, key: i16, version: i16, body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;

    let mut request = Vec::with_capacity(32 + body.len());
    request.extend_from_slice(&key.to_be_bytes());
    request.extend_from_slice(&version.to_be_bytes());
    request.extend_from_slice(&CORRELATION_ID.to_be_bytes());
    request.extend_from_slice(&(CLIENT_ID.len() as i16).to_be_bytes());
    request.extend_from_slice(CLIENT_ID);
    request.extend_from_slice(body);
    let mut framed = (request.len() as i32).to_be_bytes().to_vec();
    framed.extend_from_slice(&request);
    stream.write_all(&framed)?;

    let mut size = [0u8; 4];
    stream.read_exact(&mut size)?;
    let size = i32::from_be_bytes(size);
    if !(4..=1 << 20).contains(&size) {
        return Err(invalid(format!("implausible response size {size}")));
    }
    let mut response = vec![0u8; size as usize];
    stream.read_exact(&mut response)?;
    let correlation = i32::from_be_bytes([response[0], response[1], response[2], response[3]]);
    if correlation != CORRELATION_ID {
        return Err(invalid(format!("correlation id {correlation} instead of {CORRELATION_ID}")));
    }
    response.drain(..4);
    Ok(response)
}

/// Big-endian reads with bounds checks: a short answer is an error, never a
/// panic.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> std::io::Result<&[u8]> {
        if self.0.len() < n {
            return Err(invalid(format!("response ends early ({} bytes left, {n} needed)", self.0.len())));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn i16(&mut self) -> std::io::Result<i16> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> std::io::Result<i32> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A nullable string: length -1 is null.
    fn string(&mut self) -> std::io::Result<Option<String>> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let bytes = self.take(len as usize)?;
        Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
    }
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(out: &mut Vec<u8>, s: Option<&str>) {
        match s {
            Some(s) => {
                out.extend_from_slice(&(s.len() as i16).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            None => out.extend_from_slice(&(-1i16).to_be_bytes()),
        }
    }

    /// A `Metadata` v4 response body as the protocol lays it out.
    fn response(brokers: &[(i32, &str, i32)], controller: i32) -> Vec<u8> {
        let mut out = 0i32.to_be_bytes().to_vec();
        out.extend_from_slice(&(brokers.len() as i32).to_be_bytes());
        for (id, host, port) in brokers {
            out.extend_from_slice(&id.to_be_bytes());
            string(&mut out, Some(host));
            out.extend_from_slice(&port.to_be_bytes());
            string(&mut out, None);
        }
        string(&mut out, Some("q1Sh-9_ISia_zwGINzRvyQ"));
        out.extend_from_slice(&controller.to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes());
        out
    }

    #[test]
    fn metadata_lists_brokers_in_id_order() {
        let body = response(&[(3, "127.0.0.1", 9094), (1, "127.0.0.1", 9092)], 2);
        let parsed = parse_metadata(&body).unwrap();
        assert_eq!(parsed.controller, 2);
        assert_eq!(parsed.brokers.iter().map(|b| (b.id, b.port)).collect::<Vec<_>>(), [(1, 9092), (3, 9094)]);
    }

    #[test]
    fn a_short_answer_is_an_error_not_a_panic() {
        let body = response(&[(1, "127.0.0.1", 9092)], 1);
        for cut in 0..body.len() - 4 {
            assert!(parse_metadata(&body[..cut]).is_err(), "cut at {cut}");
        }
    }
}
