//! Java regular expressions as `RegexRouter` and `TopicNameMatches` use them: a whole-name
//! match (`Matcher.matches()`), `replaceFirst` with Java's replacement syntax (`$1`, `${name}`,
//! `\$`), and Connect's `RegexValidator` ("Invalid regex: …").
//!
//! Deviations from Java, on purpose:
//! - Patterns are compiled by the `regex` crate, whose syntax is Java's for everything topic
//!   names need (classes, groups, named groups `(?<n>…)`, quantifiers, `(?i)`), but which has
//!   no look-around, back-references, possessive quantifiers or atomic groups: such a pattern
//!   is refused when configured, and the error text is the crate's, not Java's.
//! - A replacement naming a group the pattern does not have is refused when configured; Java
//!   fails on the first record whose topic matches.

use regex::{Captures, Regex};
use thiserror::Error;

use crate::config::{ParsedValue, Validator};

/// A compiled pattern, for whole-input matches and for `replaceFirst`.
#[derive(Debug, Clone)]
pub struct JavaRegex {
    /// The pattern as written: finds the first match, as `Matcher.find()` does.
    find: Regex,
    /// The pattern anchored at both ends: `Matcher.matches()`.
    whole: Regex,
}

impl JavaRegex {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Result<Self, regex::Error> {
        Ok(JavaRegex {
            find: Regex::new(pattern)?,
            whole: Regex::new(&format!(r"\A(?:{pattern})\z"))?,
        })
    }

    /// Whether the whole of `text` matches, as `Pattern.matcher(text).matches()`.
    pub fn matches(&self, text: &str) -> bool {
        self.whole.is_match(text)
    }

    /// `Matcher.replaceFirst(replacement)`: `text` with its first match replaced, or `None`
    /// when nothing matches.
    pub fn replace_first(&self, text: &str, replacement: &Replacement) -> Option<String> {
        let caps = self.find.captures(text)?;
        let m = caps.get(0)?;
        let mut out = String::with_capacity(text.len() + 16);
        out.push_str(&text[..m.start()]);
        replacement.expand(&caps, &mut out);
        out.push_str(&text[m.end()..]);
        Some(out)
    }

    /// The pattern as `find` uses it.
    pub fn regex(&self) -> &Regex {
        &self.find
    }
}

/// Connect's `RegexValidator`: the value must compile.
pub fn regex_validator() -> Validator {
    Validator::custom("valid regex", |v| match v {
        ParsedValue::String(s) => check(s).map_err(|e| e.to_string()),
        _ => Ok(()),
    })
}

/// `ConfigDef.CompositeValidator.of(new NonEmptyString(), new RegexValidator())`.
pub fn non_empty_regex_validator() -> Validator {
    Validator::custom("non-empty string, valid regex", |v| match v {
        ParsedValue::String(s) if s.is_empty() => Err("String must be non-empty".into()),
        ParsedValue::String(s) => check(s).map_err(|e| e.to_string()),
        _ => Ok(()),
    })
}

/// A config value that does not compile as a regex. The validators hand its text to
/// `Validator::custom`, whose checks answer with the message (see `config::def`).
#[derive(Debug, Error)]
#[error("Invalid regex: {0}")]
pub struct InvalidRegex(#[from] regex::Error);

fn check(pattern: &str) -> Result<(), InvalidRegex> {
    JavaRegex::new(pattern).map(|_| ()).map_err(InvalidRegex)
}

/// Why a replacement string was refused; the texts are Java's.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ReplacementError {
    /// A `\` at the end, with nothing to escape.
    #[error("character to be escaped is missing")]
    MissingEscaped,
    /// A `$` with no group number or name after it.
    #[error("Illegal group reference: group index is missing")]
    MissingGroupIndex,
    /// A `$` followed by something other than a number or `{name}`.
    #[error("Illegal group reference")]
    IllegalGroupReference,
    /// `${}`: a group reference with an empty name.
    #[error("named capturing group has 0 length name")]
    EmptyGroupName,
    /// `${name` without the closing `}`.
    #[error("named capturing group is missing trailing '}}'")]
    UnclosedGroupName,
    /// A group name the pattern does not have.
    #[error("No group with name {{{0}}}")]
    NoSuchName(String),
    /// A group number the pattern does not have.
    #[error("No group {0}")]
    NoSuchGroup(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Group(usize),
}

/// A replacement string in Java's syntax, resolved against one pattern: `$n` is group `n`
/// (as many digits as still name a group), `${name}` a named group, `\c` the character `c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    parts: Vec<Part>,
}

