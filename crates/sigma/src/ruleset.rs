//! Loading a rule set: files and directories (recursive, sorted, `.yml`/`.yaml`), multi-document
//! YAML, and linking — correlations to the rules they reference, filters to the rules they tune,
//! and `generate` to decide which rules report on their own.
//!
//! A broken document is reported and skipped; the rest still load. A correlation that names an
//! unknown rule is rejected; a filter naming rules that are not loaded is kept and does nothing.

use crate::correlation::{CorrelationRule, Target};
use crate::detection::Detection;
use crate::error::{CompileError, ErrorKind, LoadError};
use crate::rule::{Meta, Rule};
use crate::yaml::{self, Kind, Node};
use crate::Config;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A filter document (`filter:`), applied as AND NOT to the rules it names.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FilterRule {
    pub meta: Meta,
    /// The rules (ids or names) the filter applies to; empty = every rule whose logsource
    /// matches the filter's.
    pub rules: Vec<String>,
    detection: Arc<Detection>,
}

/// A loaded, linked set of rules, correlations and filters.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    correlations: Vec<CorrelationRule>,
    filters: Vec<FilterRule>,
    documents_read: usize,
}

/// Collects the rule files under `path` (a file is taken as is), sorted for determinism.
fn collect_files(path: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<LoadError>) {
    if path.is_dir() {
        let entries = match std::fs::read_dir(path) {
            Ok(e) => e,
            Err(e) => {
                errors.push(io_error(path, &e.to_string()));
                return;
            }
        };
        let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        children.sort();
        for child in children {
            if child.is_dir() {
                collect_files(&child, out, errors);
            } else if child
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
            {
                out.push(child);
            }
        }
    } else if path.exists() {
        out.push(path.to_path_buf());
    } else {
        errors.push(io_error(path, "no such file or directory"));
    }
}

fn io_error(path: &Path, msg: &str) -> LoadError {
    LoadError {
        file: path.to_path_buf(),
        line: 0,
        rule_id: None,
        kind: ErrorKind::Io(msg.to_string()),
    }
}

enum Doc {
    Rule(Rule),
    Correlation(CorrelationRule),
    Filter(FilterRule),
}

/// One text's documents, compiled (on any thread) and not yet added to a set.
struct Compiled {
    docs: Vec<Doc>,
    errors: Vec<LoadError>,
    /// Documents read, empty ones left out.
    read: usize,
}

