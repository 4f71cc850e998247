//! Java's `SimpleDateFormat` patterns (`yyyyMMdd`, `yyyy-MM-dd'T'HH:mm:ss.SSSZ`): formatting
//! and parsing points in time in UTC with `en_US` names and week rules, as Connect's
//! TimestampConverter, TimestampRouter and Cast use them (Connect pins TimestampConverter's
//! and TimestampRouter's format to UTC; Cast's date strings follow the JVM's zone, which
//! kconnect takes to be UTC).
//!
//! Every pattern letter `SimpleDateFormat` knows is supported (`G y Y M L w W D d F E u a H k
//! K h m s S z Z X`) with its count rules: numbers are zero-padded to the letter count, `yy`
//! keeps the last two digits of the year, `MMM`/`MMMM` and `E`/`EEEE` give short and long
//! English names, `S` is milliseconds (so `SSS` → `007`). Quoted text (`'T'`, `''`) and
//! non-letters are copied. A letter Java rejects is rejected with Java's message
//! (`Illegal pattern character 'q'`), when the pattern is compiled rather than at first use.
//!
//! Deviations from Java:
//! - The zone is always UTC, so `z` is `UTC`, `Z` `+0000` and `X` `Z`. Parsing understands
//!   the zones `UTC`, `GMT`, `UT`, `Z` and numeric offsets (`+01:00`, `+0100`, `GMT+1`), not
//!   other zone names (`PST`, `Europe/Paris`).
//! - Names and week rules are those of `en_US` whatever the machine's locale: weeks start on
//!   Sunday and week 1 is the one holding January 1st (`w`, `W`, `Y`).
//! - Dates are proleptic Gregorian (as `java.time`); Java's `GregorianCalendar` switches to
//!   the Julian calendar before 15 October 1582.
//! - Parsing is lenient like Java's default (out-of-range fields roll over, text after the
//!   pattern is ignored). When a pattern names the day more than one way, a fixed order
//!   decides (a week year `Y` without `y`, then day of month, day of year, week of month,
//!   day-of-week-in-month, week of year), where Java takes the fields parsed last; a day name
//!   (`E`, `u`) is used only with a week.

use std::time::{SystemTime, UNIX_EPOCH};

use thiserror::Error;

use crate::data::logical::MILLIS_PER_DAY;
pub use crate::data::logical::{civil_from_days, days_from_civil};

/// The pattern letters of `SimpleDateFormat` (`DateFormatSymbols.patternChars`).
const PATTERN_LETTERS: &str = "GyMdkHmsSEDFwWahKzZYuXL";

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
/// Sunday first, as `Calendar.DAY_OF_WEEK` counts.
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Why a pattern cannot be used: Java's own `IllegalArgumentException` messages.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PatternError {
    /// A letter the pattern language does not know.
    #[error("Illegal pattern character '{0}'")]
    Illegal(char),
    /// A quote (`'`) that is not closed.
    #[error("Unterminated quote")]
    UnterminatedQuote,
    /// An ISO 8601 pattern of a length no format has.
    #[error("invalid ISO 8601 format: length={0}")]
    IsoLength(usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Literal(String),
    Field(char, usize),
}

impl Token {
    /// Whether the field is read as a number (Java makes abutting numeric fields obey their
    /// widths).
    fn is_numeric(&self) -> bool {
        match self {
            Token::Field('M' | 'L', n) => *n <= 2,
            Token::Field(c, _) => "yYdDFwWHkKhmsSu".contains(*c),
            Token::Literal(_) => false,
        }
    }
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct SimpleDateFormat {
    pattern: String,
    tokens: Vec<Token>,
}

impl SimpleDateFormat {
    /// Parses a `java.text.SimpleDateFormat` pattern.
    pub fn new(pattern: &str) -> Result<Self, PatternError> {
        Ok(SimpleDateFormat {
            pattern: pattern.to_string(),
            tokens: compile(pattern)?,
        })
    }

