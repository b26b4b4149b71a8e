//! [`Decoder`]: the bounded pool of decode workers (processes, or threads as a fallback).

use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::engine::decode_bytes_detailed;
use super::raster;
use super::worker::{
    self, HELLO, Hello, MAX_JSON_FRAME, PROTOCOL, Reply, Request, WORKER_ENV, WORKER_ENV_VALUE,
};
use super::{DecodeError, DecodeOptions, DecodedCode};

/// Requests that may wait for a worker, per worker, before [`DecodeError::Busy`].
pub const DEFAULT_QUEUE_PER_WORKER: usize = 4;
/// How long a new worker process may take to say hello.
const SPAWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Which backend a [`Decoder`] runs decodes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecoderMode {
    /// Persistent worker processes running this executable.
    Process { exe: PathBuf },
    /// tokio's blocking threads (no hard kill on timeout).
    InThread,
}

/// Counters since the decoder was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// Decodes that produced an answer (codes or an image error) from a worker.
    pub completed: u64,
    /// Worker processes started.
    pub spawned: u64,
    /// Worker processes killed or lost (timeouts, crashes, cancelled requests).
    pub killed: u64,
    pub timeouts: u64,
    pub busy: u64,
    /// Worker processes that died while decoding (crash, abort, watchdog).
    pub crashes: u64,
    /// rxing panics caught (the image then decodes to no codes).
    pub rxing_panics: u64,
    /// Worker processes alive right now (idle or busy).
    pub live_workers: u64,
}

