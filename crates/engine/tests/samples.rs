//! The real public sample logs in `../shared/samples`: every record read, none rejected.

mod common;

use common::{read_paths, samples_dir};
use std::collections::HashMap;
use stormwatch_engine::LogKind;

#[test]
fn every_shared_sample_reads_with_zero_rejected() {
    let c = read_paths(&[samples_dir()]);
    assert!(c.failures.is_empty(), "{:?}", c.failures);
    assert_eq!(c.rejections.len(), 0, "{:#?}", c.messages());
    // The folder's README counts: 329 Sentinel rows, 73 Elastic o365 records, 35 sign-ins,
    // 25 audit records, 34 Splunk examples.
    assert_eq!(c.stats.events, 329 + 73 + 35 + 25 + 34);
    // Its README.md and LICENSE-NOTE.md files are documentation, skipped as not logs.
    assert_eq!(c.stats.inputs_skipped, 6);
}

#[test]
fn sample_kinds_and_files() {
    let c = read_paths(&[samples_dir()]);
    let mut per_file: HashMap<String, HashMap<LogKind, usize>> = HashMap::new();
    for e in &c.events {
        let dir = std::path::Path::new(&*e.origin.file)
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        *per_file.entry(dir).or_default().entry(e.kind).or_default() += 1;
    }
    let sentinel = &per_file["sentinel-training-lab"];
    assert_eq!(sentinel[&LogKind::Ual], 266 + 2);
    assert_eq!(sentinel[&LogKind::EntraSignIn], 56);
    assert_eq!(sentinel[&LogKind::EntraAudit], 5);
    assert_eq!(
        per_file["elastic-azure-signinlogs"][&LogKind::EntraSignIn],
        35
    );
    assert_eq!(
        per_file["elastic-azure-auditlogs"][&LogKind::EntraAudit],
        25
    );
    let splunk = &per_file["splunk-data-sources"];
    assert_eq!(splunk[&LogKind::Ual], 18);
    assert_eq!(splunk[&LogKind::EntraSignIn], 1);
    assert_eq!(splunk[&LogKind::EntraAudit], 15);
    // Elastic o365: all UAL except the two `Platform`-only probe records.
    let o365 = &per_file["elastic-o365"];
    assert_eq!(o365[&LogKind::Ual], 73 - 2);
    assert_eq!(o365[&LogKind::Generic], 2);
}

#[test]
fn mail_items_accessed_samples_carry_core_fields() {
    let c = read_paths(&[samples_dir().join("elastic-o365/test-exchange-access-event.json")]);
    let mail: Vec<_> = c
        .events
        .iter()
        .filter(|e| e.core.operation.as_deref() == Some("MailItemsAccessed"))
        .collect();
    assert_eq!(mail.len(), 1);
    let bind = mail[0];
    assert_eq!(
        bind.core.token_id.as_deref(),
        Some("ZZZZZZZZZZKKKKKKKKKKAA")
    );
    assert_eq!(
        bind.core.session_id.as_deref(),
        Some("dddddddd-aaaa-eeee-dddd-123456789012")
    );
    assert_eq!(
        bind.core.app_id.as_deref(),
        Some("7777777-6666-aaaa-bbbb-123456789012")
    );
    assert!(bind.core.time.is_some() && bind.core.tenant.is_some() && bind.core.user.is_some());

    let c = read_paths(&[samples_dir().join("sentinel-training-lab/office_activity.csv")]);
    let rest: Vec<_> = c
        .events
        .iter()
        .filter(|e| e.core.operation.as_deref() == Some("MailItemsAccessed"))
        .collect();
    assert_eq!(rest.len(), 3);
    assert!(rest
        .iter()
        .all(|e| e.record["OperationProperties"].is_object()));
    assert!(rest.iter().all(|e| e.core.time.is_some()));
}

#[test]
fn every_sample_record_has_a_time_except_known_probes() {
    let c = read_paths(&[samples_dir()]);
    let without: Vec<String> = c
        .events
        .iter()
        .filter(|e| e.core.time.is_none())
        .map(|e| e.origin.to_string())
        .collect();
    // Records that carry no time field at all (documented in docs/samples.md): the two
    // `Platform` probes, the AuditLogs hunting output and the inbox-rule export.
    assert_eq!(without.len(), 9, "{without:#?}");
    assert!(without.iter().all(|w| w.contains("platform-attribute")
        || w.contains("AuditLogs_Hunting")
        || w.contains("inbox_rule")));
}
