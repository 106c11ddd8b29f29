//! Core-field extraction: the many field-name variants mapped onto one name each.
//!
//! Each core field has, per log kind, an ordered list of candidate paths (matched ignoring ASCII
//! case); the first present, non-empty one wins. The lists cover the Management Activity API /
//! Purview UAL schema, Sentinel's `OfficeActivity`, `SigninLogs` and `AuditLogs` tables,
//! Microsoft Graph `signIn` / `directoryAudit`, and Azure Monitor diagnostic-settings envelopes
//! (`{time, tenantId, category, properties{…}}`), where `properties.*` is tried before the
//! envelope. Sentinel's `TenantId` is the Log Analytics workspace, so the M365 tenant comes from
//! `OrganizationId` / `AADTenantId` first.

use super::lookup::{as_text, path_ci, trim, Fields, JsonView, Path};
use super::{ip, time};
use crate::event::{CoreFields, LogKind};

/// A list of [`Path`]s, split at compile time.
macro_rules! paths {
    ($($path:literal),* $(,)?) => {
        &[$(Path::new($path)),*]
    };
}

struct Candidates {
    time: &'static [Path],
    tenant: &'static [Path],
    user: &'static [Path],
    ip: &'static [Path],
    app_id: &'static [Path],
    client_app_id: &'static [Path],
    session_id: &'static [Path],
    token_id: &'static [Path],
    record_id: &'static [Path],
    operation: &'static [Path],
    workload: &'static [Path],
}

const UAL: Candidates = Candidates {
    time: paths!["CreationTime", "TimeGenerated", "CreationDate"],
    tenant: paths!["OrganizationId", "AADTenantId", "TokenTenantId", "TenantId"],
    user: paths!["UserId", "MailboxOwnerUPN", "UserPrincipalName"],
    ip: paths![
        "ClientIPAddress",
        "ClientIP",
        "Client_IPAddress",
        "ActorIpAddress",
        "ClientIp",
    ],
    app_id: paths!["AppId", "ApplicationId", "AppAccessContext.APIId"],
    client_app_id: paths!["ClientAppId", "AppAccessContext.ClientAppId"],
    session_id: paths![
        "AppAccessContext.AADSessionId",
        "SessionId",
        "AADSessionId",
        "DeviceProperties.SessionId",
    ],
    token_id: paths![
        "AppAccessContext.UniqueTokenId",
        "UniqueTokenId",
        "UniqueTokenIdentifier",
    ],
    record_id: paths!["Id", "OfficeId", "RecordId"],
    operation: paths!["Operation", "Operations"],
    workload: paths!["Workload", "OfficeWorkload"],
};

const SIGNIN: Candidates = Candidates {
    time: paths![
        "properties.createdDateTime",
        "createdDateTime",
        "time",
        "TimeGenerated",
        "CreatedDateTime",
    ],
    tenant: paths![
        "AADTenantId",
        "properties.resourceTenantId",
        "properties.homeTenantId",
        "tenantId",
        "resourceTenantId",
        "homeTenantId",
    ],
    user: paths![
        "properties.userPrincipalName",
        "userPrincipalName",
        "identity",
    ],
    ip: paths![
        "properties.ipAddress",
        "ipAddress",
        "IPAddress",
        "callerIpAddress",
    ],
    app_id: paths!["properties.appId", "appId"],
    client_app_id: &[],
    session_id: paths!["properties.sessionId", "sessionId"],
    token_id: paths!["properties.uniqueTokenIdentifier", "uniqueTokenIdentifier"],
    record_id: paths!["properties.id", "id"],
    operation: paths!["operationName", "properties.operationName"],
    workload: &[],
};

const AUDIT: Candidates = Candidates {
    time: paths![
        "properties.activityDateTime",
        "activityDateTime",
        "time",
        "TimeGenerated",
    ],
    tenant: paths!["AADTenantId", "tenantId"],
    user: paths![
        "properties.initiatedBy.user.userPrincipalName",
        "initiatedBy.user.userPrincipalName",
        "identity",
        "InitiatingUserOrApp",
    ],
    ip: paths![
        "properties.initiatedBy.user.ipAddress",
        "initiatedBy.user.ipAddress",
        "callerIpAddress",
        "InitiatingIpAddress",
    ],
    app_id: paths!["properties.initiatedBy.app.appId", "initiatedBy.app.appId"],
    client_app_id: &[],
    session_id: &[],
    token_id: &[],
    record_id: paths!["properties.id", "id"],
    operation: paths![
        "properties.activityDisplayName",
        "activityDisplayName",
        "operationName",
    ],
    workload: &[],
};

const VERDICT: Candidates = Candidates {
    time: paths!["time"],
    tenant: paths!["tid", "tenant"],
    user: paths!["sub", "upn", "user"],
    ip: paths!["client_ip", "ip"],
    app_id: paths!["appid", "azp", "app_id"],
    client_app_id: &[],
    session_id: paths!["sid"],
    token_id: paths!["uti", "jti"],
    record_id: paths!["id"],
    operation: paths!["reason"],
    workload: &[],
};

const WINDOWS: Candidates = Candidates {
    time: paths!["Event.System.TimeCreated.#attributes.SystemTime"],
    tenant: &[],
    user: paths![
        "Event.EventData.TargetUserName",
        "Event.EventData.SubjectUserName",
        "Event.EventData.User",
    ],
    ip: paths!["Event.EventData.IpAddress", "Event.EventData.SourceIp"],
    app_id: &[],
    client_app_id: &[],
    session_id: paths!["Event.EventData.LogonId"],
    token_id: &[],
    record_id: paths!["Event.System.EventRecordID"],
    operation: paths!["Event.System.EventID"],
    workload: paths!["Event.System.Channel"],
};

