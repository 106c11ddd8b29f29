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
//! So the line is walked ([`Cursor`]) and one slot is kept per top-level name that
//! unwrapping, kind recognition, the UAL core-field candidates, [`MailFields`] and
//! [`succeeded`] look up (`NAMES`, any ASCII case); `Folders` keeps only how many items its
//! folders list. Every other value is still checked — strings for control characters and
//! escapes, numbers, nesting — but not kept, and the walk takes a line only where serde_json
//! would parse it into a `Value` (it gives up where in doubt), so a line is read here only when
//! a whole parse accepts it. The kept values are borrowed [`Lite`] values, not
//! `serde_json::Value`s (no `String` per string, no hashed map per object), normalized entry by
//! entry as a whole record's are ([`lite::normalize`]); kind, core fields and the [`Reading`]
//! come from the same [`detect_kind`], [`extract_mail_read`] and [`Reading::of`], through
//! [`Fields`]. So the [`MailRead`] is the one the whole event gives ([`MailRead::of`]):
//! `tests::narrow_and_whole_readings_agree`, the `narrow_read` fuzz target, and
//! `tests/fastpath.rs` end to end.
//!
//! [`mail_read`] gives up (`None`: parse the line whole) where the narrow record could differ
//! from the whole one in what counts: a wrapper or envelope key (`AuditData`, `o365audit`,
//! `event`, `properties`, `records`, `value`, `events`), a kept name given twice (in any
//! case), a kept object naming a key twice or of more than 64 members, a kept value that
//! normalization would reshape beyond a plain Name/Value bag ([`lite::normalize`]: JSON or a
//! PowerShell object in a string, a bag of another shape), a line that is not a JSON object, or
//! a record that turns out not to be a UAL `MailItemsAccessed` or `UserLoggedIn` one; and
//! wherever the walk gives up ([`super::scan`]: a number with an exponent, a surrogate escape, deep
//! nesting).
//!
//! [`MailFields`]: crate::detect::mail_read::MailFields
//! [`succeeded`]: crate::detect::signins::succeeded

use super::lite::{self, Lite};
use super::lookup::Fields;
use super::scan::{same_words, Cursor, Raw};
use super::{detect_kind, extract_mail_read, ual_operation};
use crate::detect::mail_read::{MailRead, Reading};
use crate::event::{LogKind, Origin};
use crate::prefilter::NarrowCheck;
use std::borrow::Cow;

/// What the mail analysis reads of a `MailItemsAccessed` or `UserLoggedIn` line, read
/// narrowly; `None` where the line must be read whole (see the module notes). `line` is the
/// raw line without its newline.
pub fn mail_read(line: &[u8], origin: Origin) -> Option<MailRead> {
    Reader::new(None).read(line, origin)
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
    Reader::new(check).read(line, origin)
}

/// Reads lines of one text narrowly ([`mail_read`], [`mail_read_checked`]), one after
/// another, remembering the top-level keys of the lines before.
///
/// The lines of one kind of record name their fields in the same order, and finding each
/// key's end, decoding it and looking it up in `NAMES` and in the check was a good part of a
/// mail line's reading. So the key at each place is remembered as written, with what was found
/// for it; where a line has the same bytes at the same place, that is taken as it is (the same
/// bytes are the same key), and anything else is read afresh and remembered in its place.
/// Criterion `mail-read/narrow`, one thread: 18.6% less time a line. The list the kept values
/// go into is kept too, and each value written where it lies.
pub struct Reader<'a, 'c> {
    check: Option<&'c NarrowCheck>,
    keys: Vec<Known<'a>>,
    /// The line's record, in a list of kept values that is reused from line to line.
    record: Narrow<'a>,
}

/// A top-level key as a line before wrote it, with what it is.
struct Known<'a> {
    /// As written, quotes included: a whole JSON string.
    quoted: &'a str,
    key: Cow<'a, str>,
    /// Its place in [`NAMES`], and its role.
    named: Option<(usize, Role)>,
    /// Whether the check covers it.
    covered: bool,
}

impl<'a, 'c> Reader<'a, 'c> {
    pub fn new(check: Option<&'c NarrowCheck>) -> Self {
        Reader {
            check,
            keys: Vec::new(),
            record: Narrow {
                kept: Vec::new(),
                len: 0,
                places: [0; NAMES.len()],
            },
        }
    }

    /// The line read narrowly, or `None` (see [`mail_read`] and [`mail_read_checked`]).
    pub fn read(&mut self, line: &'a [u8], origin: Origin) -> Option<MailRead> {
        // One UTF-8 check of the line, not one per string.
        let text = simdutf8::basic::from_utf8(line).ok()?;
        self.walk(text)?;
        let record = &mut self.record;
        for (key, value) in &mut record.kept[..record.len] {
            lite::normalize(key, value)?;
        }
        let record = &*record;
        let core = (detect_kind(record) == LogKind::Ual).then(|| extract_mail_read(record))?;
        let reading = Reading::of(ual_operation(record), record)?;
        Some(MailRead {
            core,
            reading,
            origin,
        })
    }

    /// Walks the top-level object of `text` into the reader's record, keeping the keys of
    /// [`NAMES`] and looking at the values of the fields the check covers; every other value
    /// is checked and skipped ([`Cursor::skip`]).
    fn walk(&mut self, text: &'a str) -> Option<()> {
        let Reader {
            check,
            keys,
            record,
        } = self;
        record.len = 0;
        record.places = [0; NAMES.len()];
        let mut cursor = Cursor::new(text);
        cursor.eat(b'{')?;
        let mut place = 0;
        let mut more = !cursor.eat_if(b'}');
        while more {
            let known = match keys.get(place) {
                Some(known) if cursor.eat_text(known.quoted) => known,
                _ => learn(keys, *check, place, cursor.raw_string()?)?,
            };
            place += 1;
            cursor.eat(b':')?;
            record.take(&mut cursor, known, *check)?;
            more = cursor.member_end()?;
        }
        cursor.end()
    }
}

