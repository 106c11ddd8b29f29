//! What the mail analysis ([`super::mailbox`]) reads of a UAL `MailItemsAccessed` or
//! `UserLoggedIn` record besides its core fields: [`MailFields`] and the [`MailRead`] that
//! carries them. Kept apart from the detector because the narrow reading
//! ([`crate::normalize::narrow`]) builds the same from a raw line, and both must agree.

use crate::event::{CoreFields, Event, Origin};
use crate::normalize::lookup::{name, Fields, JsonView, Name};
use serde_json::Value;

/// What the mail analysis reads of a `MailItemsAccessed` record besides its core fields (and
/// so what the narrow reading, [`crate::normalize::narrow`], must keep).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFields {
    /// `MailboxOwnerUPN`, as written.
    pub owner: Option<String>,
    /// `ClientInfoString`.
    pub client_info: Option<String>,
    /// `OperationProperties.MailAccessType` is `Sync`.
    pub sync: bool,
    /// `OperationProperties.IsThrottled` is `True`.
    pub throttled: bool,
    /// Items the access names: the `Folders[].FolderItems[]` listed, or its `OperationCount`
    /// if that is more (at least 1).
    pub items: u32,
}

impl MailFields {
    /// The fields of a normalized record (exact names, as the record was normalized).
    pub fn of<F: Fields + ?Sized>(record: &F) -> MailFields {
        let text = |name: &Name| {
            record
                .exact(name)
                .and_then(|v| v.as_str())
                .map(String::from)
        };
        MailFields {
            owner: text(name!("MailboxOwnerUPN")),
            client_info: text(name!("ClientInfoString")),
            sync: operation_property(record, "MailAccessType")
                .is_some_and(|v| v.eq_ignore_ascii_case("Sync")),
            throttled: operation_property(record, "IsThrottled")
                .is_some_and(|v| v.eq_ignore_ascii_case("True")),
            items: items(record),
        }
    }
}

/// One UAL `MailItemsAccessed` or `UserLoggedIn` record as the mail analysis reads it: from a
/// whole event ([`MailRead::of`]), or read narrowly ([`crate::normalize::narrow::mail_read`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MailRead {
    /// The core fields the mail analysis reads: all but the client app id, the workload and
    /// the operation (`None`), as [`crate::normalize::extract_mail_read`] gives them.
    pub core: CoreFields,
    pub reading: Reading,
    pub origin: Origin,
}

/// What the mail analysis reads of a record besides its core fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// A mail access (`MailItemsAccessed`).
    Access(MailFields),
    /// A sign-in (`UserLoggedIn`), for the sign-in join ([`super::signins::SignInIndex`]).
    SignIn { succeeded: bool },
}

impl Reading {
    /// What the mail analysis reads of a normalized UAL record with this `operation` (its
    /// core field) besides its core fields; `None` for an operation it does not read.
    pub fn of<F: Fields + ?Sized>(operation: Option<&str>, record: &F) -> Option<Reading> {
        match operation? {
            "MailItemsAccessed" => Some(Reading::Access(MailFields::of(record))),
            "UserLoggedIn" => Some(Reading::SignIn {
                succeeded: super::signins::succeeded(record),
            }),
            _ => None,
        }
    }
}

impl MailRead {
    /// What the mail analysis reads of a whole UAL `MailItemsAccessed` or `UserLoggedIn` event
    /// (any other event is read as a mail access).
    pub fn of(event: &Event) -> MailRead {
        let reading = with_record(event, |record| {
            Reading::of(event.core.operation.as_deref(), record)
                .unwrap_or_else(|| Reading::Access(MailFields::of(record)))
        });
        MailRead {
            core: CoreFields {
                client_app_id: None,
                workload: None,
                operation: None,
                ..event.core.clone()
            },
            reading,
            origin: event.origin.clone(),
        }
    }
}

/// `read` of an event's record as top-level fields (none where it is not an object).
pub(super) fn with_record<T>(
    event: &Event,
    read: impl FnOnce(&serde_json::Map<String, Value>) -> T,
) -> T {
    match event.record.as_object() {
        Some(map) => read(map),
        None => read(&serde_json::Map::new()),
    }
}

fn operation_property<'a, F: Fields + ?Sized>(record: &'a F, name: &str) -> Option<&'a str> {
    record
        .exact(name!("OperationProperties"))?
        .get(name)?
        .as_str()
}

/// Items a Bind record names (`Folders[].FolderItems[]`), or its `OperationCount`.
fn items<F: Fields + ?Sized>(record: &F) -> u32 {
    let listed: usize = record
        .exact(name!("Folders"))
        .and_then(|v| v.as_array())
        .map(|folders| {
            folders
                .iter()
                .filter_map(|f| f.get("FolderItems").and_then(|v| v.as_array()))
                .map(<[_]>::len)
                .sum()
        })
        .unwrap_or(0);
    let count = record
        .exact(name!("OperationCount"))
        .and_then(|c| c.as_u64().or_else(|| c.as_str()?.parse().ok()))
        .unwrap_or(1);
    (listed as u64).max(count).min(u64::from(u32::MAX)) as u32
}
