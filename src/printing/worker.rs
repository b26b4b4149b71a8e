//! The print worker: a task per Depot instance that sends due jobs.
//!
//! Woken on every submission (and polling every `Policy::poll`), it claims due jobs with a
//! conditional update and runs one attempt per job, several printers at once but one job per
//! printer at a time. A ZPL attempt: connect (timeout), send `~HS` and read the three status
//! lines (timeout: a printer in an error state does not answer `~HS` at all), refuse on
//! paper-out / pause / head-up / ribbon-out …, then write the payload once per copy and close.
//! A failed attempt is retried with backoff, and after `Policy::max_attempts` the job fails.

use std::collections::HashSet;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout, timeout_at};

use crate::auth::devices;
use crate::db::{Db, now};
use crate::printing::jobs::{self, Claimed};
use crate::printing::profiles::{Language, PrinterProfile};
use crate::printing::{Policy, Printing};

/// Jobs looked at per round.
const BATCH: i64 = 20;
/// How often jobs abandoned by a dead instance are looked for.
const STALE_CHECK: Duration = Duration::from_secs(30);

pub(crate) async fn run(printing: Printing, db: Db, mut stop: watch::Receiver<bool>) {
    let mut running: JoinSet<i64> = JoinSet::new();
    let mut busy: HashSet<i64> = HashSet::new();
    let mut last_stale_check: Option<Instant> = None;
    loop {
        if *stop.borrow() {
            break;
        }
        let policy = printing.policy();
        if last_stale_check.is_none_or(|t| t.elapsed() >= STALE_CHECK) {
            match jobs::requeue_stale(&db, policy.stale_after).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(
                    jobs = n,
                    "print jobs abandoned while sending were queued again"
                ),
                Err(e) => tracing::warn!(error = %e, "looking for abandoned print jobs failed"),
            }
            last_stale_check = Some(Instant::now());
        }
        while let Some(done) = running.try_join_next() {
            if let Ok(printer_id) = done {
                busy.remove(&printer_id);
            }
        }
        match jobs::due(&db, now(), BATCH).await {
            Ok(due) => {
                for (id, printer_id) in due {
                    if busy.contains(&printer_id) {
                        continue;
                    }
                    match jobs::claim(&db, id).await {
                        Ok(Some(job)) => {
                            busy.insert(printer_id);
                            let (printing, db) = (printing.clone(), db.clone());
                            running.spawn(async move {
                                attempt(&printing, &db, job).await;
                                printer_id
                            });
                        }
                        Ok(None) => {} // another instance took it
                        Err(e) => {
                            tracing::warn!(job = id, error = %e, "claiming a print job failed")
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "looking for due print jobs failed"),
        }
        tokio::select! {
            _ = printing.inner.wake.notified() => {}
            _ = tokio::time::sleep(policy.poll) => {}
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Ok(printer_id) = done {
                    busy.remove(&printer_id);
                }
            }
            _ = stop.changed() => {}
        }
    }
    // Let the attempts in progress record their outcome.
    while running.join_next().await.is_some() {}
}

/// One attempt at one claimed job, and its outcome recorded.
async fn attempt(printing: &Printing, db: &Db, job: Claimed) {
    let policy = printing.policy();
    let outcome = send(printing, db, &job, &policy).await;
    let recorded = match &outcome {
        Ok(()) => jobs::mark_done(db, job.id).await,
        Err(error) => {
            let retry_at =
                (job.attempts < policy.max_attempts).then(|| now() + policy.backoff(job.attempts));
            if retry_at.is_some() {
                tracing::info!(job = job.id, attempt = job.attempts, %error, "print attempt failed; will retry");
            } else {
                tracing::warn!(job = job.id, attempts = job.attempts, %error, "print job failed");
            }
            jobs::mark_failed(db, job.id, error, retry_at).await
        }
    };
    if let Err(e) = recorded {
        // The job stays `sending` and is queued again once it is stale.
        tracing::error!(job = job.id, error = %e, "recording a print outcome failed");
    }
}

async fn send(printing: &Printing, db: &Db, job: &Claimed, policy: &Policy) -> Result<(), String> {
    let printer = devices::get(db, job.printer_id)
        .await
        .map_err(|e| format!("printer {}: {e}", job.printer_id))?;
    if printer.revoked_at.is_some() {
        return Err(format!("printer {} is revoked", printer.id));
    }
    let profile: &PrinterProfile = printing
        .profiles()
        .get(&printer.profile)
        .ok_or_else(|| format!("unknown printer profile '{}'", printer.profile))?;
    match profile.printer.language {
        // The document is kept in the job: nothing to send.
        Language::Pdf => Ok(()),
        Language::Zpl => {
            let address = printer
                .address
                .as_deref()
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| format!("printer {} has no address", printer.id))?;
            let address = with_port(address, profile.printer.port);
            send_zpl(
                &address,
                &identified(&job.payload, job.id),
                job.copies,
                policy,
            )
            .await
        }
    }
}

