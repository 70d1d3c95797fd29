//! The relation expression: `$0 and ($1 or not $bigSpender)`.
//!
//! Grammar (keywords case-insensitive; `not` binds tighter than `and`, `and` tighter than `or`):
//!
//! ```text
//! expr    := and (("or" | "||") and)*
//! and     := unary (("and" | "&&") unary)*
//! unary   := ("not" | "!") unary | primary
//! primary := "$" (digits | identifier) | "(" expr ")"
//! ```

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A parsed relation expression with references resolved to condition indexes.
///
/// Serialized flat, in postfix order (a condition index, or `"not"`, `"and"`, `"or"` applied
/// to what comes before), so that no expression the limits allow — `$0 or $1 or … $999` is a
/// tree 999 deep — nests deeper than a JSON reader accepts (serde_json stops at 128 levels: a
/// worker could not read its task):
///
/// ```
/// use frocket_engine::query::parse_relation;
/// let e = parse_relation("$0 and not ($1 or $0)", &[None, None]).unwrap();
/// let json = serde_json::to_string(&e).unwrap();
/// assert_eq!(json, r#"[0,1,0,"or","not","and"]"#);
/// assert_eq!(serde_json::from_str::<frocket_engine::query::RelationExpr>(&json).unwrap(), e);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelationExpr {
    /// The condition at this index.
    Cond(usize),
    /// Negation.
    Not(Box<RelationExpr>),
    /// Conjunction.
    And(Box<RelationExpr>, Box<RelationExpr>),
    /// Disjunction.
    Or(Box<RelationExpr>, Box<RelationExpr>),
}

/// One item of a relation's postfix form (see [`RelationExpr`]).
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Postfix {
    Cond(usize),
    Op(String),
}

impl Serialize for RelationExpr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Post-order without recursion: a node is emitted once its operands are.
        let mut out = Vec::new();
        let mut stack: Vec<(&RelationExpr, bool)> = vec![(self, false)];
        while let Some((e, operands_done)) = stack.pop() {
            match (e, operands_done) {
                (RelationExpr::Cond(i), _) => out.push(Postfix::Cond(*i)),
                (RelationExpr::Not(_), true) => out.push(Postfix::Op("not".into())),
                (RelationExpr::And(..), true) => out.push(Postfix::Op("and".into())),
                (RelationExpr::Or(..), true) => out.push(Postfix::Op("or".into())),
                (RelationExpr::Not(a), false) => {
                    stack.push((e, true));
                    stack.push((a, false));
                }
                (RelationExpr::And(a, b) | RelationExpr::Or(a, b), false) => {
                    stack.push((e, true));
                    stack.push((b, false));
                    stack.push((a, false));
                }
            }
        }
        out.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RelationExpr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let items = Vec::<Postfix>::deserialize(deserializer)?;
        let mut stack: Vec<RelationExpr> = Vec::new();
        for (at, item) in items.into_iter().enumerate() {
            let missing = || D::Error::custom(format!("relation item {at}: an operator without its operands"));
            let e = match item {
                Postfix::Cond(i) => RelationExpr::Cond(i),
                Postfix::Op(op) => {
                    let b = stack.pop().ok_or_else(missing)?;
                    match op.as_str() {
                        "not" => RelationExpr::Not(Box::new(b)),
                        "and" | "or" => {
                            let a = Box::new(stack.pop().ok_or_else(missing)?);
                            if op == "and" {
                                RelationExpr::And(a, Box::new(b))
                            } else {
                                RelationExpr::Or(a, Box::new(b))
                            }
                        }
                        other => {
                            return Err(D::Error::custom(format!(
                                "relation item {at}: unknown operator '{other}' (not, and, or)"
                            )))
                        }
                    }
                }
            };
            stack.push(e);
        }
        match (stack.pop(), stack.is_empty()) {
            (Some(e), true) => Ok(e),
            _ => Err(D::Error::custom("a relation must reduce to one expression")),
        }
    }
}

impl RelationExpr {
    /// How many condition references the expression holds (its leaves).
    ///
    /// ```
    /// use frocket_engine::query::parse_relation;
    /// let names = vec![None, None];
    /// assert_eq!(parse_relation("$0 and not ($1 or $0)", &names).unwrap().terms(), 3);
    /// ```
    pub fn terms(&self) -> usize {
        let mut stack = vec![self];
        let mut n = 0;
        while let Some(e) = stack.pop() {
            match e {
                RelationExpr::Cond(_) => n += 1,
                RelationExpr::Not(a) => stack.push(a),
                RelationExpr::And(a, b) | RelationExpr::Or(a, b) => {
                    stack.push(a);
                    stack.push(b);
                }
            }
        }
        n
    }

