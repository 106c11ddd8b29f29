//! The narrow reading of a `MailItemsAccessed` or `UserLoggedIn` line: only what the mail
//! analysis reads, without building the rest of the record.
//!
//! Three quarters of a UAL export are `MailItemsAccessed` records, and hunt wants each of them
//! only for the mail analysis ([`crate::detect::mailbox`]), which reads the core fields and
//! [`MailFields`]. Building the whole `serde_json::Value` tree of such a line, normalizing it
//! and freeing it cost several times more than the rest of hunt's work on it. Likewise the
//! `UserLoggedIn` records, which the mail analysis's sign-in join reads (core fields, and
//! whether the sign-in [`succeeded`]).
//!
//! So the line is deserialized into one slot per top-level name that unwrapping, kind
//! recognition, the UAL core-field candidates, [`MailFields`] and [`succeeded`] look up
//! (`NAMES`, any ASCII case); `Folders` keeps only how many items its folders list. Every
//! other value is still parsed and checked — strings as UTF-8, numbers in range, nesting within
//! serde_json's limit — but not kept, so a line is accepted here exactly when a whole parse
//! accepts it. The kept values are borrowed [`Lite`] values, not `serde_json::Value`s (no
//! `String` per string, no hashed map per object), normalized entry by entry as a whole
//! record's are ([`lite::normalize`]); kind, core fields and the [`Reading`] come from the same
//! [`detect_kind`], [`extract_mail_read`] and [`Reading::of`], through [`Fields`]. So the
//! [`MailRead`] is the one the whole event gives ([`MailRead::of`]):
//! `tests::narrow_and_whole_readings_agree`,
//! the `narrow_read` fuzz target, and `tests/fastpath.rs` end to end.
//!
//! [`mail_read`] gives up (`None`: parse the line whole) where the narrow record could differ
//! from the whole one in what counts: a wrapper or envelope key (`AuditData`, `o365audit`,
//! `event`, `properties`, `records`, `value`, `events`), a kept name given twice (in any
//! case), a kept object naming a key twice or of more than 64 members, a kept value that
//! normalization would reshape beyond a plain Name/Value bag ([`lite::normalize`]: JSON or a
//! PowerShell object in a string, a bag of another shape), a line that is not a JSON object, or
//! a record that turns out not to be a UAL `MailItemsAccessed` or `UserLoggedIn` one.
//!
//! [`MailFields`]: crate::detect::mail_read::MailFields
//! [`succeeded`]: crate::detect::signins::succeeded

use super::lite::{self, Key, Lite};
use super::lookup::Fields;
use super::{detect_kind, extract_mail_read, ual_operation};
use crate::detect::mail_read::{MailRead, Reading};
use crate::event::{LogKind, Origin};
use crate::prefilter::NarrowCheck;
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// What the mail analysis reads of a `MailItemsAccessed` or `UserLoggedIn` line, read
/// narrowly; `None` where the line must be read whole (see the module notes). `line` is the
/// raw line without its newline.
pub fn mail_read(line: &[u8], origin: Origin) -> Option<MailRead> {
    mail_read_checked(line, origin, None)
}

/// [`mail_read`] of a line the prefilter has not scanned, with its [`NarrowCheck`]: also
/// `None` where a value of a field the check covers could hold one of its literals (the line
/// must then go through the prefilter's gate), or where such a field is read only in part
/// here (`Folders`).
pub fn mail_read_checked(
    line: &[u8],
    origin: Origin,
    check: Option<&NarrowCheck>,
) -> Option<MailRead> {
    // One UTF-8 check of the line, not one per string: serde_json trusts a `str`.
    let text = std::str::from_utf8(line).ok()?;
    let mut de = serde_json::Deserializer::from_str(text);
    let mut record = de.deserialize_map(NarrowRecord { check }).ok()?;
    de.end().ok()?;
    for (key, value) in &mut record.kept {
        lite::normalize(key, value)?;
    }
    let core = (detect_kind(&record) == LogKind::Ual).then(|| extract_mail_read(&record))?;
    let reading = Reading::of(ual_operation(&record), &record)?;
    Some(MailRead {
        core,
        reading,
        origin,
    })
}

