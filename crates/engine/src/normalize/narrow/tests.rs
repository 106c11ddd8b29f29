//! Tests of the narrow reading: that it agrees with the whole reading on every line it
//! takes, gives up where it must, and looks names up right.

use super::*;
use crate::event::{Event, Position};
use crate::normalize::normalize;
use serde_json::Value;

fn origin() -> Origin {
    Origin {
        file: "t.jsonl".into(),
        position: Position::Line(7),
    }
}

fn whole(line: &str) -> Result<Event, String> {
    let value = serde_json::from_str::<Value>(line).map_err(|e| e.to_string())?;
    normalize(value, origin())
}

/// The narrow reading, checked against the whole one wherever it gives a read.
fn narrow(line: &str) -> Option<MailRead> {
    let read = mail_read(line.as_bytes(), origin())?;
    let full = whole(line).expect("a line read narrowly reads whole");
    assert_eq!(full.kind, LogKind::Ual, "{line}");
    assert_eq!(read, MailRead::of(&full), "{line}");
    Some(read)
}

const MAIL: &str = r#"{"CreationTime":"2023-05-22T07:08:47","Id":"af67adc2","Operation":"MailItemsAccessed","OrganizationId":"15B7BEC7-b67b","RecordType":50,"ResultStatus":"Succeeded","UserType":0,"Workload":"Exchange","ClientIP":"198.51.100.178:4431","UserId":"Xen.Evans@fabrikam.example","AppId":"d3590ed6","ClientAppId":"d3590ed6","ClientInfoString":"Client=OWA","ExternalAccess":false,"MailboxOwnerUPN":"Xen.Evans@fabrikam.example","OperationProperties":[{"Name":"MailAccessType","Value":"Sync"},{"Name":"IsThrottled","Value":"True"}],"OriginatingServer":"SA1PR12MB7197 (15.20.6521.024)\r\n","AppAccessContext":{"IssuedAtTime":"2023-05-22T07:05:05","UniqueTokenId":"mAHWUd63","AADSessionId":"5b816fa7","APIId":"00000002"},"Folders":[{"FolderItems":[{"InternetMessageId":"<a@b>","SizeInBytes":2048},{"InternetMessageId":"<c@d>"}],"Id":"LgAA","Path":"\\Inbox"},{"FolderItems":[{"InternetMessageId":"<e@f>"}]}],"OperationCount":2,"SessionId":"5b816fa7"}"#;

const SIGN_IN: &str = r#"{"CreationTime":"2023-05-22T07:00:01","Id":"08a7bed6","Operation":"UserLoggedIn","OrganizationId":"A8DD3FBE-0127","RecordType":15,"ResultStatus":"Success","UserKey":"2caaf2bd","UserType":0,"Version":1,"Workload":"AzureActiveDirectory","ClientIP":"192.0.2.6","ObjectId":"00000002-0000","UserId":"Jules.Tanaka@contoso.example","AzureActiveDirectoryEventType":1,"ExtendedProperties":[{"Name":"ResultStatusDetail","Value":"Success"},{"Name":"UserAgent","Value":"Microsoft Office/16.0"}],"ApplicationId":"d3590ed6","ErrorNumber":"0"}"#;

