//! Group commit on SQLite's one writer.
//!
//! SQLite lets one connection write at a time, so every write transaction in the process queues
//! for the one write connection. Committing each on its own makes every writer pay a commit
//! (the log frames of every page it touched) and a turn of its own. Instead, the write
//! connection keeps one transaction open for a group of writers: each writer works in a
//! savepoint of it, releases the savepoint when done and waits; a committer task commits the
//! group's transaction once the writers that queued behind it have had their turn, and answers
//! them all at once. A writer that fails or is dropped rolls back to its savepoint, so it undoes
//! only its own work. A writer is answered only after the commit that made its work durable, so
//! nothing is acknowledged that a crash could lose; when a group's commit fails, every writer in
//! it gets the error and nothing of the group stays.
//!
//! Writers that find no group open begin one and need no savepoint: nobody came before them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard, watch};

use crate::error::{Error, Result};

/// The savepoint each writer after the first works in.
const MEMBER: &str = "group_member";

/// What became of a group's transaction: `None` until it ends.
type Outcome = Option<std::result::Result<(), Arc<str>>>;

/// The write connection and the group transaction on it.
pub struct Lane {
    pool: SqlitePool,
    state: Arc<Mutex<State>>,
    /// Wakes the committer: a writer has finished its turn.
    finished: Notify,
    closed: AtomicBool,
}

struct State {
    /// Held from a group's begin to its end.
    conn: Option<PoolConnection<Sqlite>>,
    /// The open group: how its writers learn the outcome.
    group: Option<watch::Sender<Outcome>>,
    /// A writer was dropped mid-turn: its work is undone before the connection is used again
    /// (Drop cannot run statements).
    abandoned: Option<Abandoned>,
}

#[derive(Clone, Copy)]
enum Abandoned {
    /// Back to the writer's savepoint.
    Member,
    /// The writer that began the group: nobody else is in it, so the whole transaction.
    Group,
}

/// A writer's turn on the write connection, handed out as a [`super::Tx`].
pub struct Turn {
    lane: Arc<Lane>,
    state: Option<OwnedMutexGuard<State>>,
    savepoint: bool,
}

impl Lane {
    /// Starts the committer; both end when the lane is closed.
    pub fn start(pool: SqlitePool) -> Arc<Lane> {
        let lane = Arc::new(Lane {
            pool,
            state: Arc::new(Mutex::new(State {
                conn: None,
                group: None,
                abandoned: None,
            })),
            finished: Notify::new(),
            closed: AtomicBool::new(false),
        });
        tokio::spawn(committer(lane.clone()));
        lane
    }

    /// Waits for the write connection (after the writers queued before) and joins the open
    /// group, or begins one.
    pub async fn enter(self: &Arc<Lane>) -> Result<Turn> {
        let mut state = self.state.clone().lock_owned().await;
        state.settle().await?;
        if state.conn.is_none() {
            state.conn = Some(self.pool.acquire().await?);
        }
        let savepoint = match state.group {
            Some(_) => {
                state.execute(&format!("savepoint {MEMBER}")).await?;
                true
            }
            None => {
                // IMMEDIATE: the write lock now, so another process's commit cannot turn the
                // first write of the group into SQLITE_BUSY.
                state.execute("begin immediate").await?;
                state.group = Some(watch::Sender::new(None));
                false
            }
        };
        Ok(Turn {
            lane: self.clone(),
            state: Some(state),
            savepoint,
        })
    }

    /// Commits the open group, then gives the write connection back to its pool.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let mut state = self.state.lock().await;
        state.commit_group().await;
        state.conn = None;
        self.finished.notify_one();
    }
}

async fn committer(lane: Arc<Lane>) {
    loop {
        lane.finished.notified().await;
        if lane.closed.load(Ordering::SeqCst) {
            break;
        }
        // The lock is fair: the writers queued now have their turn first and join the group.
        lane.state.lock().await.commit_group().await;
    }
}

impl State {
    fn conn(&mut self) -> &mut SqliteConnection {
        self.conn
            .as_mut()
            .expect("a turn is only handed out with the connection")
    }

    async fn execute(&mut self, sql: &str) -> Result<()> {
        sqlx::query(sql).execute(self.conn()).await?;
        Ok(())
    }

    /// Undoes what a dropped writer left.
    async fn settle(&mut self) -> Result<()> {
        match self.abandoned.take() {
            Some(Abandoned::Member) => {
                let undone = async {
                    self.execute(&format!("rollback to savepoint {MEMBER}"))
                        .await?;
                    self.execute(&format!("release savepoint {MEMBER}")).await
                }
                .await;
                if let Err(e) = undone {
                    // Whatever SQLite left of the transaction cannot be trusted: end the group.
                    self.end_group(Err(e.to_string().into())).await;
                    return Err(e);
                }
            }
            Some(Abandoned::Group) => {
                self.end_group(Err("rolled back".into())).await;
            }
            None => {}
        }
        Ok(())
    }

    /// Commits the open group and tells its writers; on failure rolls it back and tells them
    /// that instead.
    async fn commit_group(&mut self) {
        if self.conn.is_none() {
            return;
        }
        if self.settle().await.is_err() {
            return;
        }
        if self.group.is_none() {
            return;
        }
        match self.execute("commit").await {
            Ok(()) => {
                if let Some(group) = self.group.take() {
                    group.send_replace(Some(Ok(())));
                }
                self.give_back();
            }
            Err(e) => {
                tracing::error!(error = %e, "group commit failed");
                self.end_group(Err(e.to_string().into())).await;
            }
        }
    }

    /// Rolls the group's transaction back and tells its writers `outcome`.
    async fn end_group(&mut self, outcome: std::result::Result<(), Arc<str>>) {
        if let Err(e) = self.execute("rollback").await {
            // "no transaction is active" when SQLite has rolled back by itself.
            tracing::debug!(error = %e, "rollback of a group");
        }
        if let Some(group) = self.group.take() {
            group.send_replace(Some(outcome));
        }
        self.give_back();
    }

    /// Between groups the connection goes back to its pool, so that whatever else uses the
    /// write pool directly (migrations, maintenance) takes its turn there.
    fn give_back(&mut self) {
        self.conn = None;
    }
}

impl Turn {
    pub fn conn(&mut self) -> &mut SqliteConnection {
        self.state
            .as_mut()
            .expect("a turn holds the connection until it ends")
            .conn()
    }

    /// Ends the turn keeping its work, and answers once the group's commit has made it durable.
    pub async fn commit(mut self) -> Result<()> {
        let mut state = self.state.take().expect("a turn ends once");
        if self.savepoint
            && let Err(e) = state.execute(&format!("release savepoint {MEMBER}")).await
        {
            state.abandoned = Some(Abandoned::Member);
            return Err(e);
        }
        let mut outcome = state
            .group
            .as_ref()
            .expect("a turn is taken in an open group")
            .subscribe();
        drop(state);
        self.lane.finished.notify_one();
        let ended = outcome
            .wait_for(Option::is_some)
            .await
            .map_err(|_| commit_failed("the committer stopped"))?
            .clone();
        match ended {
            Some(Err(e)) => Err(commit_failed(&e)),
            _ => Ok(()),
        }
    }
}

fn commit_failed(why: &str) -> Error {
    Error::Internal(anyhow::anyhow!(
        "the group commit of SQLite writes failed: {why}"
    ))
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(mut state) = self.state.take() {
            state.abandoned = Some(if self.savepoint {
                Abandoned::Member
            } else {
                Abandoned::Group
            });
            drop(state);
            // Nobody may come after it: the committer undoes it.
            self.lane.finished.notify_one();
        }
    }
}