/// Parses and compiles the documents of `text`, read from `file`.
fn compile_text(text: &str, file: &Path, config: &Config) -> Compiled {
    let mut compiled = Compiled {
        docs: Vec::new(),
        errors: Vec::new(),
        read: 0,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let docs = match yaml::parse_documents(text) {
        Ok(d) => d,
        Err(e) => {
            compiled.errors.push(LoadError {
                file: file.to_path_buf(),
                line: e.line,
                rule_id: None,
                kind: ErrorKind::Yaml(e.message),
            });
            return compiled;
        }
    };
    for doc in docs {
        if matches!(doc.kind, Kind::Null) {
            continue;
        }
        compiled.read += 1;
        match compile_doc(&doc, file, config) {
            Ok(d) => compiled.docs.push(d),
            Err(e) => {
                let id = doc
                    .get("id")
                    .or_else(|| doc.get("title"))
                    .and_then(Node::as_scalar_string);
                compiled.errors.push(LoadError {
                    file: file.to_path_buf(),
                    line: e.line,
                    rule_id: id,
                    kind: e.kind,
                });
            }
        }
    }
    compiled
}

fn compile_doc(doc: &Node, file: &Path, config: &Config) -> Result<Doc, CompileError> {
    if !matches!(doc.kind, Kind::Map(_)) {
        return Err(CompileError::new(
            doc.line,
            ErrorKind::Structure("a rule must be a mapping".into()),
        ));
    }
    let meta = Meta::from_node(doc, file.to_path_buf())?;
    if doc.get("correlation").is_some() {
        return Ok(Doc::Correlation(CorrelationRule::compile(doc, meta)?));
    }
    if let Some(f) = doc.get("filter") {
        // `rules: any` / `all` (pySigma) or an empty list: every rule of the logsource.
        let mut rules = f.get("rules").map(Node::as_string_list).unwrap_or_default();
        if let [one] = rules.as_slice() {
            if one.eq_ignore_ascii_case("any") || one.eq_ignore_ascii_case("all") {
                rules.clear();
            }
        }
        let detection = Detection::compile(f, config, &["rules"])?;
        return Ok(Doc::Filter(FilterRule {
            meta,
            rules,
            detection: Arc::new(detection),
        }));
    }
    if let Some(a) = doc.get("action") {
        return Err(CompileError::new(
            a.line,
            ErrorKind::Structure("Sigma v1 rule collections ('action') are not supported".into()),
        ));
    }
    Ok(Doc::Rule(Rule::compile(doc, meta, config)?))
}

impl RuleSet {
    /// Loads every rule file under the given files and directories, then links the set.
    /// Returns the set and every error (one per rejected document or unreadable path).
    pub fn load_paths(paths: &[PathBuf], config: &Config) -> (RuleSet, Vec<LoadError>) {
        Self::load_sources(paths, &[], config)
    }

    /// Like [`RuleSet::load_paths`], plus rule texts given as `(name, YAML)` (rules kept
    /// elsewhere than in files, e.g. uploaded to a service); errors name them as files.
    pub fn load_sources(
        paths: &[PathBuf],
        texts: &[(PathBuf, String)],
        config: &Config,
    ) -> (RuleSet, Vec<LoadError>) {
        let mut errors = Vec::new();
        let mut files = Vec::new();
        for p in paths {
            collect_files(p, &mut files, &mut errors);
        }
        // Files are read, parsed and compiled on all cores (the full SigmaHQ tree is some
        // 3,000 files, most of hunt's start-up), then added in their sorted order.
        let compiled: Vec<Result<Compiled, LoadError>> = files
            .par_iter()
            .map(|file| match std::fs::read(file) {
                Ok(bytes) => Ok(compile_text(&String::from_utf8_lossy(&bytes), file, config)),
                Err(e) => Err(io_error(file, &e.to_string())),
            })
            .collect();
        let mut set = RuleSet::default();
        for file in compiled {
            match file {
                Ok(file) => set.add(file, &mut errors),
                Err(e) => errors.push(e),
            }
        }
        for (name, text) in texts {
            set.add(compile_text(text, name, config), &mut errors);
        }
        set.link(&mut errors);
        (set, errors)
    }

    /// Loads rules from YAML text (one or more documents) as if read from `file`.
    pub fn from_yaml_str(text: &str, file: &Path, config: &Config) -> (RuleSet, Vec<LoadError>) {
        let mut errors = Vec::new();
        let mut set = RuleSet::default();
        set.add(compile_text(text, file, config), &mut errors);
        set.link(&mut errors);
        (set, errors)
    }

    /// Adds one text's compiled documents and errors, in their order.
    fn add(&mut self, compiled: Compiled, errors: &mut Vec<LoadError>) {
        self.documents_read += compiled.read;
        for doc in compiled.docs {
            match doc {
                Doc::Rule(r) => self.rules.push(r),
                Doc::Correlation(c) => self.correlations.push(c),
                Doc::Filter(f) => self.filters.push(f),
            }
        }
        errors.extend(compiled.errors);
    }

    fn reject(meta: &Meta, msg: String) -> LoadError {
        LoadError {
            file: meta.file.clone(),
            line: meta.line,
            rule_id: Some(meta.display_id().to_string()),
            kind: ErrorKind::Reference(msg),
        }
    }

    /// Resolves correlation references (rejecting dangling ones and cycles), applies filters
    /// and computes which rules report on their own.
    fn link(&mut self, errors: &mut Vec<LoadError>) {
        // Correlations: resolve until stable, dropping the unresolvable.
        loop {
            let mut bad = None;
            for (ci, c) in self.correlations.iter().enumerate() {
                let mut targets = Vec::new();
                for r in &c.rules {
                    if let Some(i) = self.rules.iter().position(|x| x.meta.is_named(r)) {
                        targets.push(Target::Rule(i));
                    } else if let Some(k) = self
                        .correlations
                        .iter()
                        .position(|x| x.meta.is_named(r))
                        .filter(|k| *k != ci)
                    {
                        targets.push(Target::Correlation(k));
                    } else {
                        bad = Some((ci, format!("correlation references unknown rule '{r}'")));
                        break;
                    }
                }
                if bad.is_some() {
                    break;
                }
            }
            match bad {
                Some((ci, msg)) => {
                    let c = self.correlations.remove(ci);
                    errors.push(Self::reject(&c.meta, msg));
                }
                None => break,
            }
        }
        let resolved: Vec<Vec<Target>> = self
            .correlations
            .iter()
            .enumerate()
            .map(|(ci, c)| {
                c.rules
                    .iter()
                    .filter_map(|r| {
                        self.rules
                            .iter()
                            .position(|x| x.meta.is_named(r))
                            .map(Target::Rule)
                            .or_else(|| {
                                self.correlations
                                    .iter()
                                    .position(|x| x.meta.is_named(r))
                                    .filter(|k| *k != ci)
                                    .map(Target::Correlation)
                            })
                    })
                    .collect()
            })
            .collect();
        for (c, t) in self.correlations.iter_mut().zip(resolved) {
            c.targets = t;
        }
        // generate: a referenced rule reports alone only if some referencing correlation says so.
        let mut rule_refs: Vec<Option<bool>> = vec![None; self.rules.len()];
        let mut corr_refs: Vec<Option<bool>> = vec![None; self.correlations.len()];
        for c in &self.correlations {
            for t in &c.targets {
                let slot = match t {
                    Target::Rule(i) => rule_refs.get_mut(*i),
                    Target::Correlation(i) => corr_refs.get_mut(*i),
                };
                if let Some(s) = slot {
                    *s = Some(s.unwrap_or(false) || c.generate);
                }
            }
        }
        for (r, g) in self.rules.iter_mut().zip(&rule_refs) {
            r.set_standalone(g.unwrap_or(true));
        }
        for (c, g) in self.correlations.iter_mut().zip(&corr_refs) {
            c.standalone = g.unwrap_or(true);
        }
        // Filters.
        for f in &self.filters {
            for r in &mut self.rules {
                let named = if f.rules.is_empty() {
                    true
                } else {
                    f.rules.iter().any(|x| r.meta.is_named(x))
                };
                if named && f.meta.logsource.is_subset_of(&r.meta.logsource) {
                    r.add_filter(f.detection.clone());
                }
            }
        }
    }

    /// The detection rules, in load order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The correlation rules, in load order.
    pub fn correlations(&self) -> &[CorrelationRule] {
        &self.correlations
    }

    /// The filter documents, in load order.
    pub fn filters(&self) -> &[FilterRule] {
        &self.filters
    }

    /// Number of non-empty YAML documents read (loaded + rejected).
    pub fn documents_read(&self) -> usize {
        self.documents_read
    }

    /// Total documents loaded (rules + correlations + filters).
    pub fn len(&self) -> usize {
        self.rules.len() + self.correlations.len() + self.filters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
