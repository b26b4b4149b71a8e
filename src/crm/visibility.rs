//! Who sees which CRM records, enforced in SQL.
//!
//! An admin sees everything. A head sees what anyone in their team tree owns (themselves and
//! everyone below them through `users.manager_id`), a rep only their own; both also see public
//! customers (read-only unless they own them). Records one may not see do not exist for them.
//!
//! Every visibility-filtered query starts with [`SCOPE`] and binds, in this order,
//! `$1` the viewer's id, `$2` whether the scope spans the team tree ([`Viewer::team_wide`]) and
//! `$3` whether the viewer sees everything ([`Viewer::sees_all`]); its own parameters start at `$4`.

use crate::auth::{Role, UserPrincipal};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::on_read;

/// The user on whose behalf a CRM query runs.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub id: i64,
    pub role: Role,
}

impl From<&UserPrincipal> for Viewer {
    fn from(u: &UserPrincipal) -> Viewer {
        Viewer {
            id: u.id,
            role: u.role,
        }
    }
}

impl Viewer {
    /// The viewer whose CRM scope limits what `principal` may see of deals referred to by other
    /// records (orders serving deals); `None` for callers who see every deal (admins, warehouse
    /// staff, devices).
    pub fn scoped(principal: &crate::auth::Principal) -> Option<Viewer> {
        match principal {
            crate::auth::Principal::User(u) if matches!(u.role, Role::Head | Role::Rep) => {
                Some(Viewer::from(u))
            }
            _ => None,
        }
    }

    /// A head's scope is their whole team tree.
    pub fn team_wide(&self) -> bool {
        self.role == Role::Head
    }

    pub fn sees_all(&self) -> bool {
        self.role == Role::Admin
    }

    /// Admins and heads hand work (customers, leads, deals) to others.
    pub fn assigns(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Head)
    }
}

/// The viewer's scope of owners: `$1`, and with `$2` everyone below them.
pub const SCOPE: &str = "with recursive scope(id) as (
        select id from users where id = $1
        union
        select u.id from users u join scope s on u.manager_id = s.id where $2
    ) ";

/// True when `column` (a user id) is in the viewer's scope; admins: always.
pub fn in_scope(column: &str) -> String {
    format!("($3 or {column} in (select id from scope))")
}

/// True when the customer aliased `alias` is visible: in scope or public.
pub fn customer_visible(alias: &str) -> String {
    format!("($3 or {alias}.public or {alias}.owner_id in (select id from scope))")
}

/// True when the customer aliased `alias` may be changed by the viewer (not merely seen).
pub fn customer_editable(alias: &str) -> String {
    format!(
        "coalesce({}, false)",
        in_scope(&format!("{alias}.owner_id"))
    )
}

/// What the viewer may do with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Invisible: answer as if it did not exist.
    Hidden,
    ReadOnly,
    Editable,
}

impl Reach {
    pub fn from_row(editable: Option<bool>) -> Reach {
        match editable {
            None => Reach::Hidden,
            Some(false) => Reach::ReadOnly,
            Some(true) => Reach::Editable,
        }
    }

    /// For an addressed record: hidden → 404, read-only → 403.
    pub fn require_edit(self, resource: &'static str, id: i64) -> Result<()> {
        match self {
            Reach::Hidden => Err(Error::not_found(resource, id)),
            Reach::ReadOnly => Err(Error::forbidden(format!(
                "this {resource} is read-only to you: only its owner (or their managers) may change it"
            ))),
            Reach::Editable => Ok(()),
        }
    }
}

/// Whether the viewer may hand work to `user_id`: an admin to anyone, a head to their team tree,
/// a rep to themselves only.
pub async fn may_assign_to(db: &Db, viewer: Viewer, user_id: i64) -> Result<bool> {
    let n = on_read!(db, pool => {
        sqlx::query_scalar::<_, i64>(&format!(
            "{SCOPE} select count(*) from users u where u.id = $4 and {}",
            in_scope("u.id")
        ))
        .bind(viewer.id)
        .bind(viewer.team_wide())
        .bind(viewer.sees_all())
        .bind(user_id)
        .fetch_one(pool)
        .await?
    });
    Ok(n > 0)
}

