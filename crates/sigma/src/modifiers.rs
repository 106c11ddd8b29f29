//! Compiles `field|mod|mod: values` into a [`FieldTest`], applying every Sigma v2.1 modifier.
//!
//! Value transformations run left to right, as in pySigma: `wide|base64offset|contains` encodes
//! UTF-16LE, then derives the three base64 offsets, then wraps in wildcards. Kind modifiers
//! (`re`, `cidr`, `lt`…`gte`, the time parts, `exists`, `fieldref`) change what the values mean;
//! flags (`all`, `cased`, `neq`, regex `i`/`m`/`s`) change how they combine. Unknown modifiers
//! and impossible combinations are load errors, never silent.

use crate::config::Config;
use crate::error::{CompileError, ErrorKind};
use crate::matcher::{Cmp, FieldTest, RefShape, TimePart, ValueTest};
use crate::pattern::{self, Pattern, Tok};
use crate::yaml::{Kind, Node};
use base64::Engine as _;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transform {
    Contains,
    StartsWith,
    EndsWith,
    Windash,
    Base64,
    Base64Offset,
    Utf16Le,
    Utf16Be,
    Utf16Bom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    Str,
    Regex,
    Cidr,
    Num(Cmp),
    Time(TimePart),
    Exists,
    FieldRef,
}

/// A value on its way through the transformations: tokens, and whether its characters stand
/// for bytes (after a UTF-16 encoding).
struct Val {
    toks: Vec<Tok>,
    bytes: bool,
}

fn err(line: usize, msg: impl Into<String>) -> CompileError {
    CompileError::new(line, ErrorKind::Modifier(msg.into()))
}

fn value_err(line: usize, msg: impl Into<String>) -> CompileError {
    CompileError::new(line, ErrorKind::Value(msg.into()))
}