#[derive(Default)]
struct Counters {
    completed: AtomicU64,
    spawned: AtomicU64,
    killed: AtomicU64,
    timeouts: AtomicU64,
    busy: AtomicU64,
    crashes: AtomicU64,
    rxing_panics: AtomicU64,
    live: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The decode service: bounded workers, a bounded queue, a time budget per decode, and
/// panic/crash isolation. Cheap to clone (one shared pool); create once at startup.
#[derive(Clone)]
pub struct Decoder {
    inner: Arc<Inner>,
}

struct Inner {
    mode: DecoderMode,
    workers: usize,
    max_waiting: AtomicUsize,
    /// Requests admitted (waiting or running).
    admitted: AtomicUsize,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<WorkerProcess>>,
    /// Signalled when a worker is put back idle (or a background spawn gave up).
    idle_ready: Notify,
    /// Background replacement spawns in flight.
    spawning: AtomicUsize,
    counters: Counters,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("mode", &self.inner.mode)
            .field("workers", &self.inner.workers)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Decoder {
    /// `workers` concurrent decodes (at least 1). Uses worker processes when this executable
    /// registered the worker entry ([`run_worker_if_requested`](super::run_worker_if_requested)
    /// in `main`), otherwise in-thread decoding.
    pub fn new(workers: usize) -> Decoder {
        if worker::worker_entry_registered() {
            match std::env::current_exe() {
                Ok(exe) => return Decoder::build(workers, DecoderMode::Process { exe }),
                Err(e) => tracing::warn!(error = %e, "current_exe unavailable; decoding in-thread"),
            }
        }
        Decoder::in_thread(workers)
    }

    /// Worker processes running `exe`, which must call
    /// [`run_worker_if_requested`](super::run_worker_if_requested) first thing (the `depot`
    /// binary does; integration tests pass `env!("CARGO_BIN_EXE_depot")`).
    pub fn with_worker_exe(workers: usize, exe: impl AsRef<Path>) -> Decoder {
        Decoder::build(
            workers,
            DecoderMode::Process {
                exe: exe.as_ref().to_path_buf(),
            },
        )
    }

    /// Decoding on tokio's blocking threads: same limits, but a decode that never returns
    /// keeps its thread and its permit.
    pub fn in_thread(workers: usize) -> Decoder {
        Decoder::build(workers, DecoderMode::InThread)
    }

    fn build(workers: usize, mode: DecoderMode) -> Decoder {
        let workers = workers.max(1);
        Decoder {
            inner: Arc::new(Inner {
                mode,
                workers,
                max_waiting: AtomicUsize::new(workers * DEFAULT_QUEUE_PER_WORKER),
                admitted: AtomicUsize::new(0),
                permits: Arc::new(Semaphore::new(workers)),
                idle: Mutex::new(Vec::with_capacity(workers)),
                idle_ready: Notify::new(),
                spawning: AtomicUsize::new(0),
                counters: Counters::default(),
            }),
        }
    }

    /// Sets how many requests may wait for a worker before [`DecodeError::Busy`] (default
    /// [`DEFAULT_QUEUE_PER_WORKER`] per worker). 0 = refuse when all workers are busy.
    pub fn with_queue_limit(self, waiting: usize) -> Decoder {
        self.inner.max_waiting.store(waiting, Ordering::Relaxed);
        self
    }

    pub fn mode(&self) -> &DecoderMode {
        &self.inner.mode
    }

    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    pub fn stats(&self) -> DecoderStats {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        DecoderStats {
            completed: get(&c.completed),
            spawned: get(&c.spawned),
            killed: get(&c.killed),
            timeouts: get(&c.timeouts),
            busy: get(&c.busy),
            crashes: get(&c.crashes),
            rxing_panics: get(&c.rxing_panics),
            live_workers: get(&c.live),
        }
    }

    /// Starts all worker processes now (call once at startup) instead of on first use, and
    /// checks that the executable answers as a worker. No-op in-thread.
    pub async fn warm_up(&self) -> Result<(), DecodeError> {
        let DecoderMode::Process { exe } = &self.inner.mode else {
            return Ok(());
        };
        loop {
            if self.idle_len() >= self.inner.workers {
                return Ok(());
            }
            let worker = WorkerProcess::spawn(exe, &self.inner.counters).await?;
            self.inner.put_idle(worker);
        }
    }

    fn idle_len(&self) -> usize {
        self.inner
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Decodes every barcode in `image` (JPEG, PNG, WebP or BMP bytes).
    ///
    /// Header checks run on the caller's task; the pixel work runs in a worker within
    /// `options.budget`. Waiting for a free worker is limited to the same budget and to the
    /// queue limit, then [`DecodeError::Busy`].
    pub async fn decode<B>(
        &self,
        image: B,
        options: &DecodeOptions,
    ) -> Result<Vec<DecodedCode>, DecodeError>
    where
        B: AsRef<[u8]> + Send + Sync + 'static,
    {
        let info = raster::probe(image.as_ref())?;
        if image.as_ref().len() > worker::MAX_IMAGE_FRAME {
            return Err(DecodeError::TooLarge {
                w: info.width,
                h: info.height,
            });
        }
        let _admission = self.admit()?;
        let permit = match tokio::time::timeout(
            options.budget,
            Arc::clone(&self.inner.permits).acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => permit,
            Ok(Err(_closed)) => return Err(DecodeError::Internal("decoder closed".into())),
            Err(_elapsed) => {
                bump(&self.inner.counters.busy);
                return Err(DecodeError::Busy);
            }
        };
        match &self.inner.mode {
            DecoderMode::Process { exe } => {
                let exe = exe.clone();
                let result = self.decode_in_process(&exe, image.as_ref(), options).await;
                drop(permit);
                result
            }
            DecoderMode::InThread => self.decode_in_thread(permit, image, options).await,
        }
    }

    fn admit(&self) -> Result<Admission<'_>, DecodeError> {
        let limit = self.inner.workers + self.inner.max_waiting.load(Ordering::Relaxed);
        let admitted = &self.inner.admitted;
        admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .map_err(|_| {
                bump(&self.inner.counters.busy);
                DecodeError::Busy
            })?;
        Ok(Admission(admitted))
    }

    async fn decode_in_thread<B>(
        &self,
        permit: OwnedSemaphorePermit,
        image: B,
        options: &DecodeOptions,
    ) -> Result<Vec<DecodedCode>, DecodeError>
    where
        B: AsRef<[u8]> + Send + Sync + 'static,
    {
        let opts = options.clone();
        // The permit moves into the thread: a decode that outlives its budget still counts
        // against the pool until it really ends.
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            decode_bytes_detailed(image.as_ref(), &opts)
        });
        match tokio::time::timeout(options.budget, task).await {
            Ok(Ok(Ok(outcome))) => {
                bump(&self.inner.counters.completed);
                if let Some(msg) = outcome.rxing_panicked {
                    bump(&self.inner.counters.rxing_panics);
                    tracing::warn!(panic = %msg, "rxing panicked; reporting no codes");
                }
                Ok(outcome.codes)
            }
            Ok(Ok(Err(e))) => {
                bump(&self.inner.counters.completed);
                Err(e)
            }
            Ok(Err(join)) => Err(DecodeError::Internal(format!(
                "decode thread failed: {join}"
            ))),
            Err(_elapsed) => {
                bump(&self.inner.counters.timeouts);
                tracing::warn!(budget = ?options.budget, "in-thread decode timed out; thread keeps running");
                Err(DecodeError::Timeout)
            }
        }
    }

