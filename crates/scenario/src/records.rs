//! Record builders in the exact shapes Microsoft emits: Management Activity API UAL records
//! (Exchange `MailItemsAccessed`, `Send`; Azure AD `UserLoggedIn`; SharePoint `FileAccessed`),
//! and Azure Monitor diagnostic-settings envelopes for Entra sign-ins and audit records.

use crate::model::{Client, Place, Tenant, User};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

/// UAL writes `CreationTime` without a zone and without fractions (it means UTC).
pub fn ual_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Entra writes 7 fractional digits and a `Z`.
pub fn entra_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
        .replace('Z', "0Z")
}

/// How a mail access read items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Bind,
    Sync,
}

/// A `MailItemsAccessed` record.
pub struct MailAccess<'a> {
    pub id: &'a str,
    pub tenant: &'a Tenant,
    pub user: &'a User,
    pub app_id: &'a str,
    pub client_app_id: &'a str,
    pub client_info: &'a str,
    pub ip: &'a str,
    pub at: DateTime<Utc>,
    pub access: Access,
    pub session_id: Option<&'a str>,
    pub token_id: Option<&'a str>,
    pub issued_at: DateTime<Utc>,
    pub throttled: bool,
    pub items: u32,
}

impl MailAccess<'_> {
    pub fn to_json(&self) -> Value {
        let u = self.user;
        let access = match self.access {
            Access::Bind => "Bind",
            Access::Sync => "Sync",
        };
        let mut context = json!({"IssuedAtTime": ual_time(self.issued_at)});
        if let Some(t) = self.token_id {
            context["UniqueTokenId"] = json!(t);
        }
        if let Some(s) = self.session_id {
            context["AADSessionId"] = json!(s);
        }
        context["APIId"] = json!(self.app_id);
        context["ClientAppId"] = json!(self.client_app_id);
        let folders = match self.access {
            Access::Bind => json!([{
                "FolderItems": (0..self.items).map(|i| json!({
                    "InternetMessageId": format!("<{}.{}.{}@mail.{}>", &self.id[..8], i, self.at.timestamp(), self.tenant.domain),
                    "SizeInBytes": 2048 + (i as u64 * 7919) % 90_000
                })).collect::<Vec<_>>(),
                "Id": format!("LgAAAA{}", &u.mailbox_guid[..8]),
                "Path": "\\Inbox"
            }]),
            Access::Sync => {
                json!([{"Id": format!("LgAAAA{}", &u.mailbox_guid[..8]), "Path": "\\Inbox"}])
            }
        };
        let mut r = json!({
            "CreationTime": ual_time(self.at),
            "Id": self.id,
            "Operation": "MailItemsAccessed",
            "OrganizationId": self.tenant.id,
            "RecordType": 50,
            "ResultStatus": "Succeeded",
            "UserKey": u.object_id,
            "UserType": 0,
            "Version": 1,
            "Workload": "Exchange",
            "ClientIP": self.ip,
            "UserId": u.upn,
            "AppId": self.app_id,
            "ClientAppId": self.client_app_id,
            "ClientIPAddress": self.ip,
            "ClientInfoString": self.client_info,
            "ExternalAccess": false,
            "InternalLogonType": 0,
            "LogonType": 0,
            "LogonUserSid": u.sid,
            "MailboxGuid": u.mailbox_guid,
            "MailboxOwnerSid": u.sid,
            "MailboxOwnerUPN": u.upn,
            "OperationProperties": [
                {"Name": "MailAccessType", "Value": access},
                {"Name": "IsThrottled", "Value": if self.throttled { "True" } else { "False" }}
            ],
            "OrganizationName": format!("{}.onmicrosoft.com", self.tenant.domain.trim_end_matches(".example")),
            "OriginatingServer": "SA1PR12MB7197 (15.20.6521.024)\r\n",
            "AppAccessContext": context,
            "Folders": folders,
            "OperationCount": self.items.max(1),
            "TokenObjectId": u.object_id,
            "TokenTenantId": self.tenant.id,
        });
        if let Some(s) = self.session_id {
            r["SessionId"] = json!(s);
        }
        r
    }
}

/// An interactive (or non-interactive) Entra sign-in, diagnostic-settings envelope.
#[allow(clippy::too_many_arguments)]
pub fn signin(
    id: &str,
    tenant: &Tenant,
    user: &User,
    client: &Client,
    place: &Place,
    at: DateTime<Utc>,
    session_id: &str,
    token_id: &str,
    interactive: bool,
) -> Value {
    let category = if interactive {
        "SignInLogs"
    } else {
        "NonInteractiveUserSignInLogs"
    };
    json!({
        "time": entra_time(at),
        "resourceId": format!("/tenants/{}/providers/Microsoft.aadiam", tenant.id),
        "operationName": "Sign-in activity",
        "operationVersion": "1.0",
        "category": category,
        "tenantId": tenant.id,
        "resultType": "0",
        "resultSignature": "None",
        "durationMs": 0,
        "callerIpAddress": place.ip,
        "correlationId": id,
        "identity": user.display,
        "Level": 4,
        "location": place.country,
        "properties": {
            "id": id,
            "createdDateTime": entra_time(at),
            "userDisplayName": user.display,
            "userPrincipalName": user.upn,
            "userId": user.object_id,
            "appId": client.app_id,
            "appDisplayName": client.name,
            "ipAddress": place.ip,
            "status": {"errorCode": 0},
            "clientAppUsed": client.client_app_used,
            "userAgent": client.user_agent,
            "isInteractive": interactive,
            "resourceDisplayName": "Office 365 Exchange Online",
            "resourceId": "00000002-0000-0ff1-ce00-000000000000",
            "resourceTenantId": tenant.id,
            "homeTenantId": tenant.id,
            "tokenIssuerType": "AzureAD",
            "sessionId": session_id,
            "uniqueTokenIdentifier": token_id,
            "location": {"city": place.city, "countryOrRegion": place.country},
            "conditionalAccessStatus": "success",
            "authenticationRequirement": if interactive { "multiFactorAuthentication" } else { "singleFactorAuthentication" }
        }
    })
}