/// Compiles one selection entry. `key` is `field|modifiers` (an empty field means keywords).
pub(crate) fn compile_field(
    key: &str,
    node: &Node,
    config: &Config,
) -> Result<FieldTest, CompileError> {
    let line = node.line;
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or_default().to_string();
    let mut transforms = Vec::new();
    let mut meaning = Meaning::Str;
    let (mut all, mut cased, mut neq, mut expand) = (false, false, false, false);
    let (mut re_i, mut re_m, mut re_s) = (false, false, false);
    let mut cmp: Option<Cmp> = None;
    let set_meaning = |m: Meaning, meaning: &mut Meaning| -> Result<(), CompileError> {
        if *meaning != Meaning::Str && *meaning != m {
            return Err(err(line, format!("modifiers of '{key}' conflict")));
        }
        *meaning = m;
        Ok(())
    };
    for m in parts {
        match m {
            "contains" => transforms.push(Transform::Contains),
            "startswith" => transforms.push(Transform::StartsWith),
            "endswith" => transforms.push(Transform::EndsWith),
            "windash" => transforms.push(Transform::Windash),
            "base64" => transforms.push(Transform::Base64),
            "base64offset" => transforms.push(Transform::Base64Offset),
            "utf16le" | "wide" => transforms.push(Transform::Utf16Le),
            "utf16be" => transforms.push(Transform::Utf16Be),
            "utf16" => transforms.push(Transform::Utf16Bom),
            "all" => all = true,
            "cased" => cased = true,
            "neq" => neq = true,
            "expand" => expand = true,
            "re" => set_meaning(Meaning::Regex, &mut meaning)?,
            "i" => re_i = true,
            "m" => re_m = true,
            "s" => re_s = true,
            "cidr" => set_meaning(Meaning::Cidr, &mut meaning)?,
            "exists" => set_meaning(Meaning::Exists, &mut meaning)?,
            "fieldref" => set_meaning(Meaning::FieldRef, &mut meaning)?,
            "lt" | "lte" | "gt" | "gte" => {
                if cmp.is_some() {
                    return Err(err(line, format!("more than one comparison in '{key}'")));
                }
                cmp = Some(match m {
                    "lt" => Cmp::Lt,
                    "lte" => Cmp::Lte,
                    "gt" => Cmp::Gt,
                    _ => Cmp::Gte,
                });
            }
            "minute" | "hour" | "day" | "week" | "month" | "year" => {
                let part = match m {
                    "minute" => TimePart::Minute,
                    "hour" => TimePart::Hour,
                    "day" => TimePart::Day,
                    "week" => TimePart::Week,
                    "month" => TimePart::Month,
                    _ => TimePart::Year,
                };
                set_meaning(Meaning::Time(part), &mut meaning)?;
            }
            "" => return Err(err(line, format!("empty modifier in '{key}'"))),
            other => return Err(err(line, format!("unknown modifier '{other}' in '{key}'"))),
        }
    }
    if let Some(c) = cmp {
        match meaning {
            Meaning::Str => meaning = Meaning::Num(c),
            Meaning::Time(_) => {}
            _ => return Err(err(line, format!("modifiers of '{key}' conflict"))),
        }
    }
    if (re_i || re_m || re_s) && meaning != Meaning::Regex {
        return Err(err(line, format!("regex flags without 're' in '{key}'")));
    }
    if meaning != Meaning::Str && meaning != Meaning::FieldRef && !transforms.is_empty() {
        return Err(err(
            line,
            format!("string modifiers cannot combine with '{key}'"),
        ));
    }

    let items: Vec<&Node> = match &node.kind {
        Kind::Seq(items) => items.iter().collect(),
        Kind::Map(_) => {
            return Err(value_err(
                line,
                format!("'{key}': a value cannot be a mapping"),
            ))
        }
        _ => vec![node],
    };
    if all && items.len() < 2 && meaning == Meaning::Str {
        // The spec forbids `all` on a single value; it is harmless, so accept it.
    }
    let mut test = FieldTest {
        field: (!field.is_empty()).then_some(field),
        tests: Vec::new(),
        all,
        neq,
        exists: None,
        accel: OnceLock::new(),
    };

    if meaning == Meaning::Exists {
        match (items.as_slice(), &node.kind) {
            ([one], _) => match one.kind {
                Kind::Bool(b) => test.exists = Some(b),
                _ => return Err(value_err(line, "'exists' takes true or false")),
            },
            _ => return Err(value_err(line, "'exists' takes one boolean")),
        }
        if test.field.is_none() {
            return Err(err(line, "'exists' needs a field"));
        }
        return Ok(test);
    }

    for item in items {
        let iline = item.line;
        let raw = match &item.kind {
            Kind::Null => {
                if meaning != Meaning::Str || !transforms.is_empty() {
                    return Err(value_err(
                        iline,
                        format!("'{key}': null cannot be modified"),
                    ));
                }
                test.tests.push(ValueTest::Null);
                continue;
            }
            Kind::Seq(_) | Kind::Map(_) => {
                return Err(value_err(
                    iline,
                    format!("'{key}': nested lists or maps are not values"),
                ))
            }
            Kind::Bool(b) => b.to_string(),
            Kind::Number(n) | Kind::Str(n) => n.clone(),
        };
        let is_number = matches!(item.kind, Kind::Number(_));
        let strings = if expand {
            expand_placeholders(&raw, config, iline)?
        } else {
            vec![raw]
        };
        for s in strings {
            compile_value(
                &s,
                is_number,
                meaning,
                &transforms,
                cased,
                (re_i, re_m, re_s),
                iline,
                key,
                &mut test,
            )?;
        }
    }
    Ok(test)
}