    async fn decode_in_process(
        &self,
        exe: &Path,
        image: &[u8],
        options: &DecodeOptions,
    ) -> Result<Vec<DecodedCode>, DecodeError> {
        let request = serde_json::to_vec(&Request {
            options: options.clone(),
        })
        .map_err(|e| DecodeError::Internal(format!("encoding request: {e}")))?;
        // One retry when the request could not even be handed over (an idle worker that had
        // died meanwhile); never after the worker has taken the image.
        for attempt in 0..2 {
            let worker = self.checkout(exe).await?;
            let mut lease = Lease {
                inner: &self.inner,
                worker: Some(worker),
            };
            let Some(w) = lease.worker.as_mut() else {
                return Err(DecodeError::Internal("worker lease empty".into()));
            };
            let outcome = tokio::time::timeout(options.budget, w.call(&request, image)).await;
            match outcome {
                Ok(Ok(reply)) => {
                    lease.release();
                    bump(&self.inner.counters.completed);
                    if let Some(msg) = reply.rxing_panic {
                        bump(&self.inner.counters.rxing_panics);
                        tracing::warn!(panic = %msg, "rxing panicked in decode worker; reporting no codes");
                    }
                    return reply.result;
                }
                Ok(Err(CallError::Send(e))) if attempt == 0 => {
                    tracing::debug!(error = %e, "idle decode worker was gone; retrying on a new one");
                    lease.discard().await;
                    continue;
                }
                Ok(Err(err)) => {
                    let status = lease.discard().await;
                    bump(&self.inner.counters.crashes);
                    self.inner.replenish();
                    tracing::warn!(error = %err, ?status, "decode worker failed mid-request");
                    return Err(match err {
                        CallError::Protocol(m) => DecodeError::Internal(m),
                        CallError::Send(_) | CallError::Receive(_) => {
                            DecodeError::Corrupt(format!(
                                "barcode decoder crashed on this image ({})",
                                describe(status)
                            ))
                        }
                    });
                }
                Err(_elapsed) => {
                    lease.discard().await;
                    bump(&self.inner.counters.timeouts);
                    self.inner.replenish();
                    tracing::warn!(budget = ?options.budget, "decode worker timed out; killed");
                    return Err(DecodeError::Timeout);
                }
            }
        }
        Err(DecodeError::Internal(
            "no decode worker could take the request".into(),
        ))
    }
}

impl Decoder {
    /// An idle worker; else the one a background spawn is about to deliver; else a new one.
    async fn checkout(&self, exe: &Path) -> Result<WorkerProcess, DecodeError> {
        loop {
            let notified = self.inner.idle_ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(w) = self.inner.take_idle() {
                return Ok(w);
            }
            if self.inner.spawning.load(Ordering::Acquire) == 0 {
                return WorkerProcess::spawn(exe, &self.inner.counters).await;
            }
            if tokio::time::timeout(SPAWN_TIMEOUT, notified).await.is_err() {
                return WorkerProcess::spawn(exe, &self.inner.counters).await;
            }
        }
    }
}

