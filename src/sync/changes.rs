//! The change feed: items (with their GTINs), aliases, locations, batches, printers and the
//! open pick lists of the reader, as changes in feed order, each answered with the entity's
//! current state (`upsert`) or `delete`.
//!
//! Triggers on the source tables insert a row into `sync_changes` in the writing transaction
//! (migration 0019), so no code path can forget a change. Such a row has no place in the feed
//! yet (`position` null): its id is taken at insert, and on PostgreSQL a transaction that took
//! id 41 may commit after one that took 42 was read. [`sequence`] gives positions only to rows
//! already committed, in one transaction that first takes the sequencer's turn (its one row in
//! `sync_sequencer`, which also holds the highest position given, the head): every position it
//! gives is above the head, and the head moves in the same commit. A row committed later is
//! invisible to that run and gets a higher position from a later one. A reader reads positions
//! above its cursor and at most the head it read, so every position it passes was committed
//! before it read it, and every row not yet sequenced then will come after its cursor: nothing
//! is skipped (docs/offline.md gives the argument in full).

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::DeviceKind;
use crate::auth::devices;
use crate::catalog::items::{self, BarcodeAlias, Item};
use crate::catalog::warehouses::{self, Location};
use crate::db::{Db, Keys};
use crate::error::Result;
use crate::fulfilment::picking::{self, ListStatus, PickList};
use crate::stock::batches::{self, Batch};
use crate::{on_read, on_tx};

/// Changes per answer when the reader names no limit.
pub const DEFAULT_LIMIT: i64 = 500;
/// The most changes one answer holds.
pub const MAX_LIMIT: i64 = 1000;

crate::text_enum!(
    /// What changed: `item` (with its GTINs and pack quantities), `alias`, `location`, `batch`,
    /// `printer` or `pick_list` (with its lines).
    #[schema(as = FeedEntity)]
    pub Entity {
        Item = "item",
        Alias = "alias",
        Location = "location",
        Batch = "batch",
        Printer = "printer",
        PickList = "pick_list",
    }
);

crate::text_enum!(
    /// `upsert`: `data` is the entity as it is now; `delete`: the reader should forget it (it is
    /// gone, deactivated, revoked, closed, or no longer the reader's).
    #[schema(as = FeedOp)]
    pub Op { Upsert = "upsert", Delete = "delete" }
);

/// How an entity is named: its id, or for an alias its code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = FeedKey)]
pub enum Key {
    Id(i64),
    Code(String),
}

/// A printer as devices mirror it: enough to offer it for printing, not its network address.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = FeedPrinter)]
pub struct Printer {
    pub id: i64,
    pub name: String,
    /// The printer profile (`GET /v1/printer-profiles`): language, dpi, label size.
    pub profile: String,
}

/// The entity as its own route answers it (`GET /v1/items/{id}`, `GET /v1/locations/{id}`,
/// `GET /v1/pick-lists/{id}`, ...); for a printer, [`Printer`].
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = FeedData)]
pub enum Data {
    Item(Item),
    Alias(BarcodeAlias),
    Location(Location),
    Batch(Batch),
    Printer(Printer),
    PickList(PickList),
}

/// One entity that changed since the reader's cursor.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = FeedChange)]
pub struct Change {
    pub entity: Entity,
    pub id: Key,
    pub op: Op,
    /// The entity now (`upsert`); `null` for `delete`.
    pub data: Option<Data>,
}

/// One answer of the feed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeFeed {
    /// In feed order; an entity appears once per answer, with its state at the time of the read.
    pub changes: Vec<Change>,
    /// The cursor to read on from: pass it as `since`. Decimal digits (a position in the feed);
    /// treat it as opaque and keep it across restarts of the device.
    pub next_cursor: String,
    /// Whether more changes are waiting: read again at once while `true`; when `false` the
    /// reader is up to date and polls later.
    pub more: bool,
}