/// What becomes of a top-level key's value.
#[derive(Clone, Copy)]
enum Role {
    /// Kept as a [`Lite`] value.
    Keep,
    /// `Folders`: kept as the count of its folders' items ([`Folders`]).
    Folders,
    /// A wrapper or envelope: the line is read whole.
    GiveUp,
}

/// Every top-level name (ASCII-lowercased) that unwrapping ([`super::normalize`]),
/// kind recognition ([`super::detect_kind`]), the UAL core-field candidates, [`MailFields`]
/// and [`succeeded`] look up, with what becomes of its value; any other key is parsed, checked
/// and dropped. A lookup of a name not here is a bug this reading would hide: debug builds
/// (the tests) stop on it.
///
/// [`MailFields`]: crate::detect::mail_read::MailFields
/// [`succeeded`]: crate::detect::signins::succeeded
const NAMES: &[(&str, Role)] = &[
    ("aadsessionid", Role::Keep),
    ("aadtenantid", Role::Keep),
    ("activitydatetime", Role::Keep),
    ("activitydisplayname", Role::Keep),
    ("actoripaddress", Role::Keep),
    ("appaccesscontext", Role::Keep),
    ("appid", Role::Keep),
    ("applicationid", Role::Keep),
    ("auditdata", Role::GiveUp),
    ("authenticationrequirement", Role::Keep),
    ("category", Role::Keep),
    ("client_ipaddress", Role::Keep),
    ("clientappid", Role::Keep),
    ("clientinfostring", Role::Keep),
    ("clientip", Role::Keep),
    ("clientipaddress", Role::Keep),
    ("conditionalaccessstatus", Role::Keep),
    ("createddatetime", Role::Keep),
    ("creationdate", Role::Keep),
    ("creationtime", Role::Keep),
    ("deviceproperties", Role::Keep),
    ("event", Role::GiveUp),
    ("events", Role::GiveUp),
    ("folders", Role::Folders),
    ("id", Role::Keep),
    ("ipaddress", Role::Keep),
    ("kind", Role::Keep),
    ("loggedbyservice", Role::Keep),
    ("mailboxownerupn", Role::Keep),
    ("o365audit", Role::GiveUp),
    ("officeid", Role::Keep),
    ("officeworkload", Role::Keep),
    ("operation", Role::Keep),
    ("operationcount", Role::Keep),
    ("operationname", Role::Keep),
    ("operationproperties", Role::Keep),
    ("operations", Role::Keep),
    ("organizationid", Role::Keep),
    ("properties", Role::GiveUp),
    ("recordid", Role::Keep),
    ("records", Role::GiveUp),
    ("recordtype", Role::Keep),
    ("resourceid", Role::Keep),
    ("resulttype", Role::Keep),
    ("sessionid", Role::Keep),
    ("status", Role::Keep),
    ("status_dynamic", Role::Keep),
    ("tenantid", Role::Keep),
    ("time", Role::Keep),
    ("timegenerated", Role::Keep),
    ("tokentenantid", Role::Keep),
    ("type", Role::Keep),
    ("uniquetokenid", Role::Keep),
    ("uniquetokenidentifier", Role::Keep),
    ("userid", Role::Keep),
    ("userprincipalname", Role::Keep),
    ("value", Role::GiveUp),
    ("workload", Role::Keep),
];

/// The place of a name in [`NAMES`], ignoring ASCII case: one probe of [`TABLE`] for most
/// names (every key of every narrowly read line is looked up here).
fn slot(name: &str) -> Option<usize> {
    let name = name.as_bytes();
    let mut at = hash(name);
    loop {
        let entry = TABLE[at];
        if entry == 0 {
            return None;
        }
        let i = usize::from(entry - 1);
        if lowered_eq(NAMES[i].0.as_bytes(), name) {
            return Some(i);
        }
        at = (at + 1) % TABLE.len();
    }
}