    /// Evaluates the expression given each condition's truth value.
    ///
    /// ```
    /// use frocket_engine::query::{parse_relation, RelationExpr};
    /// let e = parse_relation("$0 and not $1", &[None, None]).unwrap();
    /// assert!(e.eval(&|i| i == 0));
    /// assert!(!e.eval(&|_| true));
    /// ```
    pub fn eval(&self, cond: &dyn Fn(usize) -> bool) -> bool {
        match self {
            RelationExpr::Cond(i) => cond(*i),
            RelationExpr::Not(e) => !e.eval(cond),
            RelationExpr::And(a, b) => a.eval(cond) && b.eval(cond),
            RelationExpr::Or(a, b) => a.eval(cond) || b.eval(cond),
        }
    }

    /// Condition indexes referenced, in order of appearance (may repeat).
    pub fn references(&self, out: &mut Vec<usize>) {
        match self {
            RelationExpr::Cond(i) => out.push(*i),
            RelationExpr::Not(e) => e.references(out),
            RelationExpr::And(a, b) | RelationExpr::Or(a, b) => {
                a.references(out);
                b.references(out);
            }
        }
    }
}

/// A relation syntax or reference error, with the character position it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationError {
    /// 0-based character offset into the expression.
    pub position: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ref(String),
    And,
    Or,
    Not,
    LParen,
    RParen,
}

fn tokenize(s: &str) -> Result<Vec<(usize, Tok)>, RelationError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        match c {
            '(' => {
                out.push((start, Tok::LParen));
                i += 1;
            }
            ')' => {
                out.push((start, Tok::RParen));
                i += 1;
            }
            '!' => {
                out.push((start, Tok::Not));
                i += 1;
            }
            '&' | '|' => {
                if chars.get(i + 1) != Some(&c) {
                    return Err(RelationError {
                        position: start,
                        message: format!("'{c}' must be doubled ('{c}{c}')"),
                    });
                }
                out.push((start, if c == '&' { Tok::And } else { Tok::Or }));
                i += 2;
            }
            '$' => {
                i += 1;
                let s0 = i;
                while i < chars.len() && is_word(chars[i]) {
                    i += 1;
                }
                if s0 == i {
                    return Err(RelationError {
                        position: start,
                        message: "'$' must be followed by a condition index or name".into(),
                    });
                }
                out.push((start, Tok::Ref(chars[s0..i].iter().collect())));
            }
            c if c.is_ascii_alphabetic() => {
                while i < chars.len() && is_word(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let tok = match word.to_ascii_lowercase().as_str() {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    _ => {
                        return Err(RelationError {
                            position: start,
                            message: format!(
                                "unexpected word '{word}': use and/or/not/&&/||/! and $<index> or $<name>"
                            ),
                        })
                    }
                };
                out.push((start, tok));
            }
            other => {
                return Err(RelationError {
                    position: start,
                    message: format!("unexpected character '{other}'"),
                })
            }
        }
    }
    Ok(out)
}

/// Deepest nesting of parentheses and `not` accepted. The parser is recursive: without a
/// bound, a relation such as `"((((…$0))))"` would overflow the stack and abort the process.
pub const MAX_RELATION_DEPTH: usize = 100;

