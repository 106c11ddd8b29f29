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

use super::bags::is_bag_key;
use super::lite::{self, Lite};
use super::lookup::{Fields, Name};
use super::scan::{Cursor, Raw};
use super::specials::Specials;
use super::{detect_kind, extract_mail_read, ual_operation};
use crate::detect::mail_read::{MailRead, Reading};
use crate::event::{LogKind, Origin};
use crate::prefilter::NarrowCheck;
use foldhash::{HashSet, HashSetExt};
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
/// mail line's reading. So the keys at each place are remembered as written (the last two
/// there: `Place`), with what was found for each; where a line has the same bytes at the
/// same place, that is taken as it is (the same bytes are the same key), and anything else is
/// read afresh and remembered in its place.
/// Criterion `mail-read/narrow`, one thread: 18.6% less time a line. The list the kept values
/// go into is kept too, and each value written where it lies.
pub struct Reader<'a, 'c> {
    check: Option<&'c NarrowCheck>,
    keys: Vec<Place<'a>>,
    /// The line's record, in a list of kept values that is reused from line to line.
    record: Narrow<'a>,
    /// The marks of the line's special bytes ([`Cursor::reusing`]), reused likewise.
    specials: Specials,
    /// Every string value the check passed on the reader's lines (a chunk's), as written,
    /// whatever its key: a value passes or not by its text alone. `Operation` and `Workload`
    /// are mostly the same line after line, a mail line gives its client address twice
    /// (`ClientIP`, `ClientIPAddress`), and mostly one seen a few lines before.
    passed_values: HashSet<&'a str>,
}

/// The top-level keys lines before wrote at one place: the last, and the one before it where
/// that was another. Mail and sign-in lines come in turn, and name other fields from the
/// twelfth on (`ObjectId` where a mail line has `UserId`): with one key a place, a line of the
/// other kind learned those keys again.
struct Place<'a> {
    known: Known<'a>,
    other: Option<Known<'a>>,
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
    /// Whether its value is folded as a bag ([`lite::normalize`]).
    bag: bool,
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
            specials: Specials::default(),
            passed_values: HashSet::new(),
        }
    }

    /// The line read narrowly, or `None` (see [`mail_read`] and [`mail_read_checked`]).
    pub fn read(&mut self, line: &'a [u8], origin: Origin) -> Option<MailRead> {
        // One UTF-8 check of the line, not one per string.
        let text = simdutf8::basic::from_utf8(line).ok()?;
        self.walk(text)?;
        let record = &self.record;
        let core = (detect_kind(record) == LogKind::Ual).then(|| extract_mail_read(record))?;
        let reading = Reading::of(ual_operation(record), record)?;
        Some(MailRead {
            core,
            reading,
            origin,
        })
    }

    /// Walks the top-level object of `text` into the reader's record, keeping the keys of
    /// [`NAMES`] and looking at the values of the fields the check covers (but not at a
    /// string it passed before: [`Reader::passed_values`]); every other value is checked and
    /// skipped ([`Cursor::skip`]).
    fn walk(&mut self, text: &'a str) -> Option<()> {
        let Reader {
            check,
            keys,
            record,
            specials,
            passed_values,
        } = self;
        record.len = 0;
        record.places = [0; NAMES.len()];
        let mut cursor = Cursor::reusing(text, std::mem::take(specials));
        let walked = walk_members(&mut cursor, *check, keys, record, passed_values);
        *specials = cursor.into_specials();
        walked
    }
}

/// [`Reader::walk`] with the cursor at the start of the line.
fn walk_members<'a>(
    cursor: &mut Cursor<'a>,
    check: Option<&NarrowCheck>,
    keys: &mut Vec<Place<'a>>,
    record: &mut Narrow<'a>,
    passed_values: &mut HashSet<&'a str>,
) -> Option<()> {
    cursor.eat(b'{')?;
    let mut place = 0;
    let mut more = !cursor.eat_if(b'}');
    while more {
        let known = match keys.get(place) {
            Some(seen) if cursor.eat_text(seen.known.quoted) => &seen.known,
            _ => other_key(keys, check, place, cursor)?,
        };
        cursor.eat(b':')?;
        let looking = check.filter(|_| known.covered).map(|check| Looking {
            check,
            start: cursor.here(),
            passed_values: &mut *passed_values,
        });
        record.take(cursor, known, looking)?;
        place += 1;
        more = cursor.member_end()?;
    }
    cursor.end()
}

/// The key next (the cursor at its quote), where it is not the last one written at `place`:
/// the one before it there, or a key read and learned.
fn other_key<'k, 'a>(
    keys: &'k mut Vec<Place<'a>>,
    check: Option<&NarrowCheck>,
    place: usize,
    cursor: &mut Cursor<'a>,
) -> Option<&'k Known<'a>> {
    let the_other = keys
        .get(place)
        .and_then(|seen| seen.other.as_ref())
        .is_some_and(|other| cursor.eat_text(other.quoted));
    if !the_other {
        return learn(keys, check, place, cursor.raw_string()?);
    }
    // The last key written here comes first.
    let seen = &mut keys[place];
    if let Some(other) = &mut seen.other {
        std::mem::swap(&mut seen.known, other);
    }
    Some(&seen.known)
}

