//! Who is calling and what they may do: users with roles, devices with tokens, JWTs, passwords.

pub mod api;
pub mod devices;
pub mod password;
pub mod throttle;
pub mod tokens;
pub mod users;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Head,
    Rep,
    Warehouse,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Head => "head",
            Role::Rep => "rep",
            Role::Warehouse => "warehouse",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "admin" => Some(Role::Admin),
            "head" => Some(Role::Head),
            "rep" => Some(Role::Rep),
            "warehouse" => Some(Role::Warehouse),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Scanner,
    Printer,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Scanner => "scanner",
            DeviceKind::Printer => "printer",
        }
    }

    pub fn parse(value: &str) -> Option<DeviceKind> {
        match value {
            "scanner" => Some(DeviceKind::Scanner),
            "printer" => Some(DeviceKind::Printer),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct UserPrincipal {
    pub id: i64,
    /// The role in the database when the request was authenticated.
    pub role: Role,
    pub username: String,
    /// The user's token generation (see `users::session`).
    pub generation: i64,
}

#[derive(Debug, Clone)]
pub struct DevicePrincipal {
    pub id: i64,
    pub kind: DeviceKind,
    pub profile: String,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub enum Principal {
    User(UserPrincipal),
    Device(DevicePrincipal),
}

/// Which callers a route admits.
#[derive(Debug, Clone, Copy)]
pub struct Access {
    pub roles: &'static [Role],
    pub devices: &'static [DeviceKind],
}

impl Access {
    pub const ADMIN: Access = Access::users(&[Role::Admin]);
    pub const ANY_USER: Access =
        Access::users(&[Role::Admin, Role::Head, Role::Rep, Role::Warehouse]);
    pub const SALES: Access = Access::users(&[Role::Admin, Role::Head, Role::Rep]);
    pub const MANAGERS: Access = Access::users(&[Role::Admin, Role::Head]);
    /// Warehouse work on the floor: admins, warehouse staff and scanner devices.
    pub const WAREHOUSE_FLOOR: Access = Access {
        roles: &[Role::Admin, Role::Warehouse],
        devices: &[DeviceKind::Scanner],
    };
    /// Master data reads: every user and every device (a scanner must resolve items and bins).
    pub const ANYONE: Access = Access {
        roles: &[Role::Admin, Role::Head, Role::Rep, Role::Warehouse],
        devices: &[DeviceKind::Scanner, DeviceKind::Printer],
    };

    pub const fn users(roles: &'static [Role]) -> Access {
        Access {
            roles,
            devices: &[],
        }
    }
}

impl Principal {
    /// Admits the caller if `access` allows it.
    pub fn check(&self, access: Access) -> Result<()> {
        let allowed = match self {
            Principal::User(u) => access.roles.contains(&u.role),
            Principal::Device(d) => access.devices.contains(&d.kind),
        };
        if allowed {
            Ok(())
        } else {
            Err(Error::forbidden(format!(
                "{} may not perform this action",
                self.describe()
            )))
        }
    }

    /// Admits a user whose role is in `access`, and returns them.
    pub fn user_in(&self, access: Access) -> Result<&UserPrincipal> {
        self.check(access)?;
        self.as_user()
    }

    pub fn as_user(&self) -> Result<&UserPrincipal> {
        match self {
            Principal::User(u) => Ok(u),
            Principal::Device(_) => Err(Error::forbidden("devices may not perform this action")),
        }
    }

    /// A stable label for audit trails and idempotency scopes, e.g. `user:3`, `device:7`.
    pub fn label(&self) -> String {
        match self {
            Principal::User(u) => format!("user:{}", u.id),
            Principal::Device(d) => format!("device:{}", d.id),
        }
    }

    pub fn user_id(&self) -> Option<i64> {
        match self {
            Principal::User(u) => Some(u.id),
            Principal::Device(_) => None,
        }
    }

    pub fn device_id(&self) -> Option<i64> {
        match self {
            Principal::User(_) => None,
            Principal::Device(d) => Some(d.id),
        }
    }

    fn describe(&self) -> String {
        match self {
            Principal::User(u) => format!("role '{}'", u.role.as_str()),
            Principal::Device(d) => format!("a {} device", d.kind.as_str()),
        }
    }
}
