//! One request, one transaction.
//!
//! A mutation runs inside a [`Scope`]: the first transaction its code begins (with
//! [`Db::begin`], anywhere below the handler) begins the request's transaction, and every
//! transaction begun after it in the same request is a savepoint in that one. The transaction
//! commits once, after the handler has answered, together with what the API layer writes last
//! (the idempotency record); a server error or a dropped request rolls all of it back. So a
//! request's work, its idempotency record and the documents it creates commit together or not
//! at all, and domain code does not need to know whether it runs in a request.
//!
//! The scope lives in a task-local, so tasks spawned by a request (the print worker, the scan
//! log writer) keep their own transactions.

use std::sync::{Arc, Mutex as StdMutex};

use tokio::sync::{Mutex, OwnedMutexGuard};

use super::{Conn, Db, Tx};
use crate::error::{Error, Result};

tokio::task_local! {
    static REQUEST: Scope;
}

/// The savepoint of the part of the request's transaction that is running.
const PART: &str = "request_part";

/// What a request is doing with its database: see the module's documentation.
#[derive(Clone)]
pub struct Scope(Arc<ScopeInner>);

struct ScopeInner {
    db: Db,
    slot: Arc<Mutex<Slot>>,
    /// Set by [`discard`]: the request's work rolls back even though it answers, and only its
    /// idempotency record commits.
    discarded: std::sync::atomic::AtomicBool,
    after_commit: StdMutex<Vec<Box<dyn FnOnce() + Send>>>,
}

/// The request's transaction, once begun.
pub struct Slot {
    tx: Option<Tx>,
    /// A part was dropped without being released: its work is rolled back before the
    /// transaction is used again (Drop cannot run statements).
    abandoned: Option<Abandoned>,
}

#[derive(Clone, Copy)]
enum Abandoned {
    /// A part within the transaction: back to its savepoint.
    Part,
    /// The part that began the transaction: nothing came before it, so the whole transaction.
    First,
}

pub type SlotGuard = OwnedMutexGuard<Slot>;

impl Slot {
    pub fn conn(&mut self) -> Conn<'_> {
        self.tx
            .as_mut()
            .expect("a slot is only handed out with its transaction")
            .conn()
    }

    async fn settle(&mut self) -> Result<()> {
        match (self.abandoned.take(), self.tx.as_mut()) {
            (Some(Abandoned::Part), Some(tx)) => {
                tx.execute(&format!("rollback to savepoint {PART}")).await?;
                tx.execute(&format!("release savepoint {PART}")).await?;
            }
            // Dropping a transaction rolls it back.
            (Some(Abandoned::First), _) => self.tx = None,
            _ => {}
        }
        Ok(())
    }
}

/// A part of the request's transaction, handed out as a [`Tx`]. The part that begins the
/// transaction needs no savepoint (two statements fewer on the hot path of a request that
/// writes once); every later one has its own.
pub struct Part {
    slot: SlotGuard,
    savepoint: bool,
    released: bool,
}

impl Part {
    pub fn conn(&mut self) -> Conn<'_> {
        self.slot.conn()
    }

    pub async fn release(mut self) -> Result<()> {
        self.released = true;
        match self.slot.tx.as_mut() {
            Some(tx) if self.savepoint => tx.execute(&format!("release savepoint {PART}")).await,
            _ => Ok(()),
        }
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        if !self.released {
            self.slot.abandoned = Some(if self.savepoint {
                Abandoned::Part
            } else {
                Abandoned::First
            });
        }
    }
}

pub(super) enum Want {
    /// A transaction to write in: begins the request's transaction if need be.
    Write,
    /// A consistent read: through the request's transaction only if it has begun.
    Read,
}

fn current(db: &Db) -> Option<Scope> {
    REQUEST
        .try_with(|scope| scope.clone())
        .ok()
        .filter(|scope| Arc::ptr_eq(&scope.0.db.backend, &db.backend))
}