/// The UAL mirror of a sign-in (`UserLoggedIn`, Azure AD workload).
pub fn user_logged_in(
    id: &str,
    tenant: &Tenant,
    user: &User,
    client: &Client,
    ip: &str,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "CreationTime": ual_time(at),
        "Id": id,
        "Operation": "UserLoggedIn",
        "OrganizationId": tenant.id,
        "RecordType": 15,
        "ResultStatus": "Success",
        "UserKey": user.object_id,
        "UserType": 0,
        "Version": 1,
        "Workload": "AzureActiveDirectory",
        "ClientIP": ip,
        "ObjectId": "00000002-0000-0ff1-ce00-000000000000",
        "UserId": user.upn,
        "AzureActiveDirectoryEventType": 1,
        "ExtendedProperties": [
            {"Name": "ResultStatusDetail", "Value": "Success"},
            {"Name": "UserAgent", "Value": client.user_agent},
            {"Name": "RequestType", "Value": "OAuth2:Authorize"}
        ],
        "ApplicationId": client.app_id,
        "ErrorNumber": "0"
    })
}

/// An Exchange `Send`.
pub fn send(
    id: &str,
    tenant: &Tenant,
    user: &User,
    client: &Client,
    ip: &str,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "CreationTime": ual_time(at),
        "Id": id,
        "Operation": "Send",
        "OrganizationId": tenant.id,
        "RecordType": 2,
        "ResultStatus": "Succeeded",
        "UserKey": user.object_id,
        "UserType": 0,
        "Version": 1,
        "Workload": "Exchange",
        "ClientIP": ip,
        "UserId": user.upn,
        "AppId": client.app_id,
        "ClientIPAddress": ip,
        "ClientInfoString": client.client_info,
        "MailboxGuid": user.mailbox_guid,
        "MailboxOwnerUPN": user.upn,
        "Item": {"Id": format!("RgAAAA{}", &id[..8]), "Subject": "Re: quarterly planning", "SizeInBytes": 4096}
    })
}

/// A SharePoint `FileAccessed`.
pub fn file_accessed(
    id: &str,
    tenant: &Tenant,
    user: &User,
    ip: &str,
    at: DateTime<Utc>,
    n: u64,
) -> Value {
    let site = format!(
        "https://{}.sharepoint.com/sites/team",
        tenant.domain.trim_end_matches(".example")
    );
    json!({
        "CreationTime": ual_time(at),
        "Id": id,
        "Operation": "FileAccessed",
        "OrganizationId": tenant.id,
        "RecordType": 6,
        "UserKey": format!("i:0h.f|membership|{}", user.object_id),
        "UserType": 0,
        "Version": 1,
        "Workload": "SharePoint",
        "ClientIP": ip,
        "UserId": user.upn,
        "SiteUrl": site,
        "SourceFileName": format!("report-{n}.docx"),
        "SourceRelativeUrl": "Shared Documents",
        "ObjectId": format!("{site}/Shared Documents/report-{n}.docx"),
        "UserAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
    })
}

/// An Entra audit record: admin consent to an application.
pub fn consent(id: &str, tenant: &Tenant, admin: &User, app: &Client, at: DateTime<Utc>) -> Value {
    json!({
        "time": entra_time(at),
        "resourceId": format!("/tenants/{}/providers/Microsoft.aadiam", tenant.id),
        "operationName": "Consent to application",
        "operationVersion": "1.0",
        "category": "AuditLogs",
        "tenantId": tenant.id,
        "resultSignature": "None",
        "durationMs": 0,
        "callerIpAddress": admin.office.ip,
        "correlationId": id,
        "Level": 4,
        "properties": {
            "id": format!("Directory_{id}"),
            "category": "ApplicationManagement",
            "correlationId": id,
            "result": "success",
            "activityDisplayName": "Consent to application",
            "activityDateTime": entra_time(at),
            "loggedByService": "Core Directory",
            "operationType": "Assign",
            "initiatedBy": {"user": {"id": admin.object_id, "userPrincipalName": admin.upn, "ipAddress": admin.office.ip}},
            "targetResources": [{
                "id": app.app_id, "displayName": app.name, "type": "ServicePrincipal",
                "modifiedProperties": [
                    {"displayName": "ConsentAction.Permissions", "oldValue": null,
                     "newValue": "\"[] => [[Scope: Mail.Read, offline_access]]\""}
                ]
            }],
            "additionalDetails": [{"key": "User-Agent", "value": "Mozilla/5.0"}]
        }
    })
}