impl Replacement {
    /// Parses a replacement (`$1`, `${name}`, `\$`) for `regex`, refusing what Java refuses.
    pub fn parse(text: &str, regex: &JavaRegex) -> Result<Self, ReplacementError> {
        let re = regex.regex();
        let group_count = re.captures_len() - 1;
        let chars: Vec<char> = text.chars().collect();
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '\\' => {
                    let escaped = chars.get(i + 1).ok_or(ReplacementError::MissingEscaped)?;
                    literal.push(*escaped);
                    i += 2;
                }
                '$' => {
                    i += 1;
                    let next = *chars.get(i).ok_or(ReplacementError::MissingGroupIndex)?;
                    let group = if next == '{' {
                        i += 1;
                        let start = i;
                        while chars.get(i).is_some_and(|c| c.is_ascii_alphanumeric()) {
                            i += 1;
                        }
                        let name: String = chars[start..i].iter().collect();
                        if name.is_empty() {
                            return Err(ReplacementError::EmptyGroupName);
                        }
                        if chars.get(i) != Some(&'}') {
                            return Err(ReplacementError::UnclosedGroupName);
                        }
                        i += 1;
                        re.capture_names()
                            .position(|n| n == Some(name.as_str()))
                            .ok_or(ReplacementError::NoSuchName(name))?
                    } else {
                        let mut group = next
                            .to_digit(10)
                            .ok_or(ReplacementError::IllegalGroupReference)?
                            as usize;
                        i += 1;
                        // Further digits belong to the reference while it still names a group.
                        while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                            let longer = group * 10 + d as usize;
                            if longer > group_count {
                                break;
                            }
                            group = longer;
                            i += 1;
                        }
                        if group > group_count {
                            return Err(ReplacementError::NoSuchGroup(group));
                        }
                        group
                    };
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Group(group));
                }
                c => {
                    literal.push(c);
                    i += 1;
                }
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Replacement { parts })
    }

    /// Appends the replacement for one match; a group that did not take part adds nothing.
    fn expand(&self, caps: &Captures<'_>, out: &mut String) {
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Group(g) => {
                    if let Some(m) = caps.get(*g) {
                        out.push_str(m.as_str());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replace(pattern: &str, replacement: &str, text: &str) -> Option<String> {
        let re = JavaRegex::new(pattern).unwrap();
        let r = Replacement::parse(replacement, &re).unwrap();
        re.replace_first(text, &r)
    }

    fn refused(pattern: &str, replacement: &str) -> String {
        let re = JavaRegex::new(pattern).unwrap();
        Replacement::parse(replacement, &re)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn matches_the_whole_input_only() {
        let re = JavaRegex::new("my-prefix-.*").unwrap();
        assert!(re.matches("my-prefix-"));
        assert!(re.matches("my-prefix-foo"));
        assert!(!re.matches("x-my-prefix-foo"));
        let alt = JavaRegex::new("a|ab").unwrap();
        // Java's matches() backtracks into the second alternative.
        assert!(alt.matches("ab"));
        assert!(!alt.matches("abc"));
    }

    #[test]
    fn replacement_groups_as_java_reads_them() {
        assert_eq!(replace("(.*)", "prefix-$1", "orig").unwrap(), "prefix-orig");
        assert_eq!(replace("(.*)", "$1-suffix", "orig").unwrap(), "orig-suffix");
        assert_eq!(replace("(.*)", "$0$0", "ab").unwrap(), "abab");
        // `$10` with one group is group 1 then a literal 0.
        assert_eq!(replace("(a)", "$10", "a").unwrap(), "a0");
        // With ten groups it is group 10.
        let ten = "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)";
        assert_eq!(replace(ten, "$10", "abcdefghij").unwrap(), "j");
        assert_eq!(
            replace("(?<name>[a-z]+)-(\\d+)", "${name}_$2", "orders-42").unwrap(),
            "orders_42"
        );
        assert_eq!(replace("x", "\\$1\\\\", "x").unwrap(), "$1\\");
        // A group that took no part adds nothing.
        assert_eq!(replace("(a)|(b)", "[$1][$2]", "b").unwrap(), "[][b]");
    }

    #[test]
    fn replace_first_replaces_only_the_first_match() {
        assert_eq!(replace("o", "0", "foo").unwrap(), "f0o");
        // After a whole match, the first match found may be shorter, as in Java.
        assert_eq!(replace("a|ab", "X", "ab").unwrap(), "Xb");
        assert_eq!(replace("z", "X", "foo"), None);
    }

    #[test]
    fn bad_replacements_are_refused_with_java_s_messages() {
        assert_eq!(refused("(a)", "$2"), "No group 2");
        assert_eq!(refused("(a)", "$x"), "Illegal group reference");
        assert_eq!(
            refused("(a)", "a$"),
            "Illegal group reference: group index is missing"
        );
        assert_eq!(refused("(a)", "a\\"), "character to be escaped is missing");
        assert_eq!(
            refused("(a)", "${}"),
            "named capturing group has 0 length name"
        );
        assert_eq!(
            refused("(a)", "${a"),
            "named capturing group is missing trailing '}'"
        );
        assert_eq!(refused("(a)", "${nope}"), "No group with name {nope}");
    }
}