/// `name` ASCII-lowercased is `lower` ([`NAMES`] are lower-case already): eight bytes at a
/// time, as this decides every lookup of a narrowly read line.
fn lowered_eq(lower: &[u8], name: &[u8]) -> bool {
    if lower.len() != name.len() {
        return false;
    }
    let (mut l, mut n) = (lower.chunks_exact(8), name.chunks_exact(8));
    for (a, b) in (&mut l).zip(&mut n) {
        let word = |s: &[u8]| u64::from_le_bytes(s.try_into().expect("chunks of eight"));
        if word(a) != ascii_lowercase_8(word(b)) {
            return false;
        }
    }
    l.remainder()
        .iter()
        .zip(n.remainder())
        .all(|(a, b)| *a == b.to_ascii_lowercase())
}

/// Each of the eight bytes of `x` ASCII-lowercased; bytes past ASCII stay as they are.
const fn ascii_lowercase_8(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    // A byte's low seven bits plus a bias set its high bit where they reach the bias's
    // complement, with no carry into the next byte (0x7f + 0x3f < 0x100).
    let low = x & !HIGH;
    let from_a = low + ONES * (0x80 - b'A' as u64);
    let past_z = low + ONES * (0x80 - b'Z' as u64 - 1);
    let upper = from_a & !past_z & !x & HIGH;
    x | (upper >> 2)
}

/// A [`TABLE`] index from the length and the first, middle and last bytes, ASCII-lowercased:
/// few collisions among [`NAMES`], and cheap (names are looked up some hundred times a line).
const fn hash(bytes: &[u8]) -> usize {
    let n = bytes.len();
    if n == 0 {
        return 0;
    }
    let (first, middle, last) = (bytes[0], bytes[n / 2], bytes[n - 1]);
    let (first, middle, last) = (
        first.to_ascii_lowercase() as usize,
        middle.to_ascii_lowercase() as usize,
        last.to_ascii_lowercase() as usize,
    );
    (n * 7 + first * 31 + middle * 131 + last * 17) % TABLE_SIZE
}

const TABLE_SIZE: usize = 256;

/// Open addressing over [`NAMES`]: 1 + a name's index at its hash (or the next free place).
const TABLE: [u8; TABLE_SIZE] = {
    let mut table = [0u8; TABLE_SIZE];
    let mut i = 0;
    while i < NAMES.len() {
        let mut at = hash(NAMES[i].0.as_bytes());
        while table[at] != 0 {
            at = (at + 1) % TABLE_SIZE;
        }
        table[at] = (i + 1) as u8;
        i += 1;
    }
    table
};

/// The kept top-level fields: each key as written, with its value; and for each name of
/// [`NAMES`], 1 + its place in `kept` (0: absent).
struct Narrow<'de> {
    kept: Vec<(Cow<'de, str>, Lite<'de>)>,
    places: [u8; NAMES.len()],
}

impl<'de> Narrow<'de> {
    fn kept(&self, name: &str) -> Option<&(Cow<'de, str>, Lite<'de>)> {
        let found = slot(name);
        debug_assert!(found.is_some(), "the narrow reading does not keep {name}");
        let place = self.places[found?];
        self.kept.get(usize::from(place).checked_sub(1)?)
    }
}

/// Each name is kept at most once (a record naming a field twice, in any case, is read whole),
/// so the first match ignoring case is the only one.
impl<'de> Fields for Narrow<'de> {
    type Value = Lite<'de>;
    fn exact(&self, name: &str) -> Option<&Lite<'de>> {
        self.kept(name).filter(|(k, _)| k == name).map(|(_, v)| v)
    }
    fn get_ci(&self, name: &str) -> Option<&Lite<'de>> {
        self.kept(name).map(|(_, v)| v)
    }
}

/// The top-level object, keeping the keys of [`NAMES`], and looking at the values of the
/// fields `check` covers.
struct NarrowRecord<'c> {
    check: Option<&'c NarrowCheck>,
}

