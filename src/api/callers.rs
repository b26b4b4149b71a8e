//! Who is calling, in the terms each domain records: the actor of stock movements, the caller of
//! a scan (with its device's profile), the submitter of print jobs.

use crate::auth::Principal;
use crate::printing::jobs::Submitter;
use crate::scanning::Caller;
use crate::stock::operations::Actor;

/// The person or device behind stock movements.
pub fn actor(p: &Principal) -> Actor {
    Actor {
        user_id: p.user_id(),
        device_id: p.device_id(),
    }
}

/// The caller of a scan: a device's scans are read with its profile.
pub fn caller(principal: &Principal) -> Caller {
    match principal {
        Principal::User(u) => Caller {
            user_id: Some(u.id),
            ..Caller::default()
        },
        Principal::Device(d) => Caller {
            device_id: Some(d.id),
            device_profile: Some(d.profile.clone()),
            ..Caller::default()
        },
    }
}

/// The submitter of print jobs a request makes (never allowed raw ZPL).
pub fn submitter(p: &Principal) -> Submitter {
    Submitter {
        user_id: p.user_id(),
        device_id: p.device_id(),
        may_send_raw: false,
    }
}