#[allow(clippy::too_many_arguments)]
fn compile_value(
    s: &str,
    is_number: bool,
    meaning: Meaning,
    transforms: &[Transform],
    cased: bool,
    re_flags: (bool, bool, bool),
    line: usize,
    key: &str,
    test: &mut FieldTest,
) -> Result<(), CompileError> {
    let number = |s: &str| -> Result<f64, CompileError> {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| value_err(line, format!("'{key}': '{s}' is not a number")))
    };
    let vt = match meaning {
        Meaning::Regex => {
            let re = regex::RegexBuilder::new(s)
                .case_insensitive(re_flags.0)
                .multi_line(re_flags.1)
                .dot_matches_new_line(re_flags.2)
                .size_limit(1 << 24)
                .build()
                .map_err(|e| CompileError::new(line, ErrorKind::Regex(e.to_string())))?;
            ValueTest::Regex(re, regex_witnesses(s, re_flags))
        }
        Meaning::Cidr => {
            let (addr, prefix) = s.trim().split_once('/').unwrap_or((s.trim(), ""));
            let ip: std::net::IpAddr = addr
                .parse()
                .map_err(|_| value_err(line, format!("'{key}': '{s}' is not a CIDR")))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let prefix = if prefix.is_empty() {
                max
            } else {
                prefix
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= max)
                    .ok_or_else(|| value_err(line, format!("'{key}': bad prefix in '{s}'")))?
            };
            ValueTest::Cidr(ip, prefix)
        }
        Meaning::Num(c) => ValueTest::Num(c, number(s)?),
        Meaning::Time(part) => {
            let n = number(s)?;
            let (lo, hi) = match part {
                TimePart::Minute => (0.0, 59.0),
                TimePart::Hour => (0.0, 23.0),
                TimePart::Day => (1.0, 31.0),
                TimePart::Week => (1.0, 53.0),
                TimePart::Month => (1.0, 12.0),
                TimePart::Year => (f64::MIN, f64::MAX),
            };
            if n < lo || n > hi {
                return Err(value_err(line, format!("'{key}': {s} is out of range")));
            }
            // The comparison was folded into `Num` when no time part was given; recover it.
            ValueTest::Time(part, time_cmp(key), n)
        }
        Meaning::FieldRef => {
            let mut shape = RefShape::Equal;
            for t in transforms {
                shape = match (t, shape) {
                    (Transform::Contains, RefShape::Equal) => RefShape::Contains,
                    (Transform::StartsWith, RefShape::Equal) => RefShape::Prefix,
                    (Transform::EndsWith, RefShape::Equal) => RefShape::Suffix,
                    _ => return Err(err(line, format!("'{key}': unsupported with fieldref"))),
                };
            }
            ValueTest::FieldRef {
                other: s.to_string(),
                shape,
                cased,
            }
        }
        Meaning::Exists => unreachable_exists(line)?,
        Meaning::Str => {
            let start = if is_number {
                pattern::literal(s)
            } else {
                pattern::parse_sigma_string(s)
            };
            let mut vals = vec![Val {
                toks: start,
                bytes: false,
            }];
            for t in transforms {
                vals = apply_transform(*t, vals, line, key)?;
            }
            for v in vals {
                test.tests.push(ValueTest::Str {
                    number: if is_number && transforms.is_empty() {
                        s.trim().parse::<f64>().ok()
                    } else {
                        None
                    },
                    pattern: Pattern::new(v.toks, cased),
                });
            }
            return Ok(());
        }
    };
    test.tests.push(vt);
    Ok(())
}

/// Necessary literals of a regex: every match starts with one of its prefix literals (when
/// the set is finite), so each literal's longest plain ASCII run occurs in any matching value.
fn regex_witnesses(pattern: &str, flags: (bool, bool, bool)) -> Option<Vec<String>> {
    use regex_syntax::hir::literal::Extractor;
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(flags.0)
        .multi_line(flags.1)
        .dot_matches_new_line(flags.2)
        .build()
        .parse(pattern)
        .ok()?;
    let seq = Extractor::new().extract(&hir);
    let literals = seq.literals()?;
    if literals.is_empty() || literals.len() > 64 {
        return None;
    }
    let mut out = Vec::new();
    for lit in literals {
        let text = std::str::from_utf8(lit.as_bytes()).ok()?;
        let best = pattern::longest_literal(&pattern::literal(text)).to_ascii_lowercase();
        if best.len() < crate::matcher::MIN_WITNESS {
            return None;
        }
        out.push(best);
    }
    out.sort();
    out.dedup();
    Some(out)
}

fn unreachable_exists(line: usize) -> Result<ValueTest, CompileError> {
    Err(err(line, "'exists' takes one boolean"))
}

fn time_cmp(key: &str) -> Cmp {
    for m in key.split('|').skip(1) {
        match m {
            "lt" => return Cmp::Lt,
            "lte" => return Cmp::Lte,
            "gt" => return Cmp::Gt,
            "gte" => return Cmp::Gte,
            _ => {}
        }
    }
    Cmp::Eq
}

fn to_bytes(v: &Val, line: usize, key: &str) -> Result<Vec<u8>, CompileError> {
    let lit = pattern::as_literal(&v.toks).ok_or_else(|| {
        err(
            line,
            format!("'{key}': cannot encode a value with wildcards"),
        )
    })?;
    Ok(if v.bytes {
        lit.chars().map(|c| c as u32 as u8).collect()
    } else {
        lit.into_bytes()
    })
}

fn bytes_val(s: String) -> Val {
    Val {
        toks: pattern::literal(&s),
        bytes: false,
    }
}