fn describe(status: Option<std::process::ExitStatus>) -> String {
    match status {
        Some(s) => s.to_string(),
        None => "exit status unknown".into(),
    }
}

impl Inner {
    fn take_idle(&self) -> Option<WorkerProcess> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(mut w) = idle.pop() {
            // Skip workers that died while idle (killed from outside, watchdog).
            match w.child.try_wait() {
                Ok(None) => return Some(w),
                _ => {
                    self.counters.live.fetch_sub(1, Ordering::Relaxed);
                    bump(&self.counters.killed);
                }
            }
        }
        None
    }

    fn put_idle(&self, worker: WorkerProcess) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.workers {
            idle.push(worker);
            drop(idle);
            self.idle_ready.notify_one();
        } else {
            drop(idle);
            self.counters.live.fetch_sub(1, Ordering::Relaxed);
            drop(worker); // kill_on_drop
        }
    }

    /// Starts a replacement worker in the background so the next request does not pay for
    /// the spawn. Needs a tokio runtime; without one the next request spawns lazily.
    fn replenish(self: &Arc<Self>) {
        let DecoderMode::Process { exe } = &self.mode else {
            return;
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).len();
        if idle + self.spawning.load(Ordering::Acquire) >= self.workers {
            return;
        }
        self.spawning.fetch_add(1, Ordering::AcqRel);
        let inner = Arc::clone(self);
        let exe = exe.clone();
        handle.spawn(async move {
            let spawned = WorkerProcess::spawn(&exe, &inner.counters).await;
            inner.spawning.fetch_sub(1, Ordering::AcqRel);
            match spawned {
                Ok(w) => inner.put_idle(w),
                Err(e) => {
                    tracing::warn!(error = %e, "could not start replacement decode worker");
                    // Waiters stop waiting for this one and start their own.
                    inner.idle_ready.notify_waiters();
                }
            }
        });
    }
}

/// Counts an admitted request until dropped.
struct Admission<'a>(&'a AtomicUsize);

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A worker checked out for one request. Dropped without [`Lease::release`] (the request's
/// future was cancelled, or it failed), the worker is killed: its pipe may hold half a
/// request or reply.
struct Lease<'a> {
    inner: &'a Arc<Inner>,
    worker: Option<WorkerProcess>,
}

impl Lease<'_> {
    fn release(&mut self) {
        if let Some(w) = self.worker.take() {
            self.inner.put_idle(w);
        }
    }

    /// Kills the worker and reaps it; returns its exit status if it had already exited.
    async fn discard(&mut self) -> Option<std::process::ExitStatus> {
        let mut w = self.worker.take()?;
        self.inner.counters.live.fetch_sub(1, Ordering::Relaxed);
        bump(&self.inner.counters.killed);
        let already = w.child.try_wait().ok().flatten();
        if already.is_none() {
            let _ = w.child.start_kill();
        }
        match tokio::time::timeout(Duration::from_secs(2), w.child.wait()).await {
            Ok(Ok(status)) => already.or(Some(status)),
            _ => already,
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(w) = self.worker.take() {
            self.inner.counters.live.fetch_sub(1, Ordering::Relaxed);
            bump(&self.inner.counters.killed);
            drop(w); // kill_on_drop; tokio reaps it in the background
            self.inner.replenish();
        }
    }
}

#[derive(Debug)]
enum CallError {
    /// The request could not be written: the worker was gone before it took the job.
    Send(io::Error),
    /// No reply: the worker died while decoding.
    Receive(io::Error),
    /// The worker answered something unexpected.
    Protocol(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Send(e) => write!(f, "sending to worker: {e}"),
            CallError::Receive(e) => write!(f, "reading from worker: {e}"),
            CallError::Protocol(m) => write!(f, "worker protocol: {m}"),
        }
    }
}