struct Parser<'a> {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
    names: &'a [Option<String>],
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.1)
    }
    fn here(&self) -> usize {
        self.toks.get(self.pos).map(|t| t.0).unwrap_or(self.end)
    }
    /// Enters one level of nesting (a `not` or a `(` at `at`).
    fn enter(&mut self, at: usize) -> Result<(), RelationError> {
        self.depth += 1;
        if self.depth > MAX_RELATION_DEPTH {
            return Err(RelationError {
                position: at,
                message: format!(
                    "expression nested too deeply (at most {MAX_RELATION_DEPTH} levels of parentheses and 'not')"
                ),
            });
        }
        Ok(())
    }
    fn or(&mut self) -> Result<RelationExpr, RelationError> {
        let mut lhs = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            let rhs = self.and()?;
            lhs = RelationExpr::Or(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }
    fn and(&mut self) -> Result<RelationExpr, RelationError> {
        let mut lhs = self.unary()?;
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            let rhs = self.unary()?;
            lhs = RelationExpr::And(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }
    fn unary(&mut self) -> Result<RelationExpr, RelationError> {
        if self.peek() == Some(&Tok::Not) {
            self.enter(self.here())?;
            self.pos += 1;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(RelationExpr::Not(Box::new(e)));
        }
        self.primary()
    }
    fn primary(&mut self) -> Result<RelationExpr, RelationError> {
        let at = self.here();
        match self.toks.get(self.pos).map(|t| t.1.clone()) {
            Some(Tok::Ref(r)) => {
                self.pos += 1;
                self.resolve(&r, at).map(RelationExpr::Cond)
            }
            Some(Tok::LParen) => {
                self.enter(at)?;
                self.pos += 1;
                let e = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(RelationError {
                        position: self.here(),
                        message: "expected ')'".into(),
                    });
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(e)
            }
            Some(t) => Err(RelationError {
                position: at,
                message: format!(
                    "expected a condition ($<index> or $<name>) or '(', found {}",
                    describe(&t)
                ),
            }),
            None => Err(RelationError {
                position: at,
                message: "unexpected end: expected a condition ($<index> or $<name>) or '('".into(),
            }),
        }
    }
    fn resolve(&self, r: &str, at: usize) -> Result<usize, RelationError> {
        let n = self.names.len();
        if r.chars().all(|c| c.is_ascii_digit()) {
            return match r.parse::<usize>() {
                Ok(i) if i < n => Ok(i),
                _ => Err(RelationError {
                    position: at,
                    message: format!(
                        "unknown condition ${r}: there {} {n} condition{} (indexes 0..{})",
                        if n == 1 { "is" } else { "are" },
                        if n == 1 { "" } else { "s" },
                        n.saturating_sub(1)
                    ),
                }),
            };
        }
        self.names
            .iter()
            .position(|nm| nm.as_deref().is_some_and(|nm| nm.eq_ignore_ascii_case(r)))
            .ok_or_else(|| {
                let known: Vec<&str> = self.names.iter().flatten().map(String::as_str).collect();
                RelationError {
                    position: at,
                    message: format!(
                        "unknown condition name ${r} (named conditions: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                }
            })
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ref(r) => format!("${r}"),
        Tok::And => "'and'".into(),
        Tok::Or => "'or'".into(),
        Tok::Not => "'not'".into(),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
    }
}

/// Parses a relation expression; `names[i]` is condition `i`'s name, if any.
///
/// ```
/// use frocket_engine::query::{parse_relation, RelationExpr};
/// let names = [None, Some("big".to_string())];
/// let e = parse_relation("not $0 || $BIG", &names).unwrap();
/// assert_eq!(e, RelationExpr::Or(Box::new(RelationExpr::Not(Box::new(RelationExpr::Cond(0)))), Box::new(RelationExpr::Cond(1))));
/// assert_eq!(parse_relation("$0 and", &names).unwrap_err().position, 6);
/// ```
pub fn parse_relation(s: &str, names: &[Option<String>]) -> Result<RelationExpr, RelationError> {
    let toks = tokenize(s)?;
    let end = s.chars().count();
    if toks.is_empty() {
        return Err(RelationError {
            position: 0,
            message: "empty relation expression".into(),
        });
    }
    let mut p = Parser {
        toks,
        pos: 0,
        end,
        names,
        depth: 0,
    };
    let e = p.or()?;
    if p.pos < p.toks.len() {
        let t = p.toks[p.pos].1.clone();
        return Err(RelationError {
            position: p.here(),
            message: format!("unexpected {} after a complete expression", describe(&t)),
        });
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_relation_the_limits_allow_goes_through_json() {
        // 1,000 terms: a tree 999 deep, far past serde_json's 128 levels if nested.
        let text = (0..1000)
            .map(|i| format!("${}", i % 100))
            .collect::<Vec<_>>()
            .join(" or ");
        let e = parse_relation(&text, &vec![None; 100]).unwrap();
        let back: RelationExpr = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.terms(), 1000);
    }

    #[test]
    fn a_malformed_postfix_relation_is_an_error() {
        for (json, needle) in [
            (r#"[0,"and"]"#, "without its operands"),
            (r#"["not"]"#, "without its operands"),
            (r#"[0,1]"#, "one expression"),
            (r#"[]"#, "one expression"),
            (r#"[0,"xor"]"#, "unknown operator 'xor'"),
        ] {
            let err = serde_json::from_str::<RelationExpr>(json).unwrap_err().to_string();
            assert!(err.contains(needle), "{json}: {err}");
        }
    }
}
