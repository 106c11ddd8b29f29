//! Every layout and encoding the ingest layer reads, decided by content (names here are neutral).

mod common;

use common::{gzip, read_bytes, zstd};
use serde_json::json;
use stormwatch_engine::decode::Layout;
use stormwatch_engine::{LogKind, Position};

const UAL_1: &str = r#"{"CreationTime":"2024-02-01T16:07:34","Id":"a1","Operation":"MailItemsAccessed","OrganizationId":"AAAAAAAA-0000-0000-0000-000000000001","RecordType":50,"Workload":"Exchange","UserId":"Alice@Contoso.com","ClientIPAddress":"[2603:1036:4:3f::5]:1672","AppId":"00000002-0000-0FF1-CE00-000000000000","OperationProperties":[{"Value":"Bind","Name":"MailAccessType"}]}"#;
const UAL_2: &str = r#"{"CreationTime":"2024-02-01T16:08:00","Id":"a2","Operation":"Send","OrganizationId":"aaaaaaaa-0000-0000-0000-000000000001","RecordType":2,"Workload":"Exchange","UserId":"bob@contoso.com","ClientIP":"10.0.0.1:5555"}"#;

fn ids(c: &common::Collected) -> Vec<String> {
    c.events
        .iter()
        .map(|e| e.core.record_id.clone().unwrap_or_default())
        .collect()
}

#[test]
fn json_lines_with_crlf_and_blank_lines() {
    let text = format!("{UAL_1}\r\n\r\n{UAL_2}\r\n");
    let c = read_bytes("x", text.as_bytes());
    assert_eq!(c.layout(), Layout::JsonLines);
    assert_eq!(ids(&c), ["a1", "a2"]);
    assert_eq!(c.events[1].origin.position, Position::Line(3));
    assert!(c.rejections.is_empty());
}

#[test]
fn json_array_management_api_blob() {
    let text = format!("[\n{UAL_1},\n{UAL_2}\n]");
    let c = read_bytes("x", text.as_bytes());
    assert_eq!(c.layout(), Layout::JsonArray);
    assert_eq!(ids(&c), ["a1", "a2"]);
    assert_eq!(c.events[1].origin.position, Position::Record(2));
}

#[test]
fn single_pretty_object_and_concatenated_pretty_values() {
    let a: serde_json::Value = serde_json::from_str(UAL_1).unwrap();
    let b: serde_json::Value = serde_json::from_str(UAL_2).unwrap();
    let one = serde_json::to_string_pretty(&a).unwrap();
    let c = read_bytes("x", one.as_bytes());
    assert_eq!(c.layout(), Layout::JsonStream);
    assert_eq!(ids(&c), ["a1"]);
    let two = format!("{}\n{}\n", one, serde_json::to_string_pretty(&b).unwrap());
    let c = read_bytes("x", two.as_bytes());
    assert_eq!(ids(&c), ["a1", "a2"]);
    let second_line = one.lines().count() as u64 + 1;
    assert_eq!(c.events[1].origin.position, Position::Line(second_line));
}

#[test]
fn envelopes_value_records_and_events() {
    let graph = json!({"@odata.context": "x", "value": [
        {"id": "s1", "createdDateTime": "2024-02-01T10:00:00Z", "userPrincipalName": "a@b.c", "appId": "X", "ipAddress": "1.2.3.4", "status": {"errorCode": 0}},
        {"id": "s2", "createdDateTime": "2024-02-01T11:00:00Z", "userPrincipalName": "a@b.c", "appId": "X", "ipAddress": "1.2.3.4", "status": {"errorCode": 0}}
    ]});
    let c = read_bytes(
        "x",
        serde_json::to_string_pretty(&graph).unwrap().as_bytes(),
    );
    assert_eq!(ids(&c), ["s1", "s2"]);
    assert!(c.events.iter().all(|e| e.kind == LogKind::EntraSignIn));
    assert_eq!(c.events[1].origin.position, Position::Record(2));

    // Event Hub: one {"records":[…]} envelope a line.
    let rec = |id: &str| json!({"time": "2024-02-01T10:00:00Z", "category": "SignInLogs", "tenantId": "T1", "properties": {"id": id}});
    let text = format!(
        "{}\n{}\n",
        json!({"records": [rec("r1"), rec("r2")]}),
        json!({"records": [rec("r3")]})
    );
    let c = read_bytes("x", text.as_bytes());
    assert_eq!(ids(&c), ["r1", "r2", "r3"]);
    assert_eq!(c.events[1].origin.position, Position::LineRecord(1, 2));
    assert_eq!(c.events[2].origin.position, Position::LineRecord(2, 1));
    assert_eq!(c.events[0].core.tenant.as_deref(), Some("t1"));

    // Elastic pipeline tests: {"events":[{"o365audit":{…}}, {"event":{"original":"…"}}]}.
    let text = json!({"events": [{"o365audit": serde_json::from_str::<serde_json::Value>(UAL_1).unwrap()},
                                  {"event": {"original": UAL_2}}]});
    let c = read_bytes("x", text.to_string().as_bytes());
    assert_eq!(ids(&c), ["a1", "a2"]);
}

