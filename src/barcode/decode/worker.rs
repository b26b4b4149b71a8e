//! The decode worker process: its entry point and the pipe protocol shared with the pool.
//!
//! Protocol (all frames are `b"DDW1"` + little-endian `u32` length + payload):
//! - worker → parent, once at start: JSON [`Hello`];
//! - parent → worker, per request: JSON [`Request`], then the raw image bytes;
//! - worker → parent, per request: JSON [`Reply`].
//!
//! The worker exits on end of input (parent gone or pool dropped it), on a protocol error,
//! and from its watchdog when one request overruns its budget by [`WORKER_WATCHDOG_GRACE`].

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::engine::decode_bytes_detailed;
use super::{DecodeError, DecodeOptions, DecodedCode};

/// Environment variable that turns the executable into a decode worker; its value must be
/// [`WORKER_ENV_VALUE`].
pub const WORKER_ENV: &str = "DEPOT_DECODE_WORKER";
pub(crate) const WORKER_ENV_VALUE: &str = "1";
/// How long past its budget a worker lets a request run before it exits by itself. The pool
/// kills it at the budget; this covers a parent that died mid-request.
pub const WORKER_WATCHDOG_GRACE: Duration = Duration::from_secs(5);

pub(crate) const MAGIC: &[u8; 4] = b"DDW1";
pub(crate) const PROTOCOL: u32 = 1;
pub(crate) const MAX_JSON_FRAME: usize = 4 * 1024 * 1024;
pub(crate) const MAX_IMAGE_FRAME: usize = 512 * 1024 * 1024;
/// Exit status of a worker stopped by its own watchdog.
pub(crate) const EXIT_WATCHDOG: i32 = 70;

static WORKER_ENTRY: AtomicBool = AtomicBool::new(false);

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Hello {
    pub hello: String,
    pub protocol: u32,
    pub pid: u32,
}

