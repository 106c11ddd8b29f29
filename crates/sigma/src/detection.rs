//! A rule's `detection` section compiled: named searches and the condition over them.
//!
//! A search is a map (every entry must hold: AND), a list of maps (any map: OR), or a list of
//! plain values (keywords: any value found anywhere in the event, as a substring). A list that
//! mixes maps and plain values is the OR of both. Keywords get implicit `*…*` wildcards, like the
//! full-text search of the backends Sigma was written for. A list of conditions is their OR.

use crate::condition::{self, Expr};
use crate::config::Config;
use crate::error::{CompileError, ErrorKind};
use crate::event::Event;
use crate::matcher::{FieldTest, ValueTest};
use crate::modifiers::compile_field;
use crate::pattern::{parse_sigma_string, Pattern, Tok};
use crate::yaml::{Kind, Node};
use std::sync::OnceLock;

/// One search identifier: OR over alternatives, each an AND of field tests.
#[derive(Debug, Clone)]
pub(crate) struct Search {
    alternatives: Vec<Vec<FieldTest>>,
}

impl Search {
    fn matches(&self, event: &dyn Event) -> bool {
        self.alternatives
            .iter()
            .any(|alt| alt.iter().all(|t| t.matches(event)))
    }

    fn witnesses(&self) -> Option<Vec<String>> {
        let mut out = Vec::new();
        for alt in &self.alternatives {
            let best = alt
                .iter()
                .filter_map(FieldTest::witnesses)
                .max_by_key(|s| score(s))?;
            out.extend(best);
        }
        Some(out)
    }
}

/// Ranks witness sets: longer shortest literal first, then fewer literals.
fn score(set: &[String]) -> (usize, std::cmp::Reverse<usize>) {
    let min = set.iter().map(String::len).min().unwrap_or(0);
    (min, std::cmp::Reverse(set.len()))
}

/// A compiled `detection` section (also used for filter documents).
#[derive(Debug, Clone)]
pub(crate) struct Detection {
    searches: Vec<Search>,
    condition: Expr,
}

fn keyword_test(items: &[&Node]) -> Result<FieldTest, CompileError> {
    let mut tests = Vec::new();
    for item in items {
        let s = item.as_scalar_string().ok_or_else(|| {
            CompileError::new(
                item.line,
                ErrorKind::Structure("a keyword must be a scalar".into()),
            )
        })?;
        let mut toks = if matches!(item.kind, Kind::Number(_)) {
            crate::pattern::literal(&s)
        } else {
            parse_sigma_string(&s)
        };
        if toks.first() != Some(&Tok::Star) {
            toks.insert(0, Tok::Star);
        }
        if toks.last() != Some(&Tok::Star) {
            toks.push(Tok::Star);
        }
        tests.push(ValueTest::Str {
            pattern: Pattern::new(toks, false),
            number: None,
        });
    }
    Ok(FieldTest {
        field: None,
        tests,
        all: false,
        neq: false,
        exists: None,
        accel: OnceLock::new(),
    })
}

fn compile_map(
    entries: &[(String, Node)],
    config: &Config,
) -> Result<Vec<FieldTest>, CompileError> {
    let mut out = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let mut t = compile_field(key, value, config)?;
        if t.field.is_none() {
            // `'|all': [...]` and friends: keyword values with modifiers match as substrings.
            for vt in &mut t.tests {
                if let ValueTest::Str { pattern, .. } = vt {
                    let mut toks = pattern.toks.clone();
                    if toks.first() != Some(&Tok::Star) {
                        toks.insert(0, Tok::Star);
                    }
                    if toks.last() != Some(&Tok::Star) {
                        toks.push(Tok::Star);
                    }
                    *pattern = Pattern::new(toks, pattern.cased);
                }
            }
        }
        out.push(t);
    }
    Ok(out)
}

fn compile_search(node: &Node, config: &Config) -> Result<Search, CompileError> {
    let mut alternatives = Vec::new();
    match &node.kind {
        Kind::Map(entries) => alternatives.push(compile_map(entries, config)?),
        Kind::Seq(items) => {
            let mut keywords = Vec::new();
            for item in items {
                match &item.kind {
                    Kind::Map(entries) => alternatives.push(compile_map(entries, config)?),
                    Kind::Seq(_) => {
                        return Err(CompileError::new(
                            item.line,
                            ErrorKind::Structure("nested lists are not allowed in a search".into()),
                        ))
                    }
                    Kind::Null => {}
                    _ => keywords.push(item),
                }
            }
            if !keywords.is_empty() {
                alternatives.push(vec![keyword_test(&keywords)?]);
            }
        }
        Kind::Null => {
            return Err(CompileError::new(
                node.line,
                ErrorKind::Structure("a search identifier cannot be empty".into()),
            ))
        }
        _ => alternatives.push(vec![keyword_test(&[node])?]),
    }
    Ok(Search { alternatives })
}