/// The job's ZPL with a comment naming the job in each label format (`^FXdepot print job
/// <id>^FS` after every `^XA`). Delivery is at least once (a crash between the TCP write and
/// recording the job done sends it again), so whoever sees the printer's input can tell a
/// repeated job from a new one. Comments do not print.
pub fn identified(payload: &[u8], job_id: i64) -> Vec<u8> {
    let mark = format!("^XA^FXdepot print job {job_id}^FS");
    let mut out = Vec::with_capacity(payload.len() + 32);
    let mut rest = payload;
    while let Some(at) = rest.windows(3).position(|w| w == b"^XA") {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(mark.as_bytes());
        rest = &rest[at + 3..];
    }
    out.extend_from_slice(rest);
    out
}

/// `host` → `host:port`; an address that has a port keeps it (`[v6]:port` too).
pub fn with_port(address: &str, port: u16) -> String {
    let has_port = if let Some(rest) = address.strip_prefix('[') {
        rest.contains("]:")
    } else {
        address.matches(':').count() == 1
    };
    if has_port {
        address.to_string()
    } else if address.contains(':') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    }
}

/// Checks the printer's host status, then writes `payload` `copies` times.
pub async fn send_zpl(
    address: &str,
    payload: &[u8],
    copies: i64,
    policy: &Policy,
) -> Result<(), String> {
    let mut stream = match timeout(policy.connect_timeout, TcpStream::connect(address)).await {
        Err(_) => {
            return Err(format!(
                "printer at {address} is unreachable (connect timed out)"
            ));
        }
        Ok(Err(e)) => return Err(format!("printer at {address} is unreachable: {e}")),
        Ok(Ok(s)) => s,
    };
    let _ = stream.set_nodelay(true);
    let status = host_status(&mut stream, policy.status_timeout)
        .await
        .map_err(|e| format!("printer at {address}: {e}"))?;
    let problems = status.problems();
    if !problems.is_empty() {
        return Err(format!("printer reports {}", problems.join(", ")));
    }
    let write = async {
        for _ in 0..copies {
            stream.write_all(payload).await?;
        }
        stream.flush().await?;
        stream.shutdown().await
    };
    match timeout(policy.write_timeout, write).await {
        Err(_) => Err(format!("printer at {address}: sending the label timed out")),
        Ok(Err(e)) => Err(format!(
            "printer at {address}: sending the label failed: {e}"
        )),
        Ok(Ok(())) => Ok(()),
    }
}

const STX: u8 = 0x02;
const ETX: u8 = 0x03;

/// Sends `~HS` and reads the three `<STX>…<ETX>` lines.
async fn host_status(stream: &mut TcpStream, wait: Duration) -> Result<HostStatus, String> {
    let deadline = Instant::now() + wait;
    timeout_at(deadline, async {
        stream.write_all(b"~HS").await?;
        stream.flush().await
    })
    .await
    .map_err(|_| "sending ~HS timed out".to_string())?
    .map_err(|e| format!("sending ~HS failed: {e}"))?;
    let mut buf = Vec::with_capacity(128);
    let mut chunk = [0u8; 256];
    loop {
        if buf.iter().filter(|b| **b == ETX).count() >= 3 {
            break;
        }
        match timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => {
                return Err(
                    "printer did not answer ~HS (error state: media or ribbon out, \
                     head open, or similar)"
                        .into(),
                );
            }
            Ok(Err(e)) => return Err(format!("reading the ~HS answer failed: {e}")),
            Ok(Ok(0)) => return Err("printer closed the connection before answering ~HS".into()),
            Ok(Ok(n)) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > 4096 {
                    return Err("printer sent an unexpected answer to ~HS".into());
                }
            }
        }
    }
    HostStatus::parse(&buf)
}

