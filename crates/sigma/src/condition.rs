//! The detection condition language: `and`, `or`, `not`, parentheses, `1 of` / `all of` with
//! wildcard patterns and `them`.
//!
//! Precedence (Sigma spec, loosest first): `or`, `and`, `not`, then `x of`, identifiers and
//! parentheses. Keywords are case-insensitive. `them` means every search identifier not starting
//! with `_`; a pattern such as `filter_*` matches identifiers by glob, including `_` ones only if
//! the pattern itself allows it. A pattern that matches nothing is an error, as is an unknown
//! identifier. `N of` (any count) is accepted as an extension: at least N must match.

use crate::pattern::{parse_sigma_string, Pattern};

/// A compiled condition over search identifiers (by index).
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Ident(usize),
    /// At least `n` of the identifiers match (`1 of` is n = 1, `all of` is n = len).
    AtLeast(usize, Vec<usize>),
}

impl Expr {
    pub fn eval(&self, ident: &mut dyn FnMut(usize) -> bool) -> bool {
        match self {
            Expr::And(xs) => xs.iter().all(|x| x.eval(ident)),
            Expr::Or(xs) => xs.iter().any(|x| x.eval(ident)),
            Expr::Not(x) => !x.eval(ident),
            Expr::Ident(i) => ident(*i),
            Expr::AtLeast(n, ids) => {
                let mut count = 0;
                for i in ids {
                    if ident(*i) {
                        count += 1;
                        if count >= *n {
                            return true;
                        }
                    }
                }
                *n == 0
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Of,
    Word(String),
}

fn tokenize(s: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' {
            chars.next();
            out.push(Token::LParen);
        } else if c == ')' {
            chars.next();
            out.push(Token::RParen);
        } else if c == '|' {
            return Err(
                "aggregation expressions ('|') are not Sigma v2; use a correlation rule".into(),
            );
        } else {
            let mut w = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '(' || c == ')' {
                    break;
                }
                w.push(c);
                chars.next();
            }
            out.push(match w.to_lowercase().as_str() {
                "and" => Token::And,
                "or" => Token::Or,
                "not" => Token::Not,
                "of" => Token::Of,
                _ => Token::Word(w),
            });
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Token>,
    pos: usize,
    idents: &'a [String],
    depth: usize,
}

/// Nesting limit for parentheses and `not` chains (the parser recurses).
const MAX_NESTING: usize = 64;

/// Parses a condition against the rule's search identifiers.
pub(crate) fn parse(cond: &str, idents: &[String]) -> Result<Expr, String> {
    let toks = tokenize(cond)?;
    if toks.is_empty() {
        return Err("empty condition".into());
    }
    let mut p = Parser {
        toks,
        pos: 0,
        idents,
        depth: 0,
    };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected '{}'", p.describe()));
    }
    Ok(e)
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "end of condition".into(),
            Some(Token::Word(w)) => w.clone(),
            Some(t) => format!("{t:?}").to_lowercase(),
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut xs = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            xs.push(self.and()?);
        }
        Ok(if xs.len() == 1 {
            xs.remove(0)
        } else {
            Expr::Or(xs)
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut xs = vec![self.not()?];
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            xs.push(self.not()?);
        }
        Ok(if xs.len() == 1 {
            xs.remove(0)
        } else {
            Expr::And(xs)
        })
    }

    fn not(&mut self) -> Result<Expr, String> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err("condition nested too deeply".into());
        }
        let r = if self.peek() == Some(&Token::Not) {
            self.pos += 1;
            self.not().map(|e| Expr::Not(Box::new(e)))
        } else {
            self.primary()
        };
        self.depth -= 1;
        r
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.peek().cloned() {
            Some(Token::LParen) => {
                self.pos += 1;
                let e = self.or()?;
                if self.peek() != Some(&Token::RParen) {
                    return Err(format!("expected ')' but found {}", self.describe()));
                }
                self.pos += 1;
                Ok(e)
            }
            Some(Token::Word(w)) => {
                self.pos += 1;
                if self.peek() == Some(&Token::Of) {
                    self.pos += 1;
                    let quant = w.to_lowercase();
                    let Some(Token::Word(target)) = self.peek().cloned() else {
                        return Err(format!("'{w} of' needs a pattern or 'them'"));
                    };
                    self.pos += 1;
                    let ids = self.resolve(&target)?;
                    let n = if quant == "all" {
                        ids.len()
                    } else {
                        quant
                            .parse::<usize>()
                            .ok()
                            .filter(|n| *n >= 1)
                            .ok_or_else(|| format!("'{w} of': expected '1', 'all' or a count"))?
                    };
                    return Ok(Expr::AtLeast(n, ids));
                }
                match self.idents.iter().position(|i| *i == w) {
                    Some(i) => Ok(Expr::Ident(i)),
                    None => Err(format!("unknown search identifier '{w}'")),
                }
            }
            _ => Err(format!("unexpected {}", self.describe())),
        }
    }

    fn resolve(&self, target: &str) -> Result<Vec<usize>, String> {
        let ids: Vec<usize> = if target.eq_ignore_ascii_case("them") {
            (0..self.idents.len())
                .filter(|i| !self.idents[*i].starts_with('_'))
                .collect()
        } else {
            let p = Pattern::new(parse_sigma_string(target), true);
            (0..self.idents.len())
                .filter(|i| p.is_match(&self.idents[*i]))
                .collect()
        };
        if ids.is_empty() {
            return Err(format!("'{target}' matches no search identifier"));
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(cond: &str, idents: &[&str], truth: &[bool]) -> bool {
        let ids: Vec<String> = idents.iter().map(|s| s.to_string()).collect();
        parse(cond, &ids).unwrap().eval(&mut |i| truth[i])
    }

    #[test]
    fn precedence_and_quantifiers() {
        // not binds tighter than and, and tighter than or.
        assert!(ev("a or b and c", &["a", "b", "c"], &[true, false, false]));
        assert!(!ev("not a and b", &["a", "b"], &[true, true]));
        assert!(ev("not (a and b)", &["a", "b"], &[true, false]));
        assert!(ev(
            "1 of sel*",
            &["sel1", "sel2", "f"],
            &[false, true, false]
        ));
        assert!(!ev(
            "all of sel*",
            &["sel1", "sel2", "f"],
            &[false, true, false]
        ));
        assert!(ev("all of them", &["a", "_b"], &[true, false]));
        assert!(parse("x", &["a".into()]).is_err());
        assert!(parse("1 of z*", &["a".into()]).is_err());
        assert!(parse("a and", &["a".into()]).is_err());
        assert!(parse("(a", &["a".into()]).is_err());
        assert!(parse("a | count() > 5", &["a".into()]).is_err());
        let deep = format!("{}a{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(parse(&deep, &["a".into()]).is_err());
        let nots = format!("{}a", "not ".repeat(100_000));
        assert!(parse(&nots, &["a".into()]).is_err());
        let ok = format!("{}a{}", "(".repeat(20), ")".repeat(20));
        assert!(parse(&ok, &["a".into()]).is_ok());
    }
}