pub(crate) const HELLO: &str = "depot-decode-worker";

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Request {
    pub options: DecodeOptions,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Reply {
    pub result: Result<Vec<DecodedCode>, DecodeError>,
    /// rxing panicked on this image (the result is then empty).
    pub rxing_panic: Option<String>,
}

/// Call first thing in `main`: when the process was started as a decode worker
/// (`DEPOT_DECODE_WORKER=1`), serve requests on stdin/stdout and exit; otherwise record that
/// this executable can host workers (so [`Decoder::new`](super::Decoder::new) uses processes)
/// and return.
pub fn run_worker_if_requested() {
    if std::env::var_os(WORKER_ENV).is_some_and(|v| v == WORKER_ENV_VALUE) {
        std::process::exit(worker_main());
    }
    WORKER_ENTRY.store(true, Ordering::SeqCst);
}

/// Whether [`run_worker_if_requested`] ran in this process (and so `current_exe()` can be
/// re-executed as a worker).
pub fn worker_entry_registered() -> bool {
    WORKER_ENTRY.load(Ordering::SeqCst)
}

/// The worker loop; returns the process exit code.
pub fn worker_main() -> i32 {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let mut input = io::BufReader::with_capacity(256 * 1024, stdin.lock());
    let mut output = stdout.lock();
    let hello = Hello {
        hello: HELLO.to_owned(),
        protocol: PROTOCOL,
        pid: std::process::id(),
    };
    if write_json(&mut output, &hello).is_err() {
        return 1;
    }
    let watchdog = Watchdog::start();
    loop {
        let request: Request = match read_frame(&mut input, MAX_JSON_FRAME) {
            Ok(Some(bytes)) => match serde_json::from_slice(&bytes) {
                Ok(r) => r,
                Err(_) => return 2,
            },
            Ok(None) => return 0,
            Err(_) => return 2,
        };
        let image = match read_frame(&mut input, MAX_IMAGE_FRAME) {
            Ok(Some(bytes)) => bytes,
            _ => return 2,
        };
        watchdog.arm(request.options.budget.saturating_add(WORKER_WATCHDOG_GRACE));
        let reply = match decode_bytes_detailed(&image, &request.options) {
            Ok(outcome) => Reply {
                result: Ok(outcome.codes),
                rxing_panic: outcome.rxing_panicked,
            },
            Err(e) => Reply {
                result: Err(e),
                rxing_panic: None,
            },
        };
        drop(image);
        watchdog.disarm();
        if write_json(&mut output, &reply).is_err() {
            return 0;
        }
    }
}

/// Exits the process when an armed deadline passes.
struct Watchdog {
    state: Arc<(Mutex<Option<Instant>>, Condvar)>,
}

impl Watchdog {
    fn start() -> Watchdog {
        let state = Arc::new((Mutex::new(None::<Instant>), Condvar::new()));
        let shared = Arc::clone(&state);
        let spawned = std::thread::Builder::new()
            .name("decode-watchdog".into())
            .spawn(move || {
                let (lock, cvar) = &*shared;
                let mut deadline = lock.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    deadline = match *deadline {
                        None => cvar.wait(deadline).unwrap_or_else(|e| e.into_inner()),
                        Some(at) => {
                            let now = Instant::now();
                            if now >= at {
                                eprintln!(
                                    "depot decode worker: request overran its budget, exiting"
                                );
                                std::process::exit(EXIT_WATCHDOG);
                            }
                            cvar.wait_timeout(deadline, at - now)
                                .unwrap_or_else(|e| e.into_inner())
                                .0
                        }
                    };
                }
            });
        if spawned.is_err() {
            // Without a watchdog the pool's kill on timeout still applies.
            eprintln!("depot decode worker: could not start watchdog thread");
        }
        Watchdog { state }
    }

    fn arm(&self, after: Duration) {
        let (lock, cvar) = &*self.state;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now().checked_add(after);
        cvar.notify_one();
    }

    fn disarm(&self) {
        let (lock, cvar) = &*self.state;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = None;
        cvar.notify_one();
    }
}

fn write_json<W: Write, T: Serialize>(out: &mut W, value: &T) -> io::Result<()> {
    let json = serde_json::to_vec(value).map_err(io::Error::other)?;
    write_frame(out, &json)?;
    out.flush()
}

pub(crate) fn write_frame<W: Write>(out: &mut W, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    out.write_all(MAGIC)?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(payload)
}

/// Reads one frame; `Ok(None)` on a clean end of input before the frame starts.
pub(crate) fn read_frame<R: Read>(input: &mut R, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; 8];
    let mut filled = 0;
    while filled < header.len() {
        match input.read(&mut header[filled..]) {
            Ok(0) if filled == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = parse_header(&header, max)?;
    let mut payload = vec![0u8; len];
    input.read_exact(&mut payload)?;
    Ok(Some(payload))
}

pub(crate) fn parse_header(header: &[u8; 8], max: usize) -> io::Result<usize> {
    if &header[..4] != MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad frame magic",
        ));
    }
    let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_reject_garbage() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"hello").unwrap();
        write_frame(&mut buf, b"").unwrap();
        let mut r = io::Cursor::new(buf);
        assert_eq!(read_frame(&mut r, 10).unwrap().unwrap(), b"hello");
        assert_eq!(read_frame(&mut r, 10).unwrap().unwrap(), b"");
        assert!(read_frame(&mut r, 10).unwrap().is_none());

        let mut big = Vec::new();
        write_frame(&mut big, &[0u8; 11]).unwrap();
        assert!(read_frame(&mut io::Cursor::new(big), 10).is_err());
        assert!(read_frame(&mut io::Cursor::new(b"XXXX\0\0\0\0".to_vec()), 10).is_err());
        assert!(read_frame(&mut io::Cursor::new(b"DDW".to_vec()), 10).is_err());
    }
}