impl Detection {
    /// Compiles a detection-like map: every key but `condition` (and `timeframe`, and the
    /// keys in `skip`) is a search identifier.
    pub fn compile(node: &Node, config: &Config, skip: &[&str]) -> Result<Detection, CompileError> {
        let Kind::Map(entries) = &node.kind else {
            return Err(CompileError::new(
                node.line,
                ErrorKind::Structure("detection must be a mapping".into()),
            ));
        };
        let mut names = Vec::new();
        let mut searches = Vec::new();
        let mut cond_node = None;
        for (key, value) in entries {
            match key.as_str() {
                "condition" => cond_node = Some(value),
                "timeframe" => {}
                k if skip.contains(&k) => {}
                _ => {
                    names.push(key.clone());
                    searches.push(compile_search(value, config)?);
                }
            }
        }
        let cond_node = cond_node.ok_or_else(|| {
            CompileError::new(
                node.line,
                ErrorKind::Structure("detection has no condition".into()),
            )
        })?;
        let conds: Vec<(usize, String)> = match &cond_node.kind {
            Kind::Seq(items) => items
                .iter()
                .map(|i| i.as_scalar_string().map(|s| (i.line, s)))
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    CompileError::new(
                        cond_node.line,
                        ErrorKind::Condition("conditions must be strings".into()),
                    )
                })?,
            _ => vec![(
                cond_node.line,
                cond_node.as_scalar_string().ok_or_else(|| {
                    CompileError::new(
                        cond_node.line,
                        ErrorKind::Condition("condition must be a string".into()),
                    )
                })?,
            )],
        };
        if conds.is_empty() {
            return Err(CompileError::new(
                cond_node.line,
                ErrorKind::Condition("empty condition".into()),
            ));
        }
        let mut exprs = Vec::new();
        for (line, c) in conds {
            exprs.push(
                condition::parse(&c, &names)
                    .map_err(|m| CompileError::new(line, ErrorKind::Condition(m)))?,
            );
        }
        let condition = if exprs.len() == 1 {
            exprs.remove(0)
        } else {
            Expr::Or(exprs)
        };
        Ok(Detection {
            searches,
            condition,
        })
    }

    pub fn matches(&self, event: &dyn Event) -> bool {
        self.condition
            .eval(&mut |i| self.searches.get(i).is_some_and(|s| s.matches(event)))
    }

    /// Every field a search reads (values it tests, fields it compares them with); `None`
    /// where a search is a keyword search, which reads every value (see
    /// [`crate::Rule::fields`]).
    pub fn fields(&self) -> Option<Vec<&str>> {
        let mut out = Vec::new();
        for test in self
            .searches
            .iter()
            .flat_map(|s| s.alternatives.iter().flatten())
        {
            out.push(test.field.as_deref()?);
            out.extend(test.tests.iter().filter_map(|t| match t {
                ValueTest::FieldRef { other, .. } => Some(other.as_str()),
                _ => None,
            }));
        }
        Some(out)
    }

    /// Necessary literals of the whole condition (see [`crate::Rule::witnesses`]).
    pub fn witnesses(&self) -> Option<Vec<String>> {
        self.expr_witnesses(&self.condition)
    }

    fn expr_witnesses(&self, e: &Expr) -> Option<Vec<String>> {
        match e {
            Expr::Ident(i) => self.searches.get(*i)?.witnesses(),
            Expr::Not(_) => None,
            Expr::And(xs) => xs
                .iter()
                .filter_map(|x| self.expr_witnesses(x))
                .max_by_key(|s| score(s)),
            Expr::Or(xs) => {
                let mut out = Vec::new();
                for x in xs {
                    out.extend(self.expr_witnesses(x)?);
                }
                Some(out)
            }
            Expr::AtLeast(n, ids) => {
                if *n == ids.len() && *n > 0 {
                    ids.iter()
                        .filter_map(|i| self.searches.get(*i)?.witnesses())
                        .max_by_key(|s| score(s))
                } else if *n >= 1 {
                    let mut out = Vec::new();
                    for i in ids {
                        out.extend(self.searches.get(*i)?.witnesses()?);
                    }
                    Some(out)
                } else {
                    None
                }
            }
        }
    }
}