/// Remembers `raw` as the key at `place`.
fn learn<'k, 'a>(
    keys: &'k mut Vec<Known<'a>>,
    check: Option<&NarrowCheck>,
    place: usize,
    raw: Raw<'a>,
) -> Option<&'k Known<'a>> {
    let key = raw.decoded()?;
    let known = Known {
        quoted: raw.quoted(),
        named: slot(&key).map(|at| (at, NAMES[at].1)),
        covered: check.is_some_and(|c| c.covers(&key)),
        key,
    };
    if place < keys.len() {
        keys[place] = known;
    } else {
        keys.push(known);
    }
    keys.get(place)
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
    same_words(lower, name, ascii_lowercase_8)
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

/// The kept top-level fields: each key as written, with its value, the first `len` of `kept`
/// (the rest are a line before's, to be overwritten: the list is reused); and for each name of
/// [`NAMES`], 1 + its place in `kept` (0: absent).
struct Narrow<'de> {
    kept: Vec<(Cow<'de, str>, Lite<'de>)>,
    len: usize,
    places: [u8; NAMES.len()],
}

impl<'de> Narrow<'de> {
    /// The value of the top-level member `known` (the cursor past its colon): kept, looked at
    /// for the check's literals where the check covers the key, or checked and skipped.
    fn take(
        &mut self,
        cursor: &mut Cursor<'de>,
        known: &Known<'de>,
        check: Option<&NarrowCheck>,
    ) -> Option<()> {
        let check = check.filter(|_| known.covered);
        let Some((at, role)) = known.named else {
            return match check {
                // A covered field that is not kept is looked at; that is all. A literal may be
                // here: scan the line.
                Some(check) => (!check.hit(&cursor.lite()?)).then_some(()),
                None => cursor.skip(),
            };
        };
        // A field named twice: read the record whole.
        if self.places[at] != 0 {
            return None;
        }
        match (role, check) {
            (Role::GiveUp, _) => return None,
            // Kept here only in part, so its values cannot be looked at: scan the line.
            (Role::Folders, Some(_)) => return None,
            (Role::Folders, None) => {
                let folders = folders(cursor)?;
                *self.next(&known.key) = folders;
            }
            // Read in its place in the list: a value moved after it is read cost more than
            // reading it.
            (Role::Keep, check) => {
                let value = self.next(&known.key);
                cursor.lite_into(value)?;
                // A literal may be here: scan the line.
                if check.is_some_and(|check| check.hit(value)) {
                    return None;
                }
            }
        }
        self.len += 1;
        self.places[at] = self.len as u8;
        Some(())
    }

    /// The next place in `kept`, holding `key`, and its value to be written over (a line
    /// before's, or null). Written where it lies: a pair made and then pushed was copied
    /// through the stack, and read back before its stores were done (perf: a tenth of the
    /// reading's time, on that one load).
    fn next(&mut self, key: &Cow<'de, str>) -> &mut Lite<'de> {
        if self.len == self.kept.len() {
            self.kept.push((Cow::Borrowed(""), Lite::Null));
        }
        let (k, value) = &mut self.kept[self.len];
        k.clone_from(key);
        value
    }

    fn kept(&self, name: &str) -> Option<&(Cow<'de, str>, Lite<'de>)> {
        let found = slot(name);
        debug_assert!(found.is_some(), "the narrow reading does not keep {name}");
        let place = self.places[found?];
        self.kept[..self.len].get(usize::from(place).checked_sub(1)?)
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

/// `Folders`, as the mail analysis counts it: a list becomes one folder listing as many items
/// as all its object folders do (the mail analysis only sums them), and its strings, which
/// normalization may parse as JSON; a string stays; anything else, which holds no countable
/// items, becomes null.
fn folders<'a>(cursor: &mut Cursor<'a>) -> Option<Lite<'a>> {
    match cursor.peek()? {
        b'"' => return cursor.string().map(Lite::Str),
        b'[' => {}
        _ => return cursor.skip().map(|()| Lite::Null),
    }
    let (mut items, mut folders) = (0, Vec::new());
    cursor.items(|cursor| match cursor.peek()? {
        b'{' => {
            items += folder_items(cursor)?;
            Some(())
        }
        b'"' => {
            folders.push(Lite::Str(cursor.string()?));
            Some(())
        }
        _ => cursor.skip(),
    })?;
    if items > 0 {
        let listed = Lite::Array(vec![Lite::Null; items]);
        folders.push(Lite::Object(vec![("FolderItems".into(), listed)]));
    }
    Some(Lite::Array(folders))
}

/// The items an object folder lists: its (last) `FolderItems` list's length, or none where
/// that is not a list.
fn folder_items(cursor: &mut Cursor) -> Option<usize> {
    let mut items = None;
    cursor.members(|cursor, key| {
        if key.decoded()? != "FolderItems" {
            return cursor.skip();
        }
        if cursor.peek()? != b'[' {
            items = None;
            return cursor.skip();
        }
        let mut n = 0;
        cursor.items(|cursor| {
            n += 1;
            cursor.skip()
        })?;
        items = Some(n);
        Some(())
    })?;
    Some(items.unwrap_or(0))
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
        let mut lines = vec![
            MAIL.to_string(),
            MAIL.to_string(),
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
}
