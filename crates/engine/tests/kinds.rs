//! Log kinds and core fields on the shapes real exports use.

mod common;

use common::read_bytes;
use serde_json::json;
use stormwatch_engine::LogKind;

fn one(record: serde_json::Value) -> stormwatch_engine::Event {
    let c = read_bytes("x", format!("{record}\n").as_bytes());
    assert!(c.rejections.is_empty(), "{:?}", c.messages());
    c.events.into_iter().next().expect("one event")
}

#[test]
fn ual_mail_items_accessed_core_fields() {
    let e = one(json!({
        "CreationTime": "2023-06-15T08:01:02", "Id": "rec-1", "Operation": "MailItemsAccessed",
        "OrganizationId": "B86AB9D4-FCF1-4B11-8A06-7A8F91B47FBD", "RecordType": 50, "Workload": "Exchange",
        "UserId": "Victim@Contoso.com", "ClientIPAddress": "::ffff:68.227.202.1", "AppId": "ABC",
        "ClientAppId": "DEF",
        "AppAccessContext": {"AADSessionId": "sess-1", "UniqueTokenId": "uti-1", "ClientAppId": "DEF"},
        "OperationProperties": "[{\"Name\":\"MailAccessType\",\"Value\":\"Sync\"},{\"Name\":\"IsThrottled\",\"Value\":\"False\"}]"
    }));
    assert_eq!(e.kind, LogKind::Ual);
    let c = &e.core;
    assert_eq!(c.time.unwrap().to_rfc3339(), "2023-06-15T08:01:02+00:00");
    assert_eq!(
        c.tenant.as_deref(),
        Some("b86ab9d4-fcf1-4b11-8a06-7a8f91b47fbd")
    );
    assert_eq!(c.user.as_deref(), Some("victim@contoso.com"));
    assert_eq!(c.ip.unwrap().to_string(), "68.227.202.1");
    assert_eq!(c.app_id.as_deref(), Some("abc"));
    assert_eq!(c.client_app_id.as_deref(), Some("def"));
    assert_eq!(c.session_id.as_deref(), Some("sess-1"));
    assert_eq!(c.token_id.as_deref(), Some("uti-1"));
    assert_eq!(c.record_id.as_deref(), Some("rec-1"));
    assert_eq!(c.operation.as_deref(), Some("MailItemsAccessed"));
    assert_eq!(c.workload.as_deref(), Some("Exchange"));
    assert_eq!(
        e.record["OperationProperties"]["MailAccessType"],
        json!("Sync")
    );
}

#[test]
fn entra_signin_in_diagnostic_envelope_and_graph_shapes() {
    let env = one(json!({
        "time": "12/12/2025 3:03:58 PM", "resourceId": "/tenants/4BBB79F7-5724-4c9e-95f3-de075f6ec090/providers/Microsoft.aadiam",
        "operationName": "Sign-in activity", "category": "NonInteractiveUserSignInLogs", "callerIpAddress": "81.171.241.231",
        "properties": {"id": "sid-1", "createdDateTime": "2025-12-12T15:03:58.123Z", "userPrincipalName": "Test@Example.com",
                       "appId": "APP", "ipAddress": "81.171.241.231", "sessionId": "S", "uniqueTokenIdentifier": "U",
                       "authenticationProcessingDetails": [{"key": "Is CAE Token", "value": "False"}]}
    }));
    assert_eq!(env.kind, LogKind::EntraSignIn);
    let c = &env.core;
    assert_eq!(
        c.tenant.as_deref(),
        Some("4bbb79f7-5724-4c9e-95f3-de075f6ec090")
    );
    assert_eq!(
        c.time.unwrap().to_rfc3339(),
        "2025-12-12T15:03:58.123+00:00"
    );
    assert_eq!(
        (c.session_id.as_deref(), c.token_id.as_deref()),
        (Some("S"), Some("U"))
    );
    assert_eq!(c.record_id.as_deref(), Some("sid-1"));
    assert_eq!(
        env.record["properties"]["authenticationProcessingDetails"]["Is CAE Token"],
        json!("False")
    );

    let graph = one(
        json!({"id": "g1", "createdDateTime": "2024-01-01T00:00:00Z", "userPrincipalName": "u@x.y",
                           "appId": "A", "ipAddress": "1.2.3.4", "status": {"errorCode": 0}, "resourceTenantId": "T"}),
    );
    assert_eq!(graph.kind, LogKind::EntraSignIn);
    assert_eq!(graph.core.tenant.as_deref(), Some("t"));
}

#[test]
fn pascal_case_envelope_keys_are_recognised() {
    let e = one(
        json!({"Category": "ServicePrincipalSignInLogs", "CreatedDateTime": "2025-07-01T10:45:17.5824212Z",
                       "TenantId": "2A0BB6EF-8a1d-4e8b-83d6-c682d5ca56db", "OperationName": "Sign-in activity"}),
    );
    assert_eq!(e.kind, LogKind::EntraSignIn);
    assert_eq!(
        e.core.tenant.as_deref(),
        Some("2a0bb6ef-8a1d-4e8b-83d6-c682d5ca56db")
    );
    assert!(e.core.time.is_some());
}

#[test]
fn entra_audit_and_tenant_from_resource_id() {
    let e = one(
        json!({"time": "2019-10-18T09:38:30.3102978Z", "category": "AuditLogs",
        "resourceId": "/tenants/8a4de8b5-095c-47d0-a96f-a75130c61d53/providers/Microsoft.aadiam", "operationName": "Add member to role",
        "properties": {"id": "aud-1", "activityDisplayName": "Add member to role",
                       "initiatedBy": {"user": {"userPrincipalName": "Admin@X.com", "ipAddress": "10.0.0.9"}}}}),
    );
    assert_eq!(e.kind, LogKind::EntraAudit);
    assert_eq!(
        e.core.tenant.as_deref(),
        Some("8a4de8b5-095c-47d0-a96f-a75130c61d53")
    );
    assert_eq!(e.core.user.as_deref(), Some("admin@x.com"));
    assert_eq!(e.core.operation.as_deref(), Some("Add member to role"));
}

#[test]
fn windows_event_json_and_generic() {
    let w = one(
        json!({"Event": {"System": {"EventID": 4624, "EventRecordID": 77,
        "TimeCreated": {"#attributes": {"SystemTime": "2025-11-27T07:40:10.165324Z"}}, "Channel": "Security"},
        "EventData": {"TargetUserName": "bob", "IpAddress": "10.1.1.1"}}}),
    );
    assert_eq!(w.kind, LogKind::Windows);
    assert_eq!(w.core.operation.as_deref(), Some("4624"));
    assert_eq!(w.core.record_id.as_deref(), Some("77"));
    let g = one(json!({"timestamp": 1700000000, "ip": "1.1.1.1", "message": "hi"}));
    assert_eq!(g.kind, LogKind::Generic);
    assert_eq!(
        g.core.time.unwrap().to_rfc3339(),
        "2023-11-14T22:13:20+00:00"
    );
}

#[test]
fn powershell_stringified_bag_is_tolerated() {
    let e = one(json!({"Workload": "Exchange", "Operation": "Set-Mailbox",
                       "Parameters": ["@{Name=Identity; Value=alice}", "@{Name=ForwardingSmtpAddress; Value=smtp:x@evil.test}"]}));
    assert_eq!(
        e.record["Parameters"]["ForwardingSmtpAddress"],
        json!("smtp:x@evil.test")
    );
}