/// A covered value looked at for the check's literals ([`Narrow::take`]).
struct Looking<'x, 'de> {
    check: &'x NarrowCheck,
    /// Where the value starts in the line.
    start: usize,
    /// [`Reader::passed_values`].
    passed_values: &'x mut HashSet<&'de str>,
}

impl<'de> Looking<'_, 'de> {
    /// Whether `value`, just read (the cursor past it), could hold one of the check's
    /// literals; a string the check passed before is not looked at again.
    fn hit(self, cursor: &Cursor<'de>, value: &Lite) -> bool {
        let raw = cursor.since(self.start);
        if !raw.starts_with('"') {
            return self.check.hit(value);
        }
        if self.passed_values.contains(raw) {
            return false;
        }
        let hit = self.check.hit(value);
        if !hit {
            self.passed_values.insert(raw);
        }
        hit
    }
}

/// Remembers `raw` as the key at `place`.
fn learn<'k, 'a>(
    keys: &'k mut Vec<Place<'a>>,
    check: Option<&NarrowCheck>,
    place: usize,
    raw: Raw<'a>,
) -> Option<&'k Known<'a>> {
    let key = raw.decoded()?;
    let known = Known {
        quoted: raw.quoted(),
        named: slot(&key).map(|at| (at, NAMES[at].1)),
        covered: check.is_some_and(|c| c.covers(&key)),
        bag: is_bag_key(&key),
        key,
    };
    match keys.get_mut(place) {
        Some(seen) => seen.other = Some(std::mem::replace(&mut seen.known, known)),
        None => keys.push(Place { known, other: None }),
    }
    keys.get(place).map(|seen| &seen.known)
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
/// names. A line's keys are looked up here where the reader has not seen them before
/// ([`learn`]); the names looked up in a narrowly read record, once, where they are made
/// ([`Name::new`], at compile time for constant names).
pub(super) const fn slot(name: &str) -> Option<usize> {
    let name = name.as_bytes();
    let mut at = hash(name);
    loop {
        let i = match TABLE[at].checked_sub(1) {
            Some(i) => i as usize,
            None => return None,
        };
        if NAMES[i].0.as_bytes().eq_ignore_ascii_case(name) {
            return Some(i);
        }
        at = (at + 1) % TABLE_SIZE;
    }
}

/// A [`TABLE`] index from the length and the first, middle and last bytes, each with its case
/// bit set: few collisions among [`NAMES`], and cheap (a reader looks each new key up).
const fn hash(bytes: &[u8]) -> usize {
    let n = bytes.len();
    if n == 0 {
        return 0;
    }
    // `| 0x20` is the same for both cases of a letter, and cheaper than lowercasing (other
    // bytes may meet, which only costs a probe).
    let (first, middle, last) = (
        (bytes[0] | 0x20) as usize,
        (bytes[n / 2] | 0x20) as usize,
        (bytes[n - 1] | 0x20) as usize,
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
    /// The value of the top-level member `known` (the cursor past its colon): kept and
    /// normalized ([`lite::normalize`]), looked at for the check's literals where the check
    /// covers the key, or checked and skipped.
    fn take(
        &mut self,
        cursor: &mut Cursor<'de>,
        known: &Known<'de>,
        check: Option<Looking<'_, 'de>>,
    ) -> Option<()> {
        let Some((at, role)) = known.named else {
            return match check {
                // A covered field that is not kept is looked at; that is all. A literal may be
                // here: scan the line.
                Some(check) => {
                    let value = cursor.lite()?;
                    (!check.hit(cursor, &value)).then_some(())
                }
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
                let value = self.next(&known.key);
                *value = folders(cursor)?;
                lite::normalize(value, known.bag)?;
            }
            // Read in its place in the list: a value moved after it is read cost more than
            // reading it.
            (Role::Keep, check) => {
                let value = self.next(&known.key);
                cursor.lite_into(value)?;
                // A literal may be here: scan the line.
                if check.is_some_and(|check| check.hit(cursor, value)) {
                    return None;
                }
                lite::normalize(value, known.bag)?;
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

    /// The kept field `name` (any ASCII case), at the place [`slot`] gave the name when it
    /// was made: no hashing or comparing here.
    fn kept(&self, name: &Name) -> Option<&(Cow<'de, str>, Lite<'de>)> {
        debug_assert!(
            name.slot().is_some(),
            "the narrow reading does not keep {}",
            name.text()
        );
        let place = self.places[name.slot()?];
        self.kept[..self.len].get(usize::from(place).checked_sub(1)?)
    }
}

/// Each name is kept at most once (a record naming a field twice, in any case, is read whole),
/// so the first match ignoring case is the only one.
impl<'de> Fields for Narrow<'de> {
    type Value = Lite<'de>;
    fn exact(&self, name: &Name) -> Option<&Lite<'de>> {
        self.kept(name)
            .filter(|(k, _)| k == name.text())
            .map(|(_, v)| v)
    }
    fn get_ci(&self, name: &Name) -> Option<&Lite<'de>> {
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
mod tests;