/// A line read narrowly before the gate: the values of the covered fields are looked at
/// for the literals, whatever else the line holds.
#[test]
fn a_checked_reading_looks_at_the_covered_fields_only() {
    let mut interest = crate::prefilter::Interest::nothing();
    interest.narrow_literals(["MailItemsAccessed"]);
    interest.literals_in(["evil", "4242"], &["clientinfostring", "OperationCount"]);
    let prefilter = interest.compile().expect("a prefilter");
    let check = prefilter.narrow_check().expect("scoped literals: a check");
    let checked = |line: &str| mail_read_checked(line.as_bytes(), origin(), Some(check));
    assert_eq!(checked(MAIL), narrow(MAIL));
    let elsewhere = MAIL.replace("SA1PR12MB7197", "EVIL-SERVER");
    assert_eq!(
        checked(&elsewhere),
        narrow(&elsewhere),
        "not a covered field"
    );
    let hits = [
        MAIL.replace("Client=OWA", "Client=EvilOWA"),
        MAIL.replace(
            "\"ClientInfoString\":\"Client=OWA\"",
            "\"CLIENTINFOSTRING\":\"Client=EvilOWA\"",
        ),
        MAIL.replace("\"OperationCount\":2", "\"OperationCount\":4242"),
        // JSON text in a string, whose escape normalization would decode.
        MAIL.replace("Client=OWA", r#"{\"a\":\"\\u0065vil\"}"#),
    ];
    for line in &hits[..3] {
        assert!(narrow(line).is_some() && checked(line).is_none(), "{line}");
    }
    assert!(checked(&hits[3]).is_none(), "{}", hits[3]);
    let mut covers_folders = crate::prefilter::Interest::nothing();
    covers_folders.narrow_literals(["MailItemsAccessed"]);
    covers_folders.literals_in(["evil"], &["Folders"]);
    let prefilter = covers_folders.compile().expect("a prefilter");
    let check = prefilter.narrow_check();
    assert!(
        mail_read_checked(MAIL.as_bytes(), origin(), check).is_none(),
        "Folders is read only in part: the line goes to the gate"
    );
    // Nor does it pass where its value is one the check passed under another key.
    let mut covers_both = crate::prefilter::Interest::nothing();
    covers_both.narrow_literals(["MailItemsAccessed"]);
    covers_both.literals_in(["evil"], &["Folders", "ClientIP"]);
    let prefilter = covers_both.compile().expect("a prefilter");
    let check = prefilter.narrow_check();
    let folders = MAIL.replacen(
        "\"Folders\":[",
        "\"Folders\":\"198.51.100.178:4431\",\"F\":[",
        1,
    );
    assert!(narrow(&folders).is_some(), "{folders}");
    assert!(mail_read_checked(folders.as_bytes(), origin(), check).is_none());
}

#[test]
fn sign_ins_read_narrowly_agree_with_whole_ones() {
    let read = narrow(SIGN_IN).expect("read narrowly");
    assert_eq!(read.reading, Reading::SignIn { succeeded: true });
    assert_eq!(read.core.app_id.as_deref(), Some("d3590ed6"));
    assert_eq!(read.core.tenant.as_deref(), Some("a8dd3fbe-0127"));
    let failed = [
        SIGN_IN.replace("\"Version\"", "\"ResultType\":\"50126\",\"Version\""),
        SIGN_IN.replace("\"Version\"", "\"resultType\":50126,\"Version\""),
        SIGN_IN.replace(
            "\"Version\"",
            "\"status\":{\"errorCode\":50126},\"Version\"",
        ),
    ];
    for line in &failed {
        let read = narrow(line).expect("read narrowly");
        assert_eq!(read.reading, Reading::SignIn { succeeded: false }, "{line}");
    }
    let succeeded = [
        SIGN_IN.replace("\"Version\"", "\"ResultType\":\"0\",\"Version\""),
        SIGN_IN.replace("\"Version\"", "\"status\":{\"errorCode\":0},\"Version\""),
        // Not the exact name the sign-in join looks up: not a result.
        SIGN_IN.replace("\"Version\"", "\"RESULTTYPE\":\"50126\",\"Version\""),
    ];
    for line in &succeeded {
        let read = narrow(line).expect("read narrowly");
        assert_eq!(read.reading, Reading::SignIn { succeeded: true }, "{line}");
    }
    // An envelope's status is read whole.
    let enveloped = SIGN_IN.replace("\"Version\"", "\"properties\":{},\"Version\"");
    assert!(narrow(&enveloped).is_none());
}

/// Variants of `MAIL` that are read narrowly.
fn read_narrowly() -> Vec<String> {
    vec![
        // Case variants of looked-up keys; empty and null values.
        MAIL.replace("\"OrganizationId\"", "\"organizationid\""),
        MAIL.replace("\"ClientIP\"", "\"CLIENTIP\""),
        MAIL.replace(
            "\"AppId\":\"d3590ed6\"",
            "\"AppId\":\"\",\"ApplicationId\":\"x\"",
        ),
        MAIL.replace("\"AppId\":\"d3590ed6\"", "\"AppId\":null"),
        MAIL.replace("\"SessionId\"", "\"Session\\u0049d\""),
        MAIL.replace("\"MailboxOwnerUPN\":", "\"MailboxOwnerUPN\":7,\"x\":"),
        MAIL.replace("\"OperationCount\":2", "\"OperationCount\":\"9\""),
        MAIL.replace(
            "\"CreationTime\":\"2023-05-22T07:08:47\"",
            "\"TimeGenerated\":\"2023-05-22T07:08:47Z\",\"Type\":\"OfficeActivity\"",
        ),
        // Skipped values in every shape the walk takes.
        MAIL.replace(
            "\"UserType\":0",
            "\"UserType\":-0.25,\"X\":[[{\"a\":[true,null,\"\\u00e9\\/\\t\"]}],{}],\"Y\":{}",
        ),
        MAIL.replace(
            "\"UserType\":0",
            &format!("\"UserType\":{}{}", "[".repeat(100), "]".repeat(100)),
        ),
        // Folders and their items in every shape.
        MAIL.replace("\"Folders\":[", "\"Folders\":[7,null,[1],\"Inbox\","),
        MAIL.replace(
            "\"Folders\":[",
            "\"Folders\":[{\"FolderItems\":[1,2],\"FolderItems\":\"x\"},",
        ),
        MAIL.replace(
            "\"Folders\":[",
            "\"Folders\":[{\"FolderItems\":\"x\",\"FolderItems\":[1,2]},",
        ),
        MAIL.replace("\"Folders\":[", "\"Folders\":[{\"folderitems\":[1,2]},"),
        MAIL.replace("\"Folders\":[", "\"Folders\":{\"FolderItems\":[1]},\"F\":["),
        MAIL.replace("\"Folders\":[", "\"Folders\":true,\"F\":["),
        // Lists that are not bags, and bags in either key order.
        MAIL.replace("\"OperationProperties\":[", "\"OperationProperties\":[7,"),
        MAIL.replace(
            "\"OperationProperties\":[",
            "\"OperationProperties\":[{\"Value\":\"x\"},",
        ),
        MAIL.replace(
            "\"OperationProperties\":[",
            "\"OperationProperties\":[],\"X\":[",
        ),
        MAIL.replace(
            "\"OperationProperties\":[",
            "\"OperationProperties\":{\"MailAccessType\":\"Sync\"},\"X\":[",
        ),
        MAIL.replace(
            "\"OperationProperties\":[",
            "\"OperationProperties\":1.5e3,\"X\":[",
        ),
        MAIL.replace(
            "{\"Name\":\"IsThrottled\",\"Value\":\"True\"}",
            "{\"VALUE\":\"True\",\"key\":\"IsThrottled\"}",
        ),
    ]
}

/// Variants of `MAIL` that are valid UAL records read whole: what the narrow reading does not
/// reshape itself (lite::normalize), an object naming a key twice, and where the walk gives up.
fn read_whole() -> Vec<String> {
    vec![
        // JSON in a string, in a folder list or as the list.
        MAIL.replace("\"Folders\":[", "\"Folders\":[\"{\\\"FolderItems\\\":[1,2,3,4]}\","),
        MAIL.replace("\"Folders\":[", "\"Folders\":\"[{\\\"FolderItems\\\":[1,2,3,4,5,6,7,8,9]}]\",\"F\":["),
        // Bags: a key twice, a name twice, more than a value, a PowerShell entry.
        MAIL.replace("\"OperationProperties\":[", "\"OperationProperties\":[{\"Name\":\"MailAccessType\",\"Name\":\"IsThrottled\",\"Value\":\"False\",\"Value\":\"True\"},"),
        MAIL.replace("\"OperationProperties\":[", "\"OperationProperties\":[{\"Name\":\"MailAccessType\",\"Value\":\"Bind\"},"),
        MAIL.replace("\"OperationProperties\":[", "\"OperationProperties\":[{\"NAME\":\"IsThrottled\",\"value\":\"True\",\"Old\":1},"),
        MAIL.replace("\"OperationProperties\":[", "\"OperationProperties\":[{\"key\":7,\"Name\":\"IsThrottled\",\"Value\":\"True\"},"),
        MAIL.replace("\"OperationProperties\":[", "\"OperationProperties\":[\"@{Name=IsThrottled; Value=False}\","),
        // Bags as JSON text and PowerShell text.
        MAIL.replace(
            "\"OperationProperties\":[{\"Name\":\"MailAccessType\",\"Value\":\"Sync\"},{\"Name\":\"IsThrottled\",\"Value\":\"True\"}]",
            "\"OperationProperties\":\"[{\\\"Value\\\":\\\"Sync\\\",\\\"Name\\\":\\\"MailAccessType\\\"}]\"",
        ),
        MAIL.replace(
            "\"OperationProperties\":[{\"Name\":\"MailAccessType\",\"Value\":\"Sync\"},{\"Name\":\"IsThrottled\",\"Value\":\"True\"}]",
            "\"OperationProperties\":[\"@{Name=IsThrottled; Value=True}\"]",
        ),
        // A key twice in a kept object.
        MAIL.replace("\"APIId\"", "\"AADSessionId\":\"x\",\"APIId\""),
        // Where the walk gives up (scan): an exponent, a surrogate escape, deep nesting.
        MAIL.replace("\"UserType\":0", "\"UserType\":1e2"),
        MAIL.replace("\"<c@d>\"", "\"\\ud83d\\ude00\""),
        MAIL.replace("\"UserType\":0", &format!("\"UserType\":{}{}", "[".repeat(101), "]".repeat(101))),
    ]
}

#[test]
fn narrow_and_whole_readings_agree() {
    let read = narrow(MAIL).expect("read narrowly");
    let Reading::Access(fields) = &read.reading else {
        panic!("a mail access: {read:?}");
    };
    assert_eq!(fields.items, 3);
    assert!(fields.sync && fields.throttled);
    assert_eq!(read.core.ip, Some("198.51.100.178".parse().expect("ip")));
    let variants = read_narrowly();
    for line in &variants {
        assert!(narrow(line).is_some(), "read narrowly: {line}");
    }
    // What the narrow reading does not reshape itself (lite::normalize), or an object
    // naming a key twice: read whole.
    let read_whole = read_whole();
    for line in &read_whole {
        assert_ne!(line, MAIL);
        let event = whole(line).expect("a JSON object");
        assert_eq!(event.kind, LogKind::Ual, "{line}");
        assert!(
            mail_read(line.as_bytes(), origin()).is_none(),
            "read whole: {line}"
        );
    }
}

/// One reader over many lines, of other shapes in turn, reads each as a fresh one does.
#[test]
fn a_reader_reads_each_line_as_a_fresh_one() {
    let reordered = MAIL
        .replacen("{\"CreationTime\":\"2023-05-22T07:08:47\",", "{", 1)
        .replacen(
            "\"SessionId\"",
            "\"CreationTime\":\"2023-05-22T07:08:47\",\"SessionId\"",
            1,
        );
    // A covered value that passed the check on a line before passes again only where it is
    // the same, byte for byte: not where it goes on past what passed.
    let longer = |from: &str, to: &str| MAIL.replacen(from, to, 1);
    let mut lines = vec![
        MAIL.to_string(),
        MAIL.to_string(),
        longer("\"Exchange\"", "\"Exchange evil\""),
        MAIL.to_string(),
        longer("\"Client=OWA\"", "\"Client=OWA evil\""),
        // A value the check did not pass is looked at again, on each line.
        longer("\"Client=OWA\"", "\"Client=OWA evil\""),
        // A value passed under one key, then under another, then longer under the other.
        longer("\"Exchange\"", "\"Client=OWA\""),
        longer("\"Client=OWA\"", "\"Exchange\""),
        longer("\"Client=OWA\"", "\"Exchange evil\""),
        longer("\"Exchange\"", "\"Client=OWA evil\""),
        // Two values remembered for a key, in turn; then the older one goes on past itself.
        SIGN_IN.to_string(),
        MAIL.to_string(),
        SIGN_IN.to_string(),
        MAIL.to_string(),
        SIGN_IN.replacen(
            "\"AzureActiveDirectory\"",
            "\"AzureActiveDirectory evil\"",
            1,
        ),
        SIGN_IN.to_string(),
        reordered,
    ];
    for line in read_narrowly().into_iter().chain(read_whole()) {
        lines.extend([MAIL.to_string(), line.clone(), line, SIGN_IN.to_string()]);
    }
    let mut interest = crate::prefilter::Interest::nothing();
    interest.narrow_literals(["MailItemsAccessed"]);
    interest.literals_in(["evil"], &["clientinfostring", "Workload"]);
    let prefilter = interest.compile().expect("a prefilter");
    let check = prefilter.narrow_check().expect("scoped literals: a check");
    let (mut plain, mut checked) = (Reader::new(None), Reader::new(Some(check)));
    let mut read = 0;
    for line in &lines {
        let fresh = mail_read(line.as_bytes(), origin());
        assert_eq!(plain.read(line.as_bytes(), origin()), fresh, "{line}");
        let fresh = mail_read_checked(line.as_bytes(), origin(), Some(check));
        assert_eq!(checked.read(line.as_bytes(), origin()), fresh, "{line}");
        read += usize::from(fresh.is_some());
    }
    assert!(
        read > lines.len() / 2,
        "{read} of {} read narrowly",
        lines.len()
    );
}

/// A name's slot is found in any ASCII case of it, and only so: flipping a letter's case keeps
/// it, flipping the same bit of any other byte does not (`@` is not `` ` ``).
#[test]
fn names_match_in_any_ascii_case_only() {
    for (i, (name, _)) in NAMES.iter().enumerate() {
        for at in 0..name.len() {
            let mut other = name.as_bytes().to_vec();
            other[at] ^= 0x20;
            let other = String::from_utf8(other).expect("ascii");
            let letter = name.as_bytes()[at].is_ascii_alphabetic();
            assert_eq!(slot(&other), letter.then_some(i), "{other}");
        }
    }
    assert_eq!(slot("AppAccessContext"), slot("appaccesscontext"));
    assert_eq!(slot("APPACCESSCONTEXT"), slot("appaccesscontext"));
    assert_eq!(slot("AppAccess`ontext"), None);
    assert_eq!(slot("appaccesscontexu"), None);
    assert_eq!(slot("AppAccessContex"), None);
}

/// A record holding one name of `NAMES` gives it, in any case, and nothing for every other
/// name: a [`Name`] finds its place when it is made, comparing the names it probes. (`NAMES`
/// has names that share a first probe, so a name that took the first place it probed would
/// give another's value.)
#[test]
fn a_held_name_answers_for_itself_only() {
    let shared = NAMES.iter().filter(|(name, _)| {
        let at = hash(name.as_bytes());
        TABLE[at] != 0 && NAMES[usize::from(TABLE[at] - 1)].0 != *name
    });
    assert!(shared.count() > 0, "no two names share a first probe");
    for (held, (name, _)) in NAMES.iter().enumerate() {
        let mut record = Narrow {
            kept: Vec::new(),
            len: 0,
            places: [0; NAMES.len()],
        };
        *record.next(&Cow::Borrowed(name)) = Lite::Bool(true);
        record.len = 1;
        record.places[held] = 1;
        for (other, (looked_up, _)) in NAMES.iter().enumerate() {
            let upper = looked_up.to_ascii_uppercase();
            for looked_up in [*looked_up, upper.as_str()] {
                let found = record.get_ci(&Name::new(looked_up)).is_some();
                assert_eq!(found, other == held, "{name} held, {looked_up} looked up");
            }
        }
    }
}

#[test]
fn every_name_has_its_slot_in_any_case() {
    for (i, (name, _)) in NAMES.iter().enumerate() {
        assert_eq!(*name, name.to_ascii_lowercase(), "NAMES are lower-case");
        assert_eq!(slot(name), Some(i), "{name}");
        assert_eq!(slot(&name.to_ascii_uppercase()), Some(i), "{name}");
    }
    for other in ["", "ResultStatus", "UserKey", "AppIdX", "Folder", "x"] {
        assert_eq!(slot(other), None, "{other}");
    }
    // One byte changed anywhere: another name, if any (the words compared overlap).
    for (name, _) in NAMES {
        for at in 0..name.len() {
            let mut other = name.as_bytes().to_vec();
            other[at] = b'#';
            let other = String::from_utf8(other).expect("ascii");
            assert_eq!(slot(&other), None, "{other}");
        }
    }
}

#[test]
fn wrappers_envelopes_and_other_records_are_read_whole() {
    for line in [
        format!(r#"{{"AuditData":{MAIL},"CreationDate":"x","Operations":"y"}}"#),
        format!(r#"{{"o365audit":{MAIL}}}"#),
        MAIL.replace("\"Id\"", "\"properties\":{},\"Id\""),
        MAIL.replace("\"Id\"", "\"Records\":[],\"Id\""),
        // A looked-up key given twice, in any case.
        MAIL.replace("\"ClientIP\"", "\"clientIP\":\"10.0.0.1\",\"CLIENTIP\""),
        MAIL.replace("\"UserId\"", "\"userid\":\"a@b.example\",\"UserId\""),
        MAIL.replace("\"Folders\":[", "\"Folders\":[],\"Folders\":["),
        MAIL.replace("MailItemsAccessed", "Send"),
        MAIL.replace("\"Workload\":\"Exchange\",", "")
            .replace("\"RecordType\":50,", ""),
        "[1]".to_string(),
    ] {
        assert!(mail_read(line.as_bytes(), origin()).is_none(), "{line}");
    }
}

/// Mutations of a mail line (bytes changed, inserted, deleted, spans repeated): never a
/// panic, and wherever the narrow reading gives a read, the whole one agrees with it.
#[test]
fn mutated_lines_are_read_alike_or_read_whole() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    const BYTES: &[u8] = b"\"\\{}[]:,0123456789eE+-.ntfu aAzZ\x7f\xc3\xa9\xff";
    // The reading before the gate, over fields the mutations reach.
    let mut interest = crate::prefilter::Interest::nothing();
    interest.narrow_literals(["MailItemsAccessed", "UserLoggedIn"]);
    interest.literals_in(
        ["owa", "zz"],
        &["ClientIP", "Operation", "ClientInfoString"],
    );
    let prefilter = interest.compile().expect("a prefilter");
    let (mut narrowly, mut tried, mut checked) = (0, 0, 0);
    for n in 0..4000 {
        let mut line = [MAIL, SIGN_IN][n % 2].as_bytes().to_vec();
        for _ in 0..1 + next(3) {
            let at = next(line.len());
            match next(4) {
                0 => line[at] = BYTES[next(BYTES.len())],
                1 => line.insert(at, BYTES[next(BYTES.len())]),
                2 => {
                    let end = (at + 1 + next(12)).min(line.len());
                    line.drain(at..end);
                }
                _ => {
                    let end = (at + 1 + next(40)).min(line.len());
                    let span = line[at..end].to_vec();
                    line.splice(at..at, span);
                }
            }
        }
        tried += 1;
        let first = mail_read_checked(&line, origin(), prefilter.narrow_check());
        let Some(read) = mail_read(&line, origin()) else {
            assert!(first.is_none(), "{}", String::from_utf8_lossy(&line));
            continue;
        };
        if let Some(first) = first {
            assert_eq!(first, read);
            checked += 1;
        }
        narrowly += 1;
        let text = std::str::from_utf8(&line).expect("read narrowly, so UTF-8");
        let full = whole(text).expect("read narrowly, so it reads whole");
        assert_eq!(read, MailRead::of(&full), "{text}");
    }
    // The mutations leave many lines readable, so the agreement is tested, not vacuous.
    assert!(narrowly > tried / 10, "{narrowly} of {tried} read narrowly");
    assert!(
        checked > narrowly / 4 && checked < narrowly,
        "{checked} of {narrowly} read before the gate"
    );
}

#[test]
fn what_a_whole_parse_rejects_is_not_read_narrowly() {
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let cases = [
        MAIL.replace("\"UserType\":0", "\"UserType\":1e400"),
        MAIL.replace("\"UserType\":0", &format!("\"UserType\":{deep}")),
        MAIL.replace("\"UserType\":0", "\"UserType\":0,\"UserType\":0,"),
        format!("{MAIL} x"),
        format!("{MAIL}}}"),
        MAIL.replace("\"UserType\":0", "\"UserType\":0,"),
        MAIL.replace("\"UserType\":0", "\"UserType\":01"),
        MAIL.replace("\"UserType\":0", "\"UserType\":[1,]"),
        MAIL.replace("\"UserType\":0", "\"UserType\":\"a\tb\""),
        MAIL.replace("\"UserType\":0", "\"UserType\":\"\\x\""),
        MAIL.replace("\"UserType\":0", "\"UserType\":tru"),
    ];
    // Each also after a mail line, by a reader that remembers its keys.
    let mut reader = Reader::new(None);
    for line in &cases {
        assert!(reader.read(MAIL.as_bytes(), origin()).is_some());
        assert!(reader.read(line.as_bytes(), origin()).is_none(), "{line}");
    }
    for line in &cases {
        assert!(whole(line).is_err(), "{line}");
        assert!(mail_read(line.as_bytes(), origin()).is_none(), "{line}");
    }
    let mut bad_utf8 = MAIL.replace("Succeeded", "Succ\u{1}eded").into_bytes();
    let at = bad_utf8.iter().position(|b| *b == 1).expect("marker");
    bad_utf8[at] = 0xFF;
    assert!(serde_json::from_slice::<Value>(&bad_utf8).is_err());
    assert!(mail_read(&bad_utf8, origin()).is_none());
}