    /// The pattern as given (Java's `toPattern()`).
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The text of a point in time, in milliseconds since the epoch.
    pub fn format(&self, millis: i64) -> String {
        let t = Civil::of(millis);
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                Token::Literal(s) => out.push_str(s),
                Token::Field(c, n) => t.write_field(*c, *n, &mut out),
            }
        }
        out
    }

    /// The point in time `text` starts with, in milliseconds since the epoch; `None` when it
    /// does not match the pattern.
    pub fn parse(&self, text: &str) -> Option<i64> {
        self.parse_with_century_from(text, current_year() - 80)
    }

    /// [`SimpleDateFormat::parse`], reading two-digit years in the hundred years from
    /// `century_start` (Java's default: 80 years before now).
    fn parse_with_century_from(&self, text: &str, century_start: i64) -> Option<i64> {
        let chars: Vec<char> = text.chars().collect();
        let mut p = Parser {
            chars: &chars,
            pos: 0,
        };
        let mut f = Fields::default();
        for (i, token) in self.tokens.iter().enumerate() {
            match token {
                Token::Literal(s) => {
                    for c in s.chars() {
                        if p.peek() != Some(c) {
                            return None;
                        }
                        p.pos += 1;
                    }
                }
                Token::Field(c, n) => {
                    let obey_count =
                        self.tokens.get(i + 1).is_some_and(Token::is_numeric) && token.is_numeric();
                    p.read_field(*c, *n, obey_count, century_start, &mut f)?;
                }
            }
        }
        f.to_millis()
    }
}

fn compile(pattern: &str) -> Result<Vec<Token>, PatternError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens: Vec<Token> = Vec::new();
    let push_literal = |tokens: &mut Vec<Token>, s: &str| match tokens.last_mut() {
        Some(Token::Literal(l)) => l.push_str(s),
        _ => tokens.push(Token::Literal(s.to_string())),
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                push_literal(&mut tokens, "'");
                i += 2;
                continue;
            }
            // Quoted text up to the closing quote; '' inside is a quote.
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(PatternError::UnterminatedQuote),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        text.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        text.push(ch);
                        i += 1;
                    }
                }
            }
            push_literal(&mut tokens, &text);
        } else if c.is_ascii_alphabetic() {
            let n = chars[i..].iter().take_while(|&&x| x == c).count();
            if !PATTERN_LETTERS.contains(c) {
                return Err(PatternError::Illegal(c));
            }
            if c == 'X' && n > 3 {
                return Err(PatternError::IsoLength(n));
            }
            tokens.push(Token::Field(c, n));
            i += n;
        } else {
            push_literal(&mut tokens, c.encode_utf8(&mut [0; 4]));
            i += 1;
        }
    }
    Ok(tokens)
}

fn current_year() -> i64 {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    civil_from_days(millis.div_euclid(MILLIS_PER_DAY)).0
}

/// The calendar fields of a point in time, in UTC.
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    day_of_year: i64,
    /// 0 = Sunday.
    weekday: i64,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
    week_of_year: i64,
    /// The year the week of `week_of_year` belongs to.
    week_year: i64,
    week_of_month: i64,
}

/// 0 = Sunday … 6 = Saturday; 1970-01-01 was a Thursday.
fn weekday_of(days: i64) -> i64 {
    (days + 4).rem_euclid(7)
}

/// The Sunday starting week 1 of `year`: the week holding January 1st.
fn week_one_start(year: i64) -> i64 {
    let jan1 = days_from_civil(year, 1, 1);
    jan1 - weekday_of(jan1)
}