/// Refuses a user id that names no active admin, head or rep (422 on `field`).
pub async fn check_sales_user(db: &Db, field: &str, user_id: i64) -> Result<()> {
    let found = on_read!(db, pool => {
        sqlx::query_as::<_, (String, bool)>("select role, active from users where id = $1")
            .bind(user_id)
            .fetch_optional(pool)
            .await?
    });
    match found {
        None => Err(Error::invalid(field, format!("no user with id {user_id}"))),
        Some((_, false)) => Err(Error::invalid(
            field,
            format!("user {user_id} is deactivated"),
        )),
        Some((role, true)) if !matches!(role.as_str(), "admin" | "head" | "rep") => {
            Err(Error::invalid(
                field,
                format!("user {user_id} has role '{role}', not a sales role"),
            ))
        }
        Some(_) => Ok(()),
    }
}

/// The user a record is handed to, checked: an existing sales user (422) whom the viewer may
/// assign work to (403).
pub async fn check_assignee(db: &Db, viewer: Viewer, field: &str, user_id: i64) -> Result<()> {
    if user_id == viewer.id {
        return Ok(());
    }
    check_sales_user(db, field, user_id).await?;
    if !viewer.assigns() || !may_assign_to(db, viewer, user_id).await? {
        return Err(Error::forbidden(format!(
            "you may not assign this to user {user_id}: {}",
            if viewer.assigns() {
                "they are outside your team"
            } else {
                "only a head or an admin assigns work to others"
            }
        )));
    }
    Ok(())
}

/// Which of `deal_ids` the viewer may see.
pub async fn visible_deals(
    db: &Db,
    viewer: Viewer,
    deal_ids: &[i64],
) -> Result<std::collections::HashSet<i64>> {
    if deal_ids.is_empty() {
        return Ok(Default::default());
    }
    let list = (0..deal_ids.len())
        .map(|i| format!("${}", i + 4))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "{SCOPE} select d.id from deals d where d.id in ({list}) and {}",
        in_scope("d.owner_id")
    );
    let ids = on_read!(db, pool => {
        let mut q = sqlx::query_scalar::<_, i64>(&sql)
            .bind(viewer.id)
            .bind(viewer.team_wide())
            .bind(viewer.sees_all());
        for id in deal_ids {
            q = q.bind(*id);
        }
        q.fetch_all(pool).await?
    });
    Ok(ids.into_iter().collect())
}

/// What the viewer may do with a customer.
pub async fn customer_reach(db: &Db, viewer: Viewer, id: i64) -> Result<Reach> {
    let editable = on_read!(db, pool => {
        sqlx::query_scalar::<_, bool>(&format!(
            "{SCOPE} select {} from customers c where c.id = $4 and {}",
            customer_editable("c"),
            customer_visible("c")
        ))
        .bind(viewer.id)
        .bind(viewer.team_wide())
        .bind(viewer.sees_all())
        .bind(id)
        .fetch_optional(pool)
        .await?
    });
    Ok(Reach::from_row(editable))
}

/// What the viewer may do with a contact: what they may do with its customer.
pub async fn contact_reach(db: &Db, viewer: Viewer, id: i64) -> Result<Reach> {
    let editable = on_read!(db, pool => {
        sqlx::query_scalar::<_, bool>(&format!(
            "{SCOPE} select {} from contacts k join customers c on c.id = k.customer_id
             where k.id = $4 and {}",
            customer_editable("c"),
            customer_visible("c")
        ))
        .bind(viewer.id)
        .bind(viewer.team_wide())
        .bind(viewer.sees_all())
        .bind(id)
        .fetch_optional(pool)
        .await?
    });
    Ok(Reach::from_row(editable))
}