/// Who reads: the feed holds the open pick lists assigned to this user or to nobody (a device
/// token names no user: the unassigned ones), for readers who pick at all.
#[derive(Debug, Clone, Copy)]
pub struct Reader {
    pub user_id: Option<i64>,
    /// Whether the reader may see pick lists; without, the feed holds none.
    pub picks: bool,
}

/// What a read answers.
#[derive(Debug)]
pub enum Read {
    Page(ChangeFeed),
    /// `since` is beyond the head of the feed: not a cursor this feed issued (or the database
    /// was restored from an older backup). The reader starts again from 0.
    Ahead {
        head: i64,
    },
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    entity: Entity,
    entity_id: Option<i64>,
    entity_code: Option<String>,
}

impl ChangeRow {
    fn key(&self) -> Key {
        match (&self.entity_code, self.entity_id) {
            (Some(code), _) => Key::Code(code.clone()),
            (None, id) => Key::Id(id.unwrap_or_default()),
        }
    }
}

/// Gives every committed change without a position one, above the head, and moves the head, in
/// one short write transaction. Answers the head it leaves (committed).
pub async fn sequence(db: &Db) -> Result<i64> {
    let mut tx = db.begin().await?;
    let head = on_tx!(&mut tx, conn => {
        // The turn first: a second sequencer waits here until this one has committed, and then
        // reads the head this one wrote.
        let head = sqlx::query_scalar::<_, i64>(
            "update sync_sequencer set last_position = last_position where id = 1
             returning last_position",
        )
        .fetch_one(&mut *conn)
        .await?;
        // Grouped by entity: the changes of one entity that committed since the last run are
        // neighbours, so one page answers them once.
        let given = sqlx::query(
            "update sync_changes set position = numbered.position
             from (select id, $1 + row_number() over (order by entity, entity_id, entity_code, id)
                          as position
                   from sync_changes where position is null) as numbered
             where sync_changes.id = numbered.id",
        )
        .bind(head)
        .execute(&mut *conn)
        .await?
        .rows_affected() as i64;
        if given > 0 {
            sqlx::query("update sync_sequencer set last_position = $1 where id = 1")
                .bind(head + given)
                .execute(&mut *conn)
                .await?;
        }
        head + given
    });
    tx.commit().await?;
    Ok(head)
}

/// The head of the feed (the highest position given: every position up to it is committed), and
/// whether committed changes wait for a position. One read.
async fn state(db: &Db) -> Result<(i64, bool)> {
    Ok(on_read!(db, pool => {
        sqlx::query_as::<_, (i64, bool)>(
            "select last_position,
                    exists (select 1 from sync_changes where position is null) as waiting
             from sync_sequencer where id = 1",
        )
        .fetch_one(pool)
        .await?
    }))
}

/// The changes a reader gets, of positions `$1 < position <= $2`: every change but pick lists',
/// which only reach whom they concern: who saw the list before or after the change, or anyone
/// when it was or is assigned to nobody; or whom it is assigned to now (a line's row names the
/// assignee its transaction read, which a reassignment committed meanwhile may have changed).
/// Only readers who pick (`$4`) get pick lists at all; `$3` is the reader's user.
const VISIBLE: &str = "c.position > $1 and c.position <= $2
    and (c.entity <> 'pick_list'
         or ($4 and (c.old_assignee is null or c.new_assignee is null
                     or c.old_assignee = $3 or c.new_assignee = $3
                     or exists (select 1 from pick_lists l where l.id = c.entity_id
                                and (l.assigned_to is null or l.assigned_to = $3)))))";