const GENERIC: Candidates = Candidates {
    time: paths![
        "time",
        "timestamp",
        "@timestamp",
        "TimeGenerated",
        "CreationTime",
        "createdDateTime",
        "eventTime",
        "date",
    ],
    tenant: paths!["tenantId", "OrganizationId", "tenant"],
    user: paths!["userPrincipalName", "UserId", "user", "identity"],
    ip: paths![
        "ipAddress",
        "ClientIP",
        "callerIpAddress",
        "ip",
        "src_ip",
        "sourceIPAddress",
    ],
    app_id: paths!["appId", "AppId"],
    client_app_id: paths!["ClientAppId"],
    session_id: paths!["sessionId", "SessionId"],
    token_id: paths!["uniqueTokenIdentifier", "UniqueTokenId"],
    record_id: paths!["id", "Id"],
    operation: paths!["operationName", "Operation", "eventName", "action"],
    workload: paths!["Workload"],
};

fn candidates(kind: LogKind) -> &'static Candidates {
    match kind {
        LogKind::Ual => &UAL,
        LogKind::EntraSignIn => &SIGNIN,
        LogKind::EntraAudit => &AUDIT,
        LogKind::TokenVerdict => &VERDICT,
        LogKind::Windows => &WINDOWS,
        _ => &GENERIC,
    }
}

/// A core field that says who acted, from where, or through what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    User,
    Address,
    /// The app id and the client app id.
    Apps,
}

/// The top-level fields a core field of a record of `kind` is read from (each candidate path
/// up to its first dot).
pub fn identity_sources(kind: LogKind, which: Identity) -> Vec<&'static str> {
    let c = candidates(kind);
    let lists: &[&[Path]] = match which {
        Identity::User => &[c.user],
        Identity::Address => &[c.ip],
        Identity::Apps => &[c.app_id, c.client_app_id],
    };
    lists.iter().copied().flatten().map(Path::head).collect()
}

fn first<'a, F: Fields + ?Sized>(map: &'a F, paths: &[Path]) -> Option<&'a F::Value> {
    paths
        .iter()
        .find_map(|p| path_ci(map, p).filter(|v| !v.as_str().is_some_and(|s| trim(s).is_empty())))
}

fn text<F: Fields + ?Sized>(map: &F, paths: &[Path]) -> Option<String> {
    paths.iter().find_map(|p| path_ci(map, p).and_then(as_text))
}

/// Extracts the core fields of a record of the given kind.
pub fn extract<F: Fields + ?Sized>(kind: LogKind, map: &F) -> CoreFields {
    extract_with(candidates(kind), map)
}

/// The UAL candidates but for the core fields the mail analysis does not read.
const UAL_MAIL_READ: Candidates = Candidates {
    client_app_id: &[],
    workload: &[],
    operation: &[],
    ..UAL
};

/// The core fields of a UAL record that the mail analysis reads
/// ([`crate::detect::mail_read::MailRead`]): all but the client app id, the workload and the
/// operation, which stay `None`. Every mail line is read so; those would be three strings a
/// line built and dropped unread (the operation is matched where it lies, [`ual_operation`]).
pub fn extract_mail_read<F: Fields + ?Sized>(map: &F) -> CoreFields {
    extract_with(&UAL_MAIL_READ, map)
}

/// A UAL record's operation, where it is text, as [`extract`] gives it but for a number or
/// boolean (which names no operation the mail analysis reads), without a copy.
pub fn ual_operation<F: Fields + ?Sized>(map: &F) -> Option<&str> {
    first(map, UAL.operation)?.as_str().map(trim)
}

fn extract_with<F: Fields + ?Sized>(c: &Candidates, map: &F) -> CoreFields {
    let time = c
        .time
        .iter()
        .find_map(|p| path_ci(map, p).and_then(time::parse_value));
    let tenant = text(map, c.tenant)
        .or_else(|| tenant_from_resource_id(map))
        .map(ascii_lowercase);
    let ip =
        c.ip.iter()
            .find_map(|p| path_ci(map, p).and_then(|v| v.as_str()).and_then(ip::parse));
    CoreFields {
        time,
        tenant,
        user: text(map, c.user).map(lowercase),
        ip,
        app_id: text(map, c.app_id).map(ascii_lowercase),
        client_app_id: text(map, c.client_app_id).map(ascii_lowercase),
        session_id: text(map, c.session_id),
        token_id: text(map, c.token_id),
        record_id: text(map, c.record_id),
        operation: first(map, c.operation).and_then(as_text),
        workload: text(map, c.workload),
    }
}

/// `s` ASCII-lowercased, in place (no second copy for every record).
fn ascii_lowercase(mut s: String) -> String {
    s.make_ascii_lowercase();
    s
}

/// `s` lowercased, in place where it is ASCII (as `str::to_lowercase` would lowercase it).
fn lowercase(s: String) -> String {
    if s.is_ascii() {
        ascii_lowercase(s)
    } else {
        s.to_lowercase()
    }
}

/// `/tenants/<id>/providers/…` in an Azure Monitor `resourceId`.
fn tenant_from_resource_id<F: Fields + ?Sized>(map: &F) -> Option<String> {
    let rid = path_ci(map, &const { Path::new("resourceId") })?.as_str()?;
    let lower = rid.to_ascii_lowercase();
    let rest = &rid[lower.find("/tenants/")? + "/tenants/".len()..];
    let id = rest.split('/').next()?;
    (!id.is_empty()).then(|| id.to_string())
}