struct WorkerProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl WorkerProcess {
    async fn spawn(exe: &Path, counters: &Counters) -> Result<WorkerProcess, DecodeError> {
        let mut cmd = Command::new(exe);
        // Empty environment: the process that parses untrusted images sees no secrets.
        cmd.env_clear()
            .env(WORKER_ENV, WORKER_ENV_VALUE)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some(v) = std::env::var_os("RUST_BACKTRACE") {
            cmd.env("RUST_BACKTRACE", v);
        }
        let mut child = cmd.spawn().map_err(|e| {
            DecodeError::Internal(format!("starting decode worker {}: {e}", exe.display()))
        })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(DecodeError::Internal("decode worker pipes missing".into()));
        };
        let mut worker = WorkerProcess {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        };
        let hello = tokio::time::timeout(SPAWN_TIMEOUT, read_frame(&mut worker.stdout, 4096))
            .await
            .map_err(|_| {
                DecodeError::Internal(format!(
                    "{} did not answer as a decode worker within {SPAWN_TIMEOUT:?}",
                    exe.display()
                ))
            })?
            .map_err(|e| {
                DecodeError::Internal(format!(
                    "{} is not a decode worker (does its main call run_worker_if_requested?): {e}",
                    exe.display()
                ))
            })?;
        match serde_json::from_slice::<Hello>(&hello) {
            Ok(h) if h.hello == HELLO && h.protocol == PROTOCOL => {}
            _ => {
                return Err(DecodeError::Internal(format!(
                    "{} answered with an unknown worker protocol",
                    exe.display()
                )));
            }
        }
        bump(&counters.spawned);
        counters.live.fetch_add(1, Ordering::Relaxed);
        Ok(worker)
    }

    async fn call(&mut self, request: &[u8], image: &[u8]) -> Result<Reply, CallError> {
        async {
            write_frame(&mut self.stdin, request).await?;
            write_frame(&mut self.stdin, image).await?;
            self.stdin.flush().await
        }
        .await
        .map_err(CallError::Send)?;
        let payload = read_frame(&mut self.stdout, MAX_JSON_FRAME)
            .await
            .map_err(CallError::Receive)?;
        serde_json::from_slice(&payload).map_err(|e| CallError::Protocol(format!("bad reply: {e}")))
    }
}

async fn write_frame(out: &mut ChildStdin, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    let mut header = [0u8; 8];
    header[..4].copy_from_slice(worker::MAGIC);
    header[4..].copy_from_slice(&len.to_le_bytes());
    out.write_all(&header).await?;
    out.write_all(payload).await
}

async fn read_frame<R: AsyncRead + Unpin>(input: &mut R, max: usize) -> io::Result<Vec<u8>> {
    let mut header = [0u8; 8];
    input.read_exact(&mut header).await?;
    let len = worker::parse_header(&header, max)?;
    let mut payload = vec![0u8; len];
    input.read_exact(&mut payload).await?;
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn decoder_and_its_futures_can_be_used_from_axum_handlers() {
        assert_send_sync_clone::<Decoder>();
        let decoder = Decoder::in_thread(1);
        let options = DecodeOptions::default();
        let fut = decoder.decode(Vec::<u8>::new(), &options);
        assert_send(&fut);
        drop(fut);
        let worker = Decoder::with_worker_exe(1, "/nonexistent");
        let fut = worker.decode(bytes_like(), &options);
        assert_send(&fut);
    }

    fn bytes_like() -> std::sync::Arc<[u8]> {
        std::sync::Arc::from(&b"not an image"[..])
    }

    #[tokio::test]
    async fn queue_limit_refuses_with_busy() {
        // One worker, no queue: with the only permit taken, the next request is Busy at once.
        let decoder = Decoder::in_thread(1).with_queue_limit(0);
        let _held = Arc::clone(&decoder.inner.permits)
            .acquire_owned()
            .await
            .unwrap();
        decoder.inner.admitted.store(1, Ordering::SeqCst);
        let mut png = std::io::Cursor::new(Vec::new());
        image::GrayImage::from_pixel(64, 64, image::Luma([255]))
            .write_to(&mut png, image::ImageFormat::Png)
            .unwrap();
        let result = decoder
            .decode(png.into_inner(), &DecodeOptions::default())
            .await;
        assert_eq!(result, Err(DecodeError::Busy));
        assert_eq!(decoder.stats().busy, 1);
    }
}
