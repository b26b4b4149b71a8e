//! People who use Depot, their roles and the team tree (each user may have a manager).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::auth::{Role, UserPrincipal, password};
use crate::db::{Db, Page, Paged, now};
use crate::error::{Checks, Error, Result};
use crate::{in_tx, on_read, on_tx};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub full_name: String,
    pub email: Option<String>,
    pub manager_id: Option<i64>,
    pub active: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    username: String,
    role: String,
    full_name: String,
    email: Option<String>,
    manager_id: Option<i64>,
    active: bool,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> User {
        User {
            id: r.id,
            username: r.username,
            // The column's check constraint admits only known roles.
            role: Role::parse(&r.role).unwrap_or(Role::Warehouse),
            full_name: r.full_name,
            email: r.email,
            manager_id: r.manager_id,
            active: r.active,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLUMNS: &str =
    "id, username, role, full_name, email, manager_id, active, created_at, updated_at";

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUser {
    /// Lower-case letters, digits, `.`, `_`, `-`; 1–64 characters.
    pub username: String,
    /// At least 8 characters.
    pub password: String,
    pub role: Role,
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub manager_id: Option<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UserPatch {
    pub password: Option<String>,
    pub role: Option<Role>,
    pub full_name: Option<String>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// `null` removes the manager.
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<i64>)]
    pub manager_id: Option<Option<i64>>,
    pub active: Option<bool>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct UserFilter {
    pub role: Option<Role>,
    pub manager_id: Option<i64>,
    pub active: Option<bool>,
}

pub fn check_username(field: &str, username: &str, checks: &mut Checks) {
    let valid = !username.is_empty()
        && username.len() <= 64
        && username
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    checks.check(
        valid,
        field,
        "must be 1-64 characters of a-z, 0-9, '.', '_' or '-'",
    );
}

fn check_email(field: &str, email: Option<&str>, checks: &mut Checks) {
    if let Some(e) = email {
        checks.max_len(field, e, 254);
        checks.check(e.contains('@'), field, "must be an e-mail address");
    }
}

pub async fn create(db: &Db, new: NewUser) -> Result<User> {
    let username = new.username.trim().to_lowercase();
    let mut checks = Checks::new();
    check_username("username", &username, &mut checks);
    password::check("password", &new.password, &mut checks);
    checks.opt_text("full_name", new.full_name.as_deref(), 200);
    check_email("email", new.email.as_deref(), &mut checks);
    checks.finish()?;
    if let Some(manager) = new.manager_id {
        ensure_exists(db, manager, "manager_id").await?;
    }
    let hash = password::hash(new.password).await?;
    let at = now();
    let row = in_tx!(db, tx => {
        sqlx::query_as::<_, UserRow>(&format!(
            "insert into users (username, password_hash, role, full_name, email, manager_id, active, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, true, $7, $7) returning {COLUMNS}"
        ))
        .bind(&username)
        .bind(&hash)
        .bind(new.role.as_str())
        .bind(new.full_name.unwrap_or_default())
        .bind(new.email)
        .bind(new.manager_id)
        .bind(at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| Error::from(e).on_unique("username", "this username is taken"))?
    });
    Ok(row.into())
}

async fn ensure_exists(db: &Db, id: i64, field: &str) -> Result<()> {
    get(db, id)
        .await
        .map_err(|e| e.missing_as_invalid(field, format!("no user with id {id}")))?;
    Ok(())
}

pub async fn get(db: &Db, id: i64) -> Result<User> {
    let row = on_read!(db, pool => {
        sqlx::query_as::<_, UserRow>(&format!("select {COLUMNS} from users where id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?
    });
    row.map(User::from)
        .ok_or_else(|| Error::not_found("user", id))
}

pub async fn by_username(db: &Db, username: &str) -> Result<User> {
    let row = on_read!(db, pool => {
        sqlx::query_as::<_, UserRow>(&format!("select {COLUMNS} from users where username = $1"))
            .bind(username)
            .fetch_optional(pool)
            .await?
    });
    row.map(User::from)
        .ok_or_else(|| Error::not_found("user", username))
}

pub async fn list(db: &Db, filter: &UserFilter, page: Page) -> Result<Paged<User>> {
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, UserRow>(&format!(
            "select {COLUMNS} from users
             where id > $1 and ($2 is null or role = $2) and ($3 is null or manager_id = $3)
               and ($4 is null or active = $4)
             order by id limit $5"
        ))
        .bind(page.after)
        .bind(filter.role.map(Role::as_str))
        .bind(filter.manager_id)
        .bind(filter.active)
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await?
    });
    Ok(Paged::from_rows(rows, page, |r| r.id).map(User::from))
}

pub async fn update(db: &Db, id: i64, patch: UserPatch) -> Result<User> {
    let mut checks = Checks::new();
    if let Some(p) = &patch.password {
        password::check("password", p, &mut checks);
    }
    checks.opt_text("full_name", patch.full_name.as_deref(), 200);
    check_email(
        "email",
        patch.email.as_ref().and_then(|e| e.as_deref()),
        &mut checks,
    );
    if patch.manager_id == Some(Some(id)) {
        checks.fail("manager_id", "a user cannot manage themselves");
    }
    checks.finish()?;
    let current = get(db, id).await?;
    if let Some(Some(manager)) = patch.manager_id {
        ensure_exists(db, manager, "manager_id").await?;
        if team_ids(db, id).await?.contains(&manager) {
            return Err(Error::invalid(
                "manager_id",
                "the manager reports to this user; the team tree cannot have a cycle",
            ));
        }
    }
    let hash = match patch.password {
        Some(p) => Some(password::hash(p).await?),
        None => None,
    };
    let email = patch.email.unwrap_or(current.email);
    let manager_id = patch.manager_id.unwrap_or(current.manager_id);
    let may_remove_admin =
        patch.role.is_some_and(|r| r != Role::Admin) || patch.active == Some(false);
    // Role and active are set from the row itself (coalesce), so the last-admin condition and the
    // generation bump judge the row as it is when the update runs, not as it was read above.
    let mut tx = db.begin().await?;
    if may_remove_admin {
        // Every change that may remove an admin takes this turn before its conditional update.
        // Without it two admins demoting each other at once on PostgreSQL would each still see
        // the other as an active admin (write skew) and both succeed. SQLite has one writer.
        crate::db::take_turn(&mut tx, "admin_guard").await?;
    }
    let row = on_tx!(&mut tx, tx => {
        sqlx::query_as::<_, UserRow>(&format!(
            "update users set role = coalesce($2, role), full_name = $3, email = $4,
                    manager_id = $5, active = coalesce($6, active),
                    password_hash = coalesce($7, password_hash),
                    token_generation = token_generation + case
                        when coalesce($2, role) <> role or coalesce($6, active) <> active
                          or $7 is not null then 1 else 0 end,
                    updated_at = $8
             where id = $1
               and ((coalesce($2, role) = 'admin' and coalesce($6, active))
                    or not (role = 'admin' and active)
                    or exists (select 1 from users o
                               where o.id <> $1 and o.role = 'admin' and o.active))
             returning {COLUMNS}"
        ))
        .bind(id)
        .bind(patch.role.map(Role::as_str))
        .bind(patch.full_name.unwrap_or(current.full_name))
        .bind(email)
        .bind(manager_id)
        .bind(patch.active)
        .bind(hash)
        .bind(now())
        .fetch_optional(&mut *tx)
        .await?
    });
    tx.commit().await?;
    match row {
        Some(row) => Ok(row.into()),
        // Users are never deleted, so no row means the last-admin condition refused it.
        None => Err(Error::conflict(
            if patch.active == Some(false) {
                "active"
            } else {
                "role"
            },
            "this change would leave no active admin; make another user an admin first",
        )),
    }
}

/// Recovery from the command line (`depot admin reset-password`): sets the password,
/// reactivates the user and, with `make_admin`, makes them an admin. Their older tokens stop
/// working.
pub async fn reset_password(
    db: &Db,
    username: &str,
    new_password: String,
    make_admin: bool,
) -> Result<User> {
    let username = username.trim().to_lowercase();
    let mut checks = Checks::new();
    password::check("password", &new_password, &mut checks);
    checks.finish()?;
    let hash = password::hash(new_password).await?;
    let row = in_tx!(db, tx => {
        sqlx::query_as::<_, UserRow>(&format!(
            "update users set password_hash = $2, active = true,
                    role = case when $3 then 'admin' else role end,
                    token_generation = token_generation + 1, updated_at = $4
             where username = $1 returning {COLUMNS}"
        ))
        .bind(&username)
        .bind(hash)
        .bind(make_admin)
        .bind(now())
        .fetch_optional(&mut *tx)
        .await?
    });
    row.map(User::from)
        .ok_or_else(|| Error::invalid("username", format!("no user named '{username}'")))
}

/// The user and everyone below them in the team tree.
pub async fn team_ids(db: &Db, user_id: i64) -> Result<Vec<i64>> {
    Ok(on_read!(db, pool => {
        sqlx::query_scalar::<_, i64>(TEAM_CTE_SELECT)
            .bind(user_id)
            .fetch_all(pool)
            .await?
    }))
}

/// `union` (not `union all`) stops at a repeated id, so even a corrupt cyclic tree terminates.
pub const TEAM_CTE_SELECT: &str = "with recursive team(id) as (
        select id from users where id = $1
        union
        select u.id from users u join team t on u.manager_id = t.id
    ) select id from team";

/// Checks a username and password; on success returns who logged in.
pub async fn authenticate(db: &Db, username: &str, password_given: &str) -> Result<UserPrincipal> {
    let username = username.trim().to_lowercase();
    let found = on_read!(db, pool => {
        sqlx::query_as::<_, (i64, String, String, bool, i64)>(
            "select id, password_hash, role, active, token_generation from users where username = $1",
        )
        .bind(&username)
        .fetch_optional(pool)
        .await?
    });
    let ok = password::verify(
        password_given.to_string(),
        found.as_ref().map(|(_, hash, _, _, _)| hash.clone()),
    )
    .await?;
    match found {
        Some((id, _, role, true, generation)) if ok => Ok(UserPrincipal {
            id,
            role: Role::parse(&role).unwrap_or(Role::Warehouse),
            username,
            generation,
        }),
        _ => Err(Error::Unauthenticated("wrong username or password".into())),
    }
}

/// The user a verified access token stands for, as they are now: refused when the user is
/// deactivated or the token is from an older generation (role or password changed since).
/// One primary-key read, on every authenticated request.
pub async fn session(db: &Db, id: i64, generation: i64) -> Result<UserPrincipal> {
    let found = on_read!(db, pool => {
        sqlx::query_as::<_, (String, String, bool, i64)>(
            "select username, role, active, token_generation from users where id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?
    });
    match found {
        Some((username, role, true, current)) if current == generation => Ok(UserPrincipal {
            id,
            role: Role::parse(&role).unwrap_or(Role::Warehouse),
            username,
            generation,
        }),
        Some((_, _, false, _)) => Err(Error::Unauthenticated(
            "token no longer valid: the user is deactivated".into(),
        )),
        _ => Err(Error::Unauthenticated(
            "token no longer valid: log in again".into(),
        )),
    }
}

pub async fn count(db: &Db) -> Result<i64> {
    Ok(on_read!(db, pool => {
        sqlx::query_scalar::<_, i64>("select count(*) from users").fetch_one(pool).await?
    }))
}

/// On an empty database, creates `admin`. Returns the password when it was generated, so the
/// caller can show it once.
pub async fn bootstrap_admin(db: &Db, configured: Option<&str>) -> Result<Option<String>> {
    if count(db).await? > 0 {
        return Ok(None);
    }
    let (password, generated) = match configured {
        Some(p) => (p.to_string(), false),
        None => (password::generate(), true),
    };
    let hash = password::hash(password.clone()).await?;
    let at = now();
    let inserted = in_tx!(db, tx => {
        sqlx::query(
            "insert into users (username, password_hash, role, full_name, active, created_at, updated_at)
             values ('admin', $1, 'admin', 'Administrator', true, $2, $2) on conflict (username) do nothing",
        )
        .bind(hash)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    });
    Ok((inserted == 1 && generated).then_some(password))
}