fn csv_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[test]
fn purview_csv_classic_and_current() {
    let classic = format!(
        "CreationDate,UserIds,Operations,AuditData\r\n2024-02-01T16:07:34.0000000Z,alice@contoso.com,MailItemsAccessed,{}\r\n",
        csv_quote(UAL_1)
    );
    let c = read_bytes("x", classic.as_bytes());
    assert_eq!(c.layout(), Layout::PurviewCsv);
    assert_eq!(ids(&c), ["a1"]);
    assert_eq!(c.events[0].kind, LogKind::Ual);
    assert_eq!(c.events[0].origin.position, Position::Record(1));

    let current = format!(
        "RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames\n\
         a1,2024-02-01T16:07:34,ExchangeItemAggregated,MailItemsAccessed,alice@contoso.com,{},,\n\
         a2,2024-02-01T16:08:00,ExchangeItem,Send,bob@contoso.com,{},,\n",
        csv_quote(UAL_1),
        csv_quote(UAL_2)
    );
    let c = read_bytes("x", current.as_bytes());
    assert_eq!(c.layout(), Layout::PurviewCsv);
    assert_eq!(ids(&c), ["a1", "a2"]);
}

#[test]
fn sentinel_csv_rows_with_json_columns() {
    let header = "\u{feff}TenantId,TimeGenerated [UTC],Operation,OrganizationId,UserId,ClientIP,OfficeWorkload,OperationProperties,ExternalAccess,Type";
    let props = csv_quote(r#"[{"Value":"Bind","Name":"MailAccessType"}]"#);
    let text = format!(
        "{header}\r\nWS,\"4/28/2021, 2:54:37.000 PM\",MailItemsAccessed,2AD3FC79-1859-42FA-9011-6F8DF2251B22,adele@m365x.com,[2603:1036:4:3f::5]:1672,Exchange,{props},FALSE,OfficeActivity\r\n"
    );
    let c = read_bytes("x", text.as_bytes());
    assert_eq!(c.layout(), Layout::Csv);
    let e = &c.events[0];
    assert_eq!(e.kind, LogKind::Ual);
    assert_eq!(
        e.core.tenant.as_deref(),
        Some("2ad3fc79-1859-42fa-9011-6f8df2251b22")
    );
    assert_eq!(
        e.core.ip.map(|i| i.to_string()).as_deref(),
        Some("2603:1036:4:3f::5")
    );
    assert_eq!(
        e.core.time.map(|t| t.to_rfc3339()).as_deref(),
        Some("2021-04-28T14:54:37+00:00")
    );
    assert_eq!(
        e.record["OperationProperties"]["MailAccessType"],
        json!("Bind")
    );
    assert_eq!(e.record["ExternalAccess"], json!(false));
    assert!(
        e.record.get("TimeGenerated").is_some(),
        "[UTC] suffix dropped"
    );
}

#[test]
fn gzip_and_zstd_by_magic_bytes_not_name() {
    let text = format!("{UAL_1}\n{UAL_2}\n");
    for (name, bytes) in [
        ("plain.gz", text.clone().into_bytes()),
        ("looks-plain.json", gzip(text.as_bytes())),
        ("x.zst.txt", zstd(text.as_bytes())),
    ] {
        let c = read_bytes(name, &bytes);
        assert_eq!(ids(&c), ["a1", "a2"], "{name}");
    }
    let c = read_bytes("x", &gzip(text.as_bytes()));
    assert_eq!(c.infos[0].compression, "gzip");
    // Concatenated gzip members (as `cat a.gz b.gz` makes) are one stream.
    let mut two = gzip(format!("{UAL_1}\n").as_bytes());
    two.extend(gzip(format!("{UAL_2}\n").as_bytes()));
    assert_eq!(ids(&read_bytes("x", &two)), ["a1", "a2"]);
}

#[test]
fn utf8_bom_and_utf16_with_bom() {
    let text = format!("{UAL_1}\n{UAL_2}\n");
    let mut bom = vec![0xef, 0xbb, 0xbf];
    bom.extend_from_slice(text.as_bytes());
    assert_eq!(ids(&read_bytes("x", &bom)), ["a1", "a2"]);

    let mut le = vec![0xff, 0xfe];
    le.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
    let c = read_bytes("x", &le);
    assert_eq!(ids(&c), ["a1", "a2"]);
    assert_eq!(c.infos[0].encoding, "utf-16le");

    let mut be = vec![0xfe, 0xff];
    be.extend(text.encode_utf16().flat_map(|u| u.to_be_bytes()));
    assert_eq!(ids(&read_bytes("x", &be)), ["a1", "a2"]);
}

#[test]
fn directories_are_read_recursively_in_path_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
    std::fs::write(dir.path().join("b/c/z.json"), format!("{UAL_2}\n")).unwrap();
    std::fs::write(dir.path().join("a.json"), format!("{UAL_1}\n")).unwrap();
    std::fs::write(dir.path().join(".hidden"), "junk\n").unwrap();
    std::fs::write(dir.path().join("notes.md"), "# Notes\nnot a log\n").unwrap();
    let c = common::read_paths(&[dir.path().to_path_buf()]);
    assert_eq!(ids(&c), ["a1", "a2"]);
    assert_eq!(
        c.stats.inputs_skipped, 1,
        "notes.md is not a log and is skipped"
    );
    assert!(c.rejections.is_empty());
}

#[test]
fn empty_and_whitespace_only_files_hold_no_records() {
    for bytes in [&b""[..], b"\n\n  \r\n"] {
        let c = read_bytes("x", bytes);
        assert_eq!(c.stats.records_read, 0);
        assert_eq!(c.layout(), Layout::Empty);
    }
}