/// A part of the running request's transaction, or `None` outside a request (and, for reads,
/// before the request has written).
pub(super) async fn part(db: &Db, want: Want) -> Result<Option<Part>> {
    let Some(scope) = current(db) else {
        return Ok(None);
    };
    // The slot is only ever held by this request's own task: taken means a part of the
    // request's transaction is held further up this very call stack.
    let Ok(mut slot) = scope.0.slot.clone().try_lock_owned() else {
        return match want {
            // A consistent read beside a held part reads the committed state, as before.
            Want::Read => Ok(None),
            Want::Write => Err(nested()),
        };
    };
    slot.settle().await?;
    let savepoint = match (&mut slot.tx, want) {
        (None, Want::Read) => return Ok(None),
        (None, Want::Write) => {
            slot.tx = Some(db.begin_own().await?);
            false
        }
        (Some(tx), _) => {
            tx.execute(&format!("savepoint {PART}")).await?;
            true
        }
    };
    Ok(Some(Part {
        slot,
        savepoint,
        released: false,
    }))
}

/// The request's transaction to read through, when the request has written.
pub(super) async fn reading_slot(db: &Db) -> Result<Option<SlotGuard>> {
    let Some(scope) = current(db) else {
        return Ok(None);
    };
    // Taken means a part of the request's transaction is held further up this call stack (a
    // read while writing): that read goes to the pool, as reads did before requests had one
    // transaction, and does not see the part's uncommitted writes.
    let Ok(mut slot) = scope.0.slot.clone().try_lock_owned() else {
        return Ok(None);
    };
    if slot.tx.is_none() {
        // Nothing of the request's own to see.
        return Ok(None);
    }
    slot.settle().await?;
    Ok(Some(slot))
}

fn nested() -> Error {
    Error::Internal(anyhow::anyhow!(
        "a transaction was begun (or a read run) while another part of the same request's \
         transaction was held: pass the `&mut Tx` down instead"
    ))
}

/// Keeps nothing the running request has written or will write, while it still answers (a
/// dry run; an import refused for its bad rows): its transaction rolls back at the end and
/// only its idempotency record commits. Outside a request there is nothing to discard: the
/// caller's own transactions are its own to drop.
pub fn discard(db: &Db) {
    if let Some(scope) = current(db) {
        scope
            .0
            .discarded
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Whether the running code is part of a request with its own transaction on `db`.
pub fn in_request(db: &Db) -> bool {
    current(db).is_some()
}

/// Runs `f` now, or, inside a request, once the request's transaction has committed (waking a
/// worker for a row the request wrote, say). Dropped if the request rolls back.
pub fn after_commit(db: &Db, f: impl FnOnce() + Send + 'static) {
    match current(db) {
        Some(scope) => scope
            .0
            .after_commit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(f)),
        None => f(),
    }
}

impl Scope {
    pub fn new(db: &Db) -> Scope {
        Scope(Arc::new(ScopeInner {
            db: db.clone(),
            slot: Arc::new(Mutex::new(Slot {
                tx: None,
                abandoned: None,
            })),
            after_commit: StdMutex::new(Vec::new()),
            discarded: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    /// Runs `work` (the handler) inside this scope.
    pub async fn run<F: std::future::Future>(&self, work: F) -> F::Output {
        REQUEST.scope(self.clone(), work).await
    }

    /// Ends the request: runs `last` in the request's transaction (beginning one if the request
    /// wrote nothing and `always_write` says `last` must write) and commits when it answers
    /// true, then runs the after-commit hooks. When `last` answers false or fails, everything
    /// rolls back. Answers whether the request's work committed.
    pub async fn commit(
        self,
        always_write: bool,
        last: impl AsyncFnOnce(&mut Tx) -> Result<bool>,
    ) -> Result<bool> {
        let mut slot = self.0.slot.clone().lock_owned().await;
        slot.settle().await?;
        if self.0.discarded.load(std::sync::atomic::Ordering::SeqCst) {
            // Dropping the transaction rolls the work back; what `last` writes goes alone.
            slot.tx = None;
            self.0
                .after_commit
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
        }
        let tx = match slot.tx.take() {
            Some(tx) => Some(tx),
            None if always_write => Some(self.0.db.begin_own().await?),
            None => None,
        };
        drop(slot);
        if let Some(mut tx) = tx {
            if !last(&mut tx).await? {
                return Ok(false);
            }
            tx.commit().await?;
        }
        let hooks = std::mem::take(
            &mut *self
                .0
                .after_commit
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for hook in hooks {
            hook();
        }
        Ok(true)
    }

    /// Ends the request without keeping anything it wrote.
    pub async fn rollback(self) {
        // Dropping the transaction rolls it back.
        let tx = self.0.slot.lock().await.tx.take();
        drop(tx);
    }
}