/// The flags of a `~HS` answer that stop printing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HostStatus {
    pub paper_out: bool,
    pub paused: bool,
    pub buffer_full: bool,
    pub corrupt_ram: bool,
    pub under_temperature: bool,
    pub over_temperature: bool,
    pub head_up: bool,
    pub ribbon_out: bool,
}

impl HostStatus {
    /// Parses the three lines: line 1 `aaa,b,c,dddd,eee,f,g,h,iii,j,k,l` (b paper out, c
    /// pause, f buffer full, j corrupt RAM, k under-, l over-temperature); line 2
    /// `mmm,n,o,p,q,r,s,t,uuuuuuuu,v,www` (o head up, p ribbon out); line 3 `xxxx,y`.
    pub fn parse(answer: &[u8]) -> Result<HostStatus, String> {
        let mut lines = Vec::new();
        let mut rest = answer;
        while let Some(start) = rest.iter().position(|b| *b == STX) {
            let after = &rest[start + 1..];
            let Some(end) = after.iter().position(|b| *b == ETX) else {
                break;
            };
            lines.push(String::from_utf8_lossy(&after[..end]).into_owned());
            rest = &after[end + 1..];
        }
        let bad = || {
            format!(
                "unexpected ~HS answer: {:?}",
                String::from_utf8_lossy(answer)
            )
        };
        if lines.len() < 3 {
            return Err(bad());
        }
        let one: Vec<&str> = lines[0].split(',').map(str::trim).collect();
        let two: Vec<&str> = lines[1].split(',').map(str::trim).collect();
        if one.len() < 12 || two.len() < 4 {
            return Err(bad());
        }
        let flag = |v: &str| v == "1";
        Ok(HostStatus {
            paper_out: flag(one[1]),
            paused: flag(one[2]),
            buffer_full: flag(one[5]),
            corrupt_ram: flag(one[9]),
            under_temperature: flag(one[10]),
            over_temperature: flag(one[11]),
            head_up: flag(two[2]),
            ribbon_out: flag(two[3]),
        })
    }

    /// Conditions that keep the printer from printing, in words.
    pub fn problems(&self) -> Vec<&'static str> {
        [
            (self.paper_out, "paper out"),
            (self.paused, "paused"),
            (self.head_up, "head open"),
            (self.ribbon_out, "ribbon out"),
            (self.buffer_full, "receive buffer full"),
            (self.corrupt_ram, "corrupt RAM"),
            (self.under_temperature, "head under temperature"),
            (self.over_temperature, "head over temperature"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, what)| what)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &[u8] = b"\x02030,0,0,1245,000,0,0,0,000,0,0,0\x03\r\n\x02001,0,0,0,1,2,6,0,00000000,1,000\x03\r\n\x021234,0\x03\r\n";

    #[test]
    fn a_healthy_status_has_no_problems() {
        let s = HostStatus::parse(OK).unwrap();
        assert_eq!(s, HostStatus::default());
        assert!(s.problems().is_empty());
    }

    #[test]
    fn paper_out_pause_and_head_up_are_reported() {
        let s = HostStatus::parse(b"\x02030,1,1,1245,000,0,0,0,000,0,0,0\x03\r\n\x02001,0,1,0,1,2,6,0,00000000,1,000\x03\r\n\x021234,0\x03\r\n").unwrap();
        assert_eq!(s.problems(), vec!["paper out", "paused", "head open"]);
        assert!(HostStatus::parse(b"\x02garbage\x03").is_err());
    }

    #[test]
    fn every_label_format_names_its_job() {
        let two = b"^XA^FDone^FS^XZ\n^XA^FDtwo^FS^XZ";
        assert_eq!(
            String::from_utf8(identified(two, 42)).unwrap(),
            "^XA^FXdepot print job 42^FS^FDone^FS^XZ\n^XA^FXdepot print job 42^FS^FDtwo^FS^XZ"
        );
        assert_eq!(identified(b"~HS", 1), b"~HS");
    }

    #[test]
    fn addresses_get_the_default_port() {
        assert_eq!(with_port("10.0.0.5", 9100), "10.0.0.5:9100");
        assert_eq!(with_port("printer.local:6101", 9100), "printer.local:6101");
        assert_eq!(with_port("fe80::1", 9100), "[fe80::1]:9100");
        assert_eq!(with_port("[fe80::1]:9101", 9100), "[fe80::1]:9101");
    }
}
