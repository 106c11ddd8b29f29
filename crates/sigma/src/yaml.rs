//! A small YAML document tree that remembers the source line of every node.
//!
//! Rule errors must name the YAML line, and Sigma distinguishes `null`, `''` and numbers, so the
//! tree keeps the scalar style. It is built from `yaml-rust2`'s event parser (maintained, pure
//! Rust, few dependencies; `serde_yaml` is archived and drops positions). Anchors and aliases are
//! resolved by copying the anchored node. Mapping keys are kept in source order; a duplicate key is
//! an error, as in SigmaHQ's own validators.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A YAML node with its 1-based source line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub line: usize,
    pub kind: Kind,
}

/// The node kinds Sigma needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    /// A plain scalar that reads as a number; the source text is kept.
    Number(String),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The node as a string if it is a scalar (numbers and bools in their source form).
    pub fn as_scalar_string(&self) -> Option<String> {
        match &self.kind {
            Kind::Str(s) | Kind::Number(s) => Some(s.clone()),
            Kind::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A scalar or a list of scalars as strings (for tags, references, ...).
    pub fn as_string_list(&self) -> Vec<String> {
        match &self.kind {
            Kind::Seq(items) => items.iter().filter_map(Node::as_scalar_string).collect(),
            _ => self.as_scalar_string().into_iter().collect(),
        }
    }
}

/// A YAML syntax error with its line.
#[derive(Debug, Clone)]
pub(crate) struct YamlError {
    pub line: usize,
    pub message: String,
}

/// Parses every document of a (multi-document) YAML text.
pub(crate) fn parse_documents(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| YamlError {
        line: e.marker().line(),
        message: e.info().to_string(),
    })?;
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok(builder.docs)
}

enum Frame {
    Seq(usize, Vec<Node>, usize),
    Map(usize, Vec<(String, Node)>, Option<String>, usize),
}

#[derive(Default)]
struct Builder {
    docs: Vec<Node>,
    stack: Vec<Frame>,
    anchors: Vec<(usize, Node)>,
    error: Option<YamlError>,
}

impl Builder {
    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
        let mut problem: Option<(usize, String)> = None;
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq(_, items, _)) => items.push(node),
            Some(Frame::Map(_, entries, key, _)) => match key.take() {
                None => {
                    let k = match &node.kind {
                        Kind::Str(s) | Kind::Number(s) => s.clone(),
                        Kind::Bool(b) => b.to_string(),
                        Kind::Null => String::new(),
                        _ => {
                            problem = Some((node.line, "a mapping key must be a scalar".into()));
                            String::new()
                        }
                    };
                    if entries.iter().any(|(e, _)| *e == k) {
                        problem = Some((node.line, format!("duplicate key '{k}'")));
                    }
                    *key = Some(k);
                }
                Some(k) => entries.push((k, node)),
            },
        }
        if let Some((line, message)) = problem {
            self.set_error(line, &message);
        }
    }

    fn set_error(&mut self, line: usize, message: &str) {
        if self.error.is_none() {
            self.error = Some(YamlError {
                line,
                message: message.to_string(),
            });
        }
    }
}

fn scalar_kind(value: String, style: TScalarStyle, tagged: bool) -> Kind {
    if style != TScalarStyle::Plain || tagged {
        return Kind::Str(value);
    }
    match value.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => Kind::Null,
        "true" | "True" | "TRUE" => Kind::Bool(true),
        "false" | "False" | "FALSE" => Kind::Bool(false),
        _ if looks_numeric(&value) => Kind::Number(value),
        _ => Kind::Str(value),
    }
}

fn looks_numeric(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    if body.is_empty() {
        return false;
    }
    if let Some(hex) = body.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    body.chars().all(|c| c.is_ascii_digit())
        || (body.parse::<f64>().is_ok() && body.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// Nesting limit: Sigma documents are shallow, and the tree is dropped recursively.
const MAX_DEPTH: usize = 128;

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line();
        if self.error.is_some() {
            return;
        }
        if self.stack.len() >= MAX_DEPTH
            && matches!(ev, Event::SequenceStart(..) | Event::MappingStart(..))
        {
            self.set_error(line, "YAML nested too deeply");
            self.stack.clear();
            return;
        }
        match ev {
            Event::Scalar(value, style, anchor, tag) => {
                let node = Node {
                    line,
                    kind: scalar_kind(value, style, tag.is_some()),
                };
                self.push_value(node, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Frame::Seq(line, Vec::new(), anchor))
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push(Frame::Map(line, Vec::new(), None, anchor))
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq(l, items, anchor)) = self.stack.pop() {
                    self.push_value(
                        Node {
                            line: l,
                            kind: Kind::Seq(items),
                        },
                        anchor,
                    );
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(l, entries, _, anchor)) = self.stack.pop() {
                    self.push_value(
                        Node {
                            line: l,
                            kind: Kind::Map(entries),
                        },
                        anchor,
                    );
                }
            }
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _)| *a == id)
                    .map(|(_, n)| n.clone())
                    .unwrap_or(Node {
                        line,
                        kind: Kind::Null,
                    });
                self.push_value(node, 0);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_styles_and_documents() {
        let docs = parse_documents("a: 1\nb: '1'\nc:\nd: ''\n---\nx:\n  - y\n").unwrap();
        assert_eq!(docs.len(), 2);
        let d = &docs[0];
        assert_eq!(d.get("a").unwrap().kind, Kind::Number("1".into()));
        assert_eq!(d.get("b").unwrap().kind, Kind::Str("1".into()));
        assert_eq!(d.get("c").unwrap().kind, Kind::Null);
        assert_eq!(d.get("d").unwrap().kind, Kind::Str(String::new()));
        assert_eq!(d.get("b").unwrap().line, 2);
        assert_eq!(docs[1].get("x").unwrap().line, 7);
    }

    #[test]
    fn duplicate_keys_and_syntax_errors() {
        assert!(parse_documents("a: 1\na: 2\n").is_err());
        let err = parse_documents("a: 1\nb: [\n").unwrap_err();
        assert!(err.line >= 2);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("a: {}1{}\n", "[".repeat(50_000), "]".repeat(50_000));
        assert!(parse_documents(&deep).is_err());
        let ok = format!("a: {}1{}\n", "[".repeat(50), "]".repeat(50));
        assert!(parse_documents(&ok).is_ok());
    }
}