impl<'de> Visitor<'de> for NarrowRecord<'_> {
    type Value = Narrow<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut record = Narrow {
            kept: Vec::with_capacity(24),
            places: [0; NAMES.len()],
        };
        while let Some(Key(key)) = map.next_key::<Key>()? {
            let named = slot(&key).map(|at| (at, NAMES[at].1));
            let scan = || A::Error::custom("a literal may be here: scan the line");
            let value = match (named, self.check.filter(|c| c.covers(&key))) {
                (Some((_, Role::GiveUp)), _) => {
                    return Err(A::Error::custom("read this record whole"))
                }
                // Kept here only in part: its values cannot be looked at.
                (Some((_, Role::Folders)), Some(_)) => return Err(scan()),
                (_, Some(check)) => {
                    let value = map.next_value::<Lite>()?;
                    if check.hit(&value) {
                        return Err(scan());
                    }
                    value
                }
                (Some((_, Role::Keep)), None) => map.next_value::<Lite>()?,
                (Some((_, Role::Folders)), None) => map.next_value_seed(Folders)?,
                (None, None) => {
                    map.next_value_seed(Checked)?;
                    continue;
                }
            };
            // A covered field that is not kept has been looked at; that is all.
            let Some((at, _)) = named else { continue };
            if record.places[at] != 0 {
                return Err(A::Error::custom(
                    "a field named twice: read this record whole",
                ));
            }
            record.kept.push((key, value));
            record.places[at] = record.kept.len() as u8;
        }
        Ok(record)
    }
}

/// `(Visitor, Output)`: makes a visitor its own seed (`deserialize_any`). `(scalars Output,
/// value)`, inside a `Visitor` impl: its `expecting`, and the `visit_*` methods of the scalars
/// it does not look at, all giving `value`.
macro_rules! any_value_visitor {
    (scalars $out:ty, $scalar:expr) => {
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, _: bool) -> Result<$out, E> {
            Ok($scalar)
        }
        fn visit_i64<E>(self, _: i64) -> Result<$out, E> {
            Ok($scalar)
        }
        fn visit_u64<E>(self, _: u64) -> Result<$out, E> {
            Ok($scalar)
        }
        fn visit_f64<E>(self, _: f64) -> Result<$out, E> {
            Ok($scalar)
        }
        fn visit_unit<E>(self) -> Result<$out, E> {
            Ok($scalar)
        }
    };
    ($visitor:ty, $out:ty) => {
        impl<'de> DeserializeSeed<'de> for $visitor {
            type Value = $out;
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<$out, D::Error> {
                d.deserialize_any(self)
            }
        }
    };
}

/// Any value, parsed and checked as a `Value` would be (UTF-8, number range, nesting), kept
/// nowhere.
#[derive(Clone, Copy)]
struct Checked;

any_value_visitor!(Checked, ());

impl<'de> Visitor<'de> for Checked {
    type Value = ();
    any_value_visitor!(scalars(), ());
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Checked)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Checked)?.is_some() {
            map.next_value_seed(Checked)?;
        }
        Ok(())
    }
}

/// `Folders`, as the mail analysis counts it: a list becomes one folder listing as many items
/// as all its object folders do (the mail analysis only sums them), and its strings, which
/// normalization may parse as JSON; a string stays; anything else, which holds no countable
/// items, becomes null.
struct Folders;