fn apply_transform(
    t: Transform,
    vals: Vec<Val>,
    line: usize,
    key: &str,
) -> Result<Vec<Val>, CompileError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::with_capacity(vals.len());
    for mut v in vals {
        match t {
            Transform::Contains | Transform::StartsWith | Transform::EndsWith => {
                if t != Transform::StartsWith && v.toks.first() != Some(&Tok::Star) {
                    v.toks.insert(0, Tok::Star);
                }
                if t != Transform::EndsWith && v.toks.last() != Some(&Tok::Star) {
                    v.toks.push(Tok::Star);
                }
                out.push(v);
            }
            Transform::Windash => {
                pattern::apply_windash(&mut v.toks);
                out.push(v);
            }
            Transform::Base64 => {
                let bytes = to_bytes(&v, line, key)?;
                out.push(bytes_val(b64.encode(bytes)));
            }
            Transform::Base64Offset => {
                // pySigma: encode with 0–2 leading bytes and cut the characters that depend on
                // the unknown neighbours.
                let bytes = to_bytes(&v, line, key)?;
                const START: [usize; 3] = [0, 2, 3];
                const END_CUT: [usize; 3] = [0, 3, 2];
                for (i, start) in START.iter().enumerate() {
                    let mut buf = vec![b' '; i];
                    buf.extend_from_slice(&bytes);
                    let enc = b64.encode(&buf);
                    let cut = END_CUT[(bytes.len() + i) % 3];
                    let end = enc.len().saturating_sub(cut);
                    if *start < end {
                        out.push(bytes_val(enc[*start..end].to_string()));
                    }
                }
            }
            Transform::Utf16Le | Transform::Utf16Be | Transform::Utf16Bom => {
                if v.bytes {
                    return Err(err(line, format!("'{key}': value already encoded")));
                }
                let mut toks = Vec::with_capacity(v.toks.len() * 2 + 2);
                if t == Transform::Utf16Bom {
                    toks.push(Tok::Char('\u{ff}'));
                    toks.push(Tok::Char('\u{fe}'));
                }
                for tok in v.toks {
                    match tok {
                        Tok::Char(c) => {
                            let mut units = [0u16; 2];
                            for u in c.encode_utf16(&mut units) {
                                let [hi, lo] = u.to_be_bytes();
                                let pair = if t == Transform::Utf16Be {
                                    [hi, lo]
                                } else {
                                    [lo, hi]
                                };
                                toks.extend(pair.iter().map(|b| Tok::Char(char::from(*b))));
                            }
                        }
                        other => toks.push(other),
                    }
                }
                out.push(Val { toks, bytes: true });
            }
        }
    }
    Ok(out)
}

/// Replaces every `%name%` with each of its configured values (cartesian product, capped).
fn expand_placeholders(s: &str, config: &Config, line: usize) -> Result<Vec<String>, CompileError> {
    let mut results = vec![String::new()];
    let mut rest = s;
    while let Some(start) = rest.find('%') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('%') else { break };
        let name = &after[..end];
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
        if !valid {
            for r in &mut results {
                r.push_str(&rest[..start + 1]);
            }
            rest = after;
            continue;
        }
        let values = config
            .placeholder(name)
            .ok_or_else(|| CompileError::new(line, ErrorKind::Placeholder(name.to_string())))?;
        let prefix = &rest[..start];
        let mut next = Vec::new();
        for r in &results {
            for v in values {
                next.push(format!("{r}{prefix}{v}"));
            }
        }
        if next.len() > 10_000 {
            return Err(value_err(line, "placeholder expansion is too large"));
        }
        results = next;
        rest = &after[end + 1..];
    }
    for r in &mut results {
        r.push_str(rest);
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion() {
        let mut c = Config::empty();
        c.set_placeholder("a", vec!["x".into(), "y".into()]);
        assert_eq!(
            expand_placeholders("1%a%2", &c, 1).unwrap(),
            vec!["1x2", "1y2"]
        );
        assert_eq!(
            expand_placeholders("50% off", &c, 1).unwrap(),
            vec!["50% off"]
        );
        assert!(expand_placeholders("%zz%", &c, 1).is_err());
        c.set_placeholder("e", vec![]);
        assert!(expand_placeholders("%e%", &c, 1).unwrap().is_empty());
    }
}
