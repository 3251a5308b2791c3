//! A hand-written Kafka `ApiVersions` (v0) request: the readiness probe.
//!
//! An open port is not enough (the broker listens before its storage is
//! ready); a well-formed Kafka answer is. Writing the dozen bytes by hand
//! keeps this crate free of librdkafka.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const API_VERSIONS_KEY: i16 = 18;
const CORRELATION_ID: i32 = 0x1d_b0_0c;
const CLIENT_ID: &[u8] = b"imdb-local-broker";

/// Sends `ApiVersions` v0 to `addr` and returns how many API keys the broker
/// reported. Fails on any I/O error, a mismatched correlation id or a
/// non-zero error code.
pub fn api_versions(addr: SocketAddr, timeout: Duration) -> std::io::Result<usize> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;

    let mut body = Vec::with_capacity(32);
    body.extend_from_slice(&API_VERSIONS_KEY.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&CORRELATION_ID.to_be_bytes());
    body.extend_from_slice(&(CLIENT_ID.len() as i16).to_be_bytes());
    body.extend_from_slice(CLIENT_ID);
    let mut request = (body.len() as i32).to_be_bytes().to_vec();
    request.extend_from_slice(&body);
    stream.write_all(&request)?;

    let mut size = [0u8; 4];
    stream.read_exact(&mut size)?;
    let size = i32::from_be_bytes(size);
    if !(10..=1 << 20).contains(&size) {
        return Err(invalid(format!("implausible response size {size}")));
    }
    let mut response = vec![0u8; size as usize];
    stream.read_exact(&mut response)?;
    let correlation = i32::from_be_bytes([response[0], response[1], response[2], response[3]]);
    if correlation != CORRELATION_ID {
        return Err(invalid(format!("correlation id {correlation} instead of {CORRELATION_ID}")));
    }
    let error_code = i16::from_be_bytes([response[4], response[5]]);
    if error_code != 0 {
        return Err(invalid(format!("error code {error_code}")));
    }
    let count = i32::from_be_bytes([response[6], response[7], response[8], response[9]]);
    usize::try_from(count).map_err(|_| invalid(format!("negative api count {count}")))
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}