any_value_visitor!(Folders, Lite<'static>);

impl<'de> Visitor<'de> for Folders {
    type Value = Lite<'static>;
    any_value_visitor!(scalars Lite<'static>, Lite::Null);
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Lite<'static>, A::Error> {
        let (mut items, mut folders) = (0, Vec::new());
        while let Some(folder) = seq.next_element_seed(Folder)? {
            match folder {
                FolderRead::Items(n) => items += n,
                FolderRead::Text(s) => folders.push(Lite::Str(Cow::Owned(s))),
                FolderRead::Nothing => {}
            }
        }
        if items > 0 {
            let listed = Lite::Array(vec![Lite::Null; items]);
            folders.push(Lite::Object(vec![("FolderItems".into(), listed)]));
        }
        Ok(Lite::Array(folders))
    }
    fn visit_str<E>(self, s: &str) -> Result<Lite<'static>, E> {
        Ok(Lite::Str(Cow::Owned(s.to_owned())))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Lite<'static>, A::Error> {
        Checked.visit_map(map).map(|()| Lite::Null)
    }
}

/// One element of `Folders`, as counted ([`Folder`]).
enum FolderRead {
    /// An object: the items its (last) `FolderItems` list holds, if that is a list.
    Items(usize),
    /// A string.
    Text(String),
    /// Anything else: no items.
    Nothing,
}

/// One element of `Folders` ([`FolderRead`]).
struct Folder;

any_value_visitor!(Folder, FolderRead);

impl<'de> Visitor<'de> for Folder {
    type Value = FolderRead;
    any_value_visitor!(scalars FolderRead, FolderRead::Nothing);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FolderRead, A::Error> {
        let mut items = None;
        while let Some(Key(key)) = map.next_key::<Key>()? {
            if key == "FolderItems" {
                items = map.next_value_seed(Count)?;
            } else {
                map.next_value_seed(Checked)?;
            }
        }
        Ok(FolderRead::Items(items.unwrap_or(0)))
    }
    fn visit_str<E>(self, s: &str) -> Result<FolderRead, E> {
        Ok(FolderRead::Text(s.to_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<FolderRead, A::Error> {
        Checked.visit_seq(seq).map(|()| FolderRead::Nothing)
    }
}

/// The length of a list (its items checked, not kept); `None` for anything else.
struct Count;

any_value_visitor!(Count, Option<usize>);

impl<'de> Visitor<'de> for Count {
    type Value = Option<usize>;
    any_value_visitor!(scalars Option<usize>, None);
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<usize>, A::Error> {
        let mut n = 0;
        while seq.next_element_seed(Checked)?.is_some() {
            n += 1;
        }
        Ok(Some(n))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<usize>, A::Error> {
        Checked.visit_map(map).map(|()| None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Option<usize>, E> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn narrow_and_whole_readings_agree() {
        let read = narrow(MAIL).expect("read narrowly");
        let Reading::Access(fields) = &read.reading else {
            panic!("a mail access: {read:?}");
        };
        assert_eq!(fields.items, 3);
        assert!(fields.sync && fields.throttled);
        assert_eq!(read.core.ip, Some("198.51.100.178".parse().expect("ip")));
        let variants = [
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
        ];
        for line in &variants {
            assert!(narrow(line).is_some(), "read narrowly: {line}");
        }
        // What the narrow reading does not reshape itself (lite::normalize), or an object
        // naming a key twice: read whole.
        let read_whole = [
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
        ];
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

    #[test]
    fn eight_bytes_lowercase_as_one() {
        let mut bytes: Vec<u8> = (0..=255u8).collect();
        bytes.extend(b"@AZ[`az{");
        for word in bytes.chunks_exact(8) {
            let lowered = ascii_lowercase_8(u64::from_le_bytes(word.try_into().unwrap()));
            assert_eq!(lowered.to_le_bytes().to_vec(), word.to_ascii_lowercase());
        }
        assert!(lowered_eq(b"appaccesscontext", b"AppAccessContext"));
        assert!(lowered_eq(b"appaccesscontext.x", b"APPACCESSCONTEXT.X"));
        assert!(!lowered_eq(b"appaccesscontexu", b"AppAccessContext"));
        assert!(!lowered_eq(b"appaccess@ontext", b"AppAccess`ontext"));
        assert!(!lowered_eq(b"appaccesscontext.x", b"AppAccessContext.y"));
        assert!(!lowered_eq(b"appaccesscontext", b"AppAccessContex"));
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
        ];
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
}