/// Up to `limit` changes after cursor `since` (0: from the beginning) for `reader`: what has
/// committed is sequenced first, then read up to the head.
pub async fn read(db: &Db, reader: Reader, since: i64, limit: i64) -> Result<Read> {
    let (mut head, waiting) = state(db).await?;
    if waiting {
        head = sequence(db).await?;
    }
    if since > head {
        return Ok(Read::Ahead { head });
    }
    if since == head {
        return Ok(Read::Page(ChangeFeed {
            changes: Vec::new(),
            next_cursor: head.to_string(),
            more: false,
        }));
    }
    // Where the page ends: before the reader's (limit + 1)-th change, or at the head. Nothing
    // between its last change and that one is the reader's, so the cursor may pass it.
    let beyond = on_read!(db, pool => {
        sqlx::query_scalar::<_, i64>(&format!(
            "select c.position from sync_changes c where {VISIBLE}
             order by c.position limit 1 offset $5"
        ))
        .bind(since)
        .bind(head)
        .bind(reader.user_id)
        .bind(reader.picks)
        .bind(limit)
        .fetch_optional(pool)
        .await?
    });
    let upto = beyond.map_or(head, |p| p - 1);
    // Each entity once, where it changed last in the page.
    let changed = on_read!(db, pool => {
        sqlx::query_as::<_, ChangeRow>(&format!(
            "select c.entity, c.entity_id, c.entity_code from sync_changes c where {VISIBLE}
             group by c.entity, c.entity_id, c.entity_code order by max(c.position)"
        ))
        .bind(since)
        .bind(upto)
        .bind(reader.user_id)
        .bind(reader.picks)
        .fetch_all(pool)
        .await?
    });
    let changed = changed.iter().map(|r| (r.entity, r.key())).collect();
    Ok(Read::Page(ChangeFeed {
        changes: current(db, reader, changed).await?,
        next_cursor: upto.to_string(),
        more: beyond.is_some(),
    }))
}

/// The entities as they are now, read a kind at a time (one or two reads per kind in the page).
async fn current(db: &Db, reader: Reader, changed: Vec<(Entity, Key)>) -> Result<Vec<Change>> {
    let keys = |kind: Entity| {
        if kind == Entity::Alias {
            return Keys::Codes(
                changed
                    .iter()
                    .filter_map(|(e, k)| match k {
                        Key::Code(code) if *e == kind => Some(code.clone()),
                        _ => None,
                    })
                    .collect(),
            );
        }
        Keys::Ids(
            changed
                .iter()
                .filter_map(|(e, k)| match k {
                    Key::Id(id) if *e == kind => Some(*id),
                    _ => None,
                })
                .collect(),
        )
    };
    let mut now: HashMap<(Entity, Key), Data> = HashMap::new();
    for item in items::by_ids(db, &keys(Entity::Item)).await? {
        if item.active {
            now.insert((Entity::Item, Key::Id(item.id)), Data::Item(item));
        }
    }
    for alias in items::aliases_by_codes(db, &keys(Entity::Alias)).await? {
        now.insert(
            (Entity::Alias, Key::Code(alias.code.clone())),
            Data::Alias(alias),
        );
    }
    for location in warehouses::locations_by_ids(db, &keys(Entity::Location)).await? {
        now.insert(
            (Entity::Location, Key::Id(location.id)),
            Data::Location(location),
        );
    }
    for batch in batches::by_ids(db, &keys(Entity::Batch)).await? {
        now.insert((Entity::Batch, Key::Id(batch.id)), Data::Batch(batch));
    }
    for device in devices::by_ids(db, &keys(Entity::Printer)).await? {
        if device.kind == DeviceKind::Printer && device.revoked_at.is_none() {
            let printer = Printer {
                id: device.id,
                name: device.name,
                profile: device.profile,
            };
            now.insert(
                (Entity::Printer, Key::Id(device.id)),
                Data::Printer(printer),
            );
        }
    }
    for list in picking::by_ids(db, &keys(Entity::PickList)).await? {
        let theirs = list.assigned_to.is_none() || list.assigned_to == reader.user_id;
        if reader.picks && list.status == ListStatus::Open && theirs {
            now.insert((Entity::PickList, Key::Id(list.id)), Data::PickList(list));
        }
    }
    Ok(changed
        .into_iter()
        .map(|(entity, id)| {
            let data = now.remove(&(entity, id.clone()));
            Change {
                entity,
                id,
                op: if data.is_some() {
                    Op::Upsert
                } else {
                    Op::Delete
                },
                data,
            }
        })
        .collect())
}