impl Civil {
    fn of(millis: i64) -> Civil {
        let days = millis.div_euclid(MILLIS_PER_DAY);
        let ms = millis.rem_euclid(MILLIS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        // The last days of December belong to week 1 of the next year when that week starts
        // before January 1st.
        let (week_of_year, week_year) = if days >= week_one_start(year + 1) {
            (1, year + 1)
        } else {
            ((days - week_one_start(year)) / 7 + 1, year)
        };
        let first_of_month = days - (day - 1);
        Civil {
            year,
            month,
            day,
            day_of_year: days - days_from_civil(year, 1, 1) + 1,
            weekday: weekday_of(days),
            hour: ms / 3_600_000,
            minute: ms / 60_000 % 60,
            second: ms / 1000 % 60,
            millis: ms % 1000,
            week_of_year,
            week_year,
            week_of_month: (day - 1 + weekday_of(first_of_month)) / 7 + 1,
        }
    }

    fn write_field(&self, c: char, n: usize, out: &mut String) {
        let num = |out: &mut String, v: i64| out.push_str(&format!("{v:0n$}"));
        // Years before 1 AD count back from 1 BC, as Java's era years do.
        let era_year = |y: i64| if y > 0 { y } else { 1 - y };
        match c {
            'G' => out.push_str(if self.year > 0 { "AD" } else { "BC" }),
            'y' if n == 2 => out.push_str(&format!("{:02}", era_year(self.year) % 100)),
            'y' => num(out, era_year(self.year)),
            'Y' if n == 2 => out.push_str(&format!("{:02}", era_year(self.week_year) % 100)),
            'Y' => num(out, era_year(self.week_year)),
            'w' => num(out, self.week_of_year),
            'W' => num(out, self.week_of_month),
            'F' => num(out, (self.day - 1) / 7 + 1),
            'M' | 'L' if n >= 4 => out.push_str(MONTHS[(self.month - 1) as usize]),
            'M' | 'L' if n == 3 => out.push_str(&MONTHS[(self.month - 1) as usize][..3]),
            'M' | 'L' => num(out, self.month),
            'd' => num(out, self.day),
            'D' => num(out, self.day_of_year),
            'E' if n >= 4 => out.push_str(DAYS[self.weekday as usize]),
            'E' => out.push_str(&DAYS[self.weekday as usize][..3]),
            'u' => num(out, if self.weekday == 0 { 7 } else { self.weekday }),
            'a' => out.push_str(if self.hour < 12 { "AM" } else { "PM" }),
            'H' => num(out, self.hour),
            'k' => num(out, if self.hour == 0 { 24 } else { self.hour }),
            'K' => num(out, self.hour % 12),
            'h' => num(
                out,
                if self.hour % 12 == 0 {
                    12
                } else {
                    self.hour % 12
                },
            ),
            'm' => num(out, self.minute),
            's' => num(out, self.second),
            'S' => num(out, self.millis),
            'z' if n >= 4 => out.push_str("Coordinated Universal Time"),
            'z' => out.push_str("UTC"),
            'Z' => out.push_str("+0000"),
            'X' => out.push('Z'),
            _ => unreachable!("compile refuses {c}"),
        }
    }
}

/// Fields read so far; what is absent is taken from 1970-01-01T00:00:00.000Z.
#[derive(Default)]
struct Fields {
    year: Option<i64>,
    /// `Y`: read as the year when no `y` is given.
    week_year: Option<i64>,
    bc: bool,
    month: Option<i64>,
    day: Option<i64>,
    day_of_year: Option<i64>,
    week_of_year: Option<i64>,
    week_of_month: Option<i64>,
    day_of_week_in_month: Option<i64>,
    /// 0 = Sunday.
    day_of_week: Option<i64>,
    hour_of_day: Option<i64>,
    hour: Option<i64>,
    pm: bool,
    minute: i64,
    second: i64,
    millis: i64,
    offset_millis: i64,
}

impl Fields {
    fn to_millis(&self) -> Option<i64> {
        let mut year = self.year.or(self.week_year).unwrap_or(1970);
        if self.bc {
            year = 1 - year;
        }
        if year.abs() > 300_000_000 {
            return None;
        }
        // Days from the first day of the week (Sunday) to the day named, Sunday by default.
        let dow = self.day_of_week.unwrap_or(0);
        // Out-of-range months roll over into the years around, as Java's lenient calendar does.
        let first_of_month = || {
            let m0 = self.month.unwrap_or(1).checked_sub(1)?;
            let y = year.checked_add(m0.div_euclid(12))?;
            (y.abs() <= 300_000_000).then(|| days_from_civil(y, m0.rem_euclid(12) + 1, 1))
        };
        let week_date = || {
            let week = self
                .week_of_year
                .unwrap_or(1)
                .checked_sub(1)?
                .checked_mul(7)?;
            week_one_start(year).checked_add(week)?.checked_add(dow)
        };
        let days = match (self.day, self.day_of_year) {
            // A week year (`Y`) without a calendar year makes Java resolve a week date, even
            // when the pattern has a month and day (`YYYY-MM-dd`).
            _ if self.year.is_none() && self.week_year.is_some() => week_date()?,
            (None, Some(doy)) if self.month.is_none() => {
                days_from_civil(year, 1, 1).checked_add(doy - 1)?
            }
            (None, _) if self.week_of_month.is_some() => {
                let first = first_of_month()?;
                let week = self.week_of_month?.checked_sub(1)?.checked_mul(7)?;
                (first - weekday_of(first))
                    .checked_add(week)?
                    .checked_add(dow)?
            }
            (None, _) if self.day_of_week_in_month.is_some() => {
                let first = first_of_month()?;
                let week = self.day_of_week_in_month?.checked_sub(1)?.checked_mul(7)?;
                (first + (dow - weekday_of(first)).rem_euclid(7)).checked_add(week)?
            }
            (None, _) if self.week_of_year.is_some() => week_date()?,
            _ => first_of_month()?.checked_add(self.day.unwrap_or(1).checked_sub(1)?)?,
        };
        let hour = match self.hour_of_day {
            Some(h) => h,
            None => self
                .hour
                .unwrap_or(0)
                .checked_add(if self.pm { 12 } else { 0 })?,
        };
        days.checked_mul(MILLIS_PER_DAY)?
            .checked_add(hour.checked_mul(3_600_000)?)?
            .checked_add(self.minute.checked_mul(60_000)?)?
            .checked_add(self.second.checked_mul(1000)?)?
            .checked_add(self.millis)?
            .checked_sub(self.offset_millis)
    }
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    /// Digits at the cursor (at most `max`), as a number and how many digits were read.
    fn number(&mut self, max: Option<usize>) -> Option<(i64, usize)> {
        let start = self.pos;
        let mut v: i64 = 0;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            if max.is_some_and(|m| self.pos - start >= m) {
                break;
            }
            v = v.checked_mul(10)?.checked_add(i64::from(d))?;
            self.pos += 1;
        }
        let n = self.pos - start;
        (n > 0).then_some((v, n))
    }

    /// The longest of `names` (in any case) at the cursor, by its index.
    fn name(&mut self, names: &[&str]) -> Option<usize> {
        let rest: String = self.chars[self.pos..].iter().collect();
        let (i, len) = names
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                rest.len() >= n.len()
                    && rest.is_char_boundary(n.len())
                    && rest[..n.len()].eq_ignore_ascii_case(n)
            })
            .map(|(i, n)| (i, n.chars().count()))
            .max_by_key(|&(_, len)| len)?;
        self.pos += len;
        Some(i)
    }

    fn read_field(
        &mut self,
        c: char,
        n: usize,
        obey_count: bool,
        century_start: i64,
        f: &mut Fields,
    ) -> Option<()> {
        // Java skips blanks before a field.
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
        self.peek()?;
        let max = obey_count.then_some(n);
        match c {
            'G' => f.bc = self.name(&["AD", "BC"])? == 1,
            'y' | 'Y' => {
                let (v, digits) = self.number(max)?;
                let year = Some(if n <= 2 && digits == 2 {
                    // Two digits: the year in the hundred years from `century_start`.
                    let base = century_start.div_euclid(100) * 100 + v;
                    if v < century_start.rem_euclid(100) {
                        base + 100
                    } else {
                        base
                    }
                } else {
                    v
                });
                if c == 'y' {
                    f.year = year;
                } else {
                    f.week_year = year;
                }
            }
            'M' | 'L' if n >= 3 => {
                let short: Vec<&str> = MONTHS.iter().map(|m| &m[..3]).collect();
                let mut names: Vec<&str> = MONTHS.to_vec();
                names.extend(short);
                f.month = Some(self.name(&names)? as i64 % 12 + 1);
            }
            'M' | 'L' => f.month = Some(self.number(max)?.0),
            'd' => f.day = Some(self.number(max)?.0),
            'D' => f.day_of_year = Some(self.number(max)?.0),
            'w' => f.week_of_year = Some(self.number(max)?.0),
            'W' => f.week_of_month = Some(self.number(max)?.0),
            'F' => f.day_of_week_in_month = Some(self.number(max)?.0),
            'E' => {
                let mut names: Vec<&str> = DAYS.to_vec();
                names.extend(DAYS.iter().map(|d| &d[..3]));
                f.day_of_week = Some(self.name(&names)? as i64 % 7);
            }
            'u' => f.day_of_week = Some(self.number(max)?.0.rem_euclid(7)),
            'a' => f.pm = self.name(&["AM", "PM"])? == 1,
            'H' => f.hour_of_day = Some(self.number(max)?.0),
            'k' => f.hour_of_day = Some(self.number(max)?.0).map(|h| if h == 24 { 0 } else { h }),
            'K' => f.hour = Some(self.number(max)?.0),
            'h' => f.hour = Some(self.number(max)?.0).map(|h| if h == 12 { 0 } else { h }),
            'm' => f.minute = self.number(max)?.0,
            's' => f.second = self.number(max)?.0,
            'S' => f.millis = self.number(max)?.0,
            'z' | 'Z' | 'X' => f.offset_millis = self.zone()?,
            _ => return None,
        }
        Some(())
    }

    /// A zone: `UTC`/`GMT`/`UT` with an optional offset, `Z`, or a numeric offset.
    fn zone(&mut self) -> Option<i64> {
        if self.name(&["Coordinated Universal Time"]).is_some() {
            return Some(0);
        }
        if self.name(&["UTC", "GMT", "UT"]).is_some() {
            return Some(if matches!(self.peek(), Some('+' | '-')) {
                self.offset()?
            } else {
                0
            });
        }
        if matches!(self.peek(), Some('Z' | 'z')) {
            self.pos += 1;
            return Some(0);
        }
        self.offset()
    }

    /// `±h`, `±hh`, `±hhmm` or `±hh:mm`, in milliseconds.
    fn offset(&mut self) -> Option<i64> {
        let sign = match self.peek()? {
            '+' => 1,
            '-' => -1,
            _ => return None,
        };
        self.pos += 1;
        let (hours, minutes) = match self.number(Some(4))? {
            (v, 3 | 4) => (v / 100, v % 100),
            (h, _) => {
                let m = if self.peek() == Some(':') {
                    self.pos += 1;
                    self.number(Some(2))?.0
                } else {
                    0
                };
                (h, m)
            }
        };
        if hours > 23 || minutes > 59 {
            return None;
        }
        Some(sign * (hours * 3_600_000 + minutes * 60_000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(p: &str) -> SimpleDateFormat {
        SimpleDateFormat::new(p).unwrap()
    }

    // 1970-01-02T00:00:01.234Z, TimestampConverterTest's DATE_PLUS_TIME.
    const DATE_PLUS_TIME: i64 = 86_401_234;

    #[test]
    fn formats_connect_s_test_pattern() {
        let f = fmt("yyyy MM dd HH mm ss SSS z");
        assert_eq!(f.format(DATE_PLUS_TIME), "1970 01 02 00 00 01 234 UTC");
        assert_eq!(f.parse("1970 01 02 00 00 01 234 UTC"), Some(DATE_PLUS_TIME));
        assert_eq!(f.pattern(), "yyyy MM dd HH mm ss SSS z");
    }

    #[test]
    fn formats_every_supported_letter() {
        // 2021-03-07 (a Sunday) 13:05:09.007 UTC
        let t = (days_from_civil(2021, 3, 7) * MILLIS_PER_DAY)
            + 13 * 3_600_000
            + 5 * 60_000
            + 9_000
            + 7;
        let cases = [
            ("G yy yyyy y", "AD 21 2021 2021"),
            ("M MM MMM MMMM L", "3 03 Mar March 3"),
            ("d dd D DDD", "7 07 66 066"),
            ("E EEEE u", "Sun Sunday 7"),
            ("H HH k K h hh a", "13 13 13 1 1 01 PM"),
            ("m mm s ss S SSS", "5 05 9 09 7 007"),
            ("z zzzz Z X XXX", "UTC Coordinated Universal Time +0000 Z Z"),
            ("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", "2021-03-07T13:05:09.007Z"),
            ("'o''clock' hh 'o''''k'''", "o'clock 01 o''k'"),
            ("''yy''", "'21'"),
        ];
        for (p, want) in cases {
            assert_eq!(fmt(p).format(t), want, "{p}");
        }
        // Midnight: k counts to 24, h to 12.
        assert_eq!(fmt("k h K a").format(0), "24 12 0 AM");
        // Before the epoch, and before year 1.
        assert_eq!(
            fmt("yyyy-MM-dd HH:mm:ss.SSS").format(-1),
            "1969-12-31 23:59:59.999"
        );
        let bc = days_from_civil(-43, 3, 15) * MILLIS_PER_DAY;
        assert_eq!(fmt("G yyyy-MM-dd").format(bc), "BC 0044-03-15");
    }

    #[test]
    fn refuses_patterns_java_refuses() {
        assert_eq!(
            SimpleDateFormat::new("bad-format").unwrap_err(),
            PatternError::Illegal('b')
        );
        assert_eq!(
            SimpleDateFormat::new("yyyy 'T").unwrap_err(),
            PatternError::UnterminatedQuote
        );
        assert_eq!(
            SimpleDateFormat::new("XXXX").unwrap_err(),
            PatternError::IsoLength(4)
        );
        assert_eq!(
            SimpleDateFormat::new("yyyy-qq").unwrap_err().to_string(),
            "Illegal pattern character 'q'"
        );
    }

    #[test]
    fn parses_leniently_like_java() {
        let f = fmt("yyyy-MM-dd");
        assert_eq!(f.parse("1970-01-02"), Some(MILLIS_PER_DAY));
        // Trailing text is ignored, single digits are fine, overflowing days roll over.
        assert_eq!(f.parse("1970-01-02 and more"), Some(MILLIS_PER_DAY));
        assert_eq!(f.parse("1970-1-2"), Some(MILLIS_PER_DAY));
        assert_eq!(f.parse("2021-02-29"), f.parse("2021-03-01"));
        assert_eq!(f.parse("2020-13-01"), f.parse("2021-01-01"));
        // A literal or a field that does not match fails.
        assert_eq!(f.parse("1970/01/02"), None);
        assert_eq!(f.parse("1970-01-"), None);
        assert_eq!(f.parse(""), None);
    }

    #[test]
    fn abutting_numbers_take_their_widths() {
        let f = fmt("yyyyMMddHHmmss");
        let want =
            days_from_civil(2020, 1, 15) * MILLIS_PER_DAY + 12 * 3_600_000 + 34 * 60_000 + 56_000;
        assert_eq!(f.parse("20200115123456"), Some(want));
    }

    #[test]
    fn parses_names_hours_and_zones() {
        let f = fmt("EEE, d MMM yyyy hh:mm a Z");
        let noon_utc = days_from_civil(2021, 3, 7) * MILLIS_PER_DAY + 12 * 3_600_000;
        assert_eq!(f.parse("Sun, 7 Mar 2021 12:00 PM +0000"), Some(noon_utc));
        assert_eq!(
            f.parse("sunday, 7 march 2021 12:00 pm +0000"),
            Some(noon_utc)
        );
        // 01:00 at +01:00 is midnight UTC.
        assert_eq!(f.parse("Sun, 7 Mar 2021 01:00 PM +0100"), Some(noon_utc));
        let iso = fmt("yyyy-MM-dd'T'HH:mm:ssXXX");
        let midnight = days_from_civil(2021, 3, 7) * MILLIS_PER_DAY;
        assert_eq!(iso.parse("2021-03-07T00:00:00Z"), Some(midnight));
        assert_eq!(iso.parse("2021-03-07T02:30:00+02:30"), Some(midnight));
        assert_eq!(iso.parse("2021-03-06T19:00:00-05"), Some(midnight));
        let z = fmt("yyyy-MM-dd HH:mm z");
        assert_eq!(z.parse("2021-03-07 01:00 GMT+01:00"), Some(midnight));
        assert_eq!(
            z.parse("2021-03-07 00:00 Coordinated Universal Time"),
            Some(midnight)
        );
        assert_eq!(z.parse("2021-03-07 00:00 PST"), None);
        assert_eq!(fmt("k").parse("24"), Some(0));
        assert_eq!(
            fmt("G yyyy").parse("BC 0044"),
            Some(days_from_civil(-43, 1, 1) * MILLIS_PER_DAY)
        );
        assert_eq!(fmt("yyyy D").parse("1970 32"), Some(31 * MILLIS_PER_DAY));
    }

    #[test]
    fn two_digit_years_fall_in_the_century_window() {
        let f = fmt("yy-MM-dd");
        // Window 1945..2044: 44 → 2044, 45 → 1945.
        assert_eq!(
            f.parse_with_century_from("44-01-01", 1945),
            Some(days_from_civil(2044, 1, 1) * MILLIS_PER_DAY)
        );
        assert_eq!(
            f.parse_with_century_from("45-01-01", 1945),
            Some(days_from_civil(1945, 1, 1) * MILLIS_PER_DAY)
        );
        // Other than two digits: the year as written.
        assert_eq!(
            f.parse_with_century_from("123-01-01", 1945),
            Some(days_from_civil(123, 1, 1) * MILLIS_PER_DAY)
        );
    }

    /// 2017-01-03T06:30:01.864Z, a Tuesday (TimestampRouter's test instant).
    const T: i64 = 1_483_425_001_864;

    #[test]
    fn common_patterns_print_as_java_does() {
        let f = |p: &str, t: i64| fmt(p).format(t);
        assert_eq!(f("yyyyMMdd", T), "20170103");
        assert_eq!(
            f("yyyy-MM-dd'T'HH:mm:ss.SSSZ", T),
            "2017-01-03T06:30:01.864+0000"
        );
        assert_eq!(
            f("yyyy-MM-dd HH:mm:ss.SSSXXX", T),
            "2017-01-03 06:30:01.864Z"
        );
        assert_eq!(f("yy/M/d H:m:s.S", T), "17/1/3 6:30:1.864");
        assert_eq!(f("yyyy_MM_dd_HH", 0), "1970_01_01_00");
        assert_eq!(f("yyyyyy", T), "002017");
        assert_eq!(f("SSSS", 7), "0007");
        assert_eq!(f("[dd]-# é", T), "[03]-# é");
        // 18:05 is 6 PM.
        let evening = T + 11 * 3_600_000 + 35 * 60_000;
        assert_eq!(f("h:mm a K k", evening), "6:05 PM 6 18");
        assert_eq!(f("EEE", -MILLIS_PER_DAY), "Wed");
    }

    #[test]
    fn week_fields_follow_en_us_rules() {
        let f = |p: &str, t: i64| fmt(p).format(t);
        assert_eq!(f("D DDD u F", T), "3 003 2 1");
        // 2017-01-01 was a Sunday: the 3rd is in week 1, 2017-01-08 in week 2.
        assert_eq!(f("w W", T), "1 1");
        assert_eq!(f("w W", T + 5 * MILLIS_PER_DAY), "2 2");
        // Saturday 2016-12-31 is not in the week of 2017-01-01, which starts on that Sunday.
        assert_eq!(f("YYYY-ww", T - 3 * MILLIS_PER_DAY), "2016-53");
        // 2019-12-30 (Monday) is in the week of Wednesday 2020-01-01: week 1 of 2020.
        let dec30_2019 = days_from_civil(2019, 12, 30) * MILLIS_PER_DAY;
        assert_eq!(f("YYYY-ww yyyy YY", dec30_2019), "2020-01 2019 20");
        // The third Friday of January 2017 is the 20th.
        assert_eq!(
            f("F E", days_from_civil(2017, 1, 20) * MILLIS_PER_DAY),
            "3 Fri"
        );
    }

    #[test]
    fn parses_week_dates_like_java() {
        let day = |y, m, d| Some(days_from_civil(y, m, d) * MILLIS_PER_DAY);
        // Week 10 of 2021 starts on Sunday 2021-02-28; `u` 3 is its Wednesday.
        assert_eq!(fmt("yyyy-ww").parse("2021-10"), day(2021, 2, 28));
        assert_eq!(fmt("YYYY-ww-u").parse("2021-10-3"), day(2021, 3, 3));
        assert_eq!(fmt("YYYY-ww EEE").parse("2020-01 Mon"), day(2019, 12, 30));
        // `YYYY` without a week: the first day of week 1, the well-known surprise.
        assert_eq!(fmt("YYYY-MM-dd").parse("2021-03-07"), day(2020, 12, 27));
        assert_eq!(fmt("YYYY").parse("2021"), day(2020, 12, 27));
        // Week of month and day of week in month.
        assert_eq!(fmt("yyyy-MM W E").parse("2017-01 2 Tue"), day(2017, 1, 10));
        assert_eq!(fmt("yyyy-MM F E").parse("2017-01 3 Fri"), day(2017, 1, 20));
    }
}
