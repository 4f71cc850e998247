//! Java `SimpleDateFormat` patterns (`yyyyMMdd`, `yyyy-MM-dd'T'HH:mm:ss.SSSZ`), formatting
//! only, always in UTC: what `TimestampRouter`'s `timestamp.format` takes.
//!
//! Every pattern letter `SimpleDateFormat` knows is supported (`G y Y M L w W D d F E u a H k
//! K h m s S z Z X`), with its count rules: numbers are zero-padded to the letter count, `yy`
//! keeps the last two digits of the year, `MMM`/`MMMM` and `E`/`EEEE` give short and long
//! English names, `S` is milliseconds (so `SSS` → `007`). Quoted text (`'T'`, `''`) and
//! non-letters are copied. A letter Java rejects is rejected here with Java's message
//! (`Illegal pattern character 'q'`), when the pattern is parsed rather than at first use.
//!
//! Deviations from Java, on purpose:
//! - The zone is always UTC (as `TimestampRouter` sets it), so `z` is `UTC`, `Z` `+0000` and
//!   `X` `Z`.
//! - Names and week rules are those of the `en_US` locale whatever the machine's locale:
//!   English month and day names, weeks starting on Sunday, week 1 the one holding January 1st
//!   (`w`, `W`, `Y`).
//! - The calendar is proleptic Gregorian: Java switches to the Julian calendar before
//!   1582-10-15, so dates before then print differently.
//!
//! Written for `TimestampRouter`; `TimestampConverter` has its own translation (parsing as
//! well), to be merged with this one.

use std::fmt::Write as _;

use thiserror::Error;

/// Why a pattern was refused; the texts are Java's `IllegalArgumentException` messages.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DateFormatError {
    #[error("Illegal pattern character '{0}'")]
    IllegalCharacter(char),
    #[error("Unterminated quote")]
    UnterminatedQuote,
    #[error("invalid ISO 8601 format: length={0}")]
    IsoLength(usize),
}

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

const MILLIS_PER_DAY: i64 = 86_400_000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Literal(String),
    Field { letter: char, count: usize },
}

/// A parsed `SimpleDateFormat` pattern, formatting epoch milliseconds in UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaDateFormat {
    items: Vec<Item>,
}

impl JavaDateFormat {
    /// Parses `pattern` as `new SimpleDateFormat(pattern)` does.
    pub fn new(pattern: &str) -> Result<Self, DateFormatError> {
        let mut items: Vec<Item> = Vec::new();
        let mut literal = String::new();
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                // `''` anywhere is one quote; otherwise text up to the closing quote is copied.
                if chars.get(i + 1) == Some(&'\'') {
                    literal.push('\'');
                    i += 2;
                    continue;
                }
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(DateFormatError::UnterminatedQuote),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            literal.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&q) => {
                            literal.push(q);
                            i += 1;
                        }
                    }
                }
                continue;
            }
            if c.is_ascii_alphabetic() {
                if !PATTERN_LETTERS.contains(c) {
                    return Err(DateFormatError::IllegalCharacter(c));
                }
                let mut count = 1;
                while chars.get(i + count) == Some(&c) {
                    count += 1;
                }
                if c == 'X' && count > 3 {
                    return Err(DateFormatError::IsoLength(count));
                }
                if !literal.is_empty() {
                    items.push(Item::Literal(std::mem::take(&mut literal)));
                }
                items.push(Item::Field { letter: c, count });
                i += count;
                continue;
            }
            literal.push(c);
            i += 1;
        }
        if !literal.is_empty() {
            items.push(Item::Literal(literal));
        }
        Ok(JavaDateFormat { items })
    }

    /// `format(new Date(millis))` with the zone set to UTC.
    pub fn format(&self, epoch_millis: i64) -> String {
        let t = Fields::of(epoch_millis);
        let mut out = String::new();
        for item in &self.items {
            match item {
                Item::Literal(s) => out.push_str(s),
                Item::Field { letter, count } => t.write(*letter, *count, &mut out),
            }
        }
        out
    }
}

/// The calendar fields of one instant, in UTC.
struct Fields {
    /// Astronomical year (0 is 1 BC).
    year: i64,
    /// 1-12.
    month: i64,
    day: i64,
    /// 1-366.
    day_of_year: i64,
    /// 0 = Sunday … 6 = Saturday.
    weekday: i64,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
    week_of_year: i64,
    /// Astronomical year the week of `week_of_year` belongs to.
    week_year: i64,
    week_of_month: i64,
}

impl Fields {
    fn of(epoch_millis: i64) -> Fields {
        let days = epoch_millis.div_euclid(MILLIS_PER_DAY);
        let ms = epoch_millis.rem_euclid(MILLIS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let jan1 = days_from_civil(year, 1, 1);
        let day_of_year = days - jan1 + 1;
        // 1970-01-01 was a Thursday.
        let weekday = (days + 4).rem_euclid(7);
        let weekday_of = |d: i64| (d + 4).rem_euclid(7);

        // en_US: weeks start on Sunday and week 1 is the week holding January 1st, so the last
        // days of December belong to week 1 of the next year when that week starts before it.
        let next_jan1 = days_from_civil(year + 1, 1, 1);
        let (week_of_year, week_year) = if days >= next_jan1 - weekday_of(next_jan1) {
            (1, year + 1)
        } else {
            ((day_of_year - 1 + weekday_of(jan1)) / 7 + 1, year)
        };
        let first_of_month = days - (day - 1);
        let week_of_month = (day - 1 + weekday_of(first_of_month)) / 7 + 1;

        Fields {
            year,
            month,
            day,
            day_of_year,
            weekday,
            hour: ms / 3_600_000,
            minute: ms / 60_000 % 60,
            second: ms / 1000 % 60,
            millis: ms % 1000,
            week_of_year,
            week_year,
            week_of_month,
        }
    }

    fn write(&self, letter: char, count: usize, out: &mut String) {
        match letter {
            'G' => out.push_str(if self.year > 0 { "AD" } else { "BC" }),
            'y' => write_year(era_year(self.year), count, out),
            'Y' => write_year(era_year(self.week_year), count, out),
            'M' | 'L' => {
                let name = MONTHS[(self.month - 1) as usize];
                match count {
                    1 | 2 => pad(self.month, count, out),
                    3 => out.push_str(&name[..3]),
                    _ => out.push_str(name),
                }
            }
            'E' => {
                let name = DAYS[self.weekday as usize];
                out.push_str(if count >= 4 { name } else { &name[..3] });
            }
            'u' => pad(if self.weekday == 0 { 7 } else { self.weekday }, count, out),
            'a' => out.push_str(if self.hour < 12 { "AM" } else { "PM" }),
            'H' => pad(self.hour, count, out),
            'k' => pad(if self.hour == 0 { 24 } else { self.hour }, count, out),
            'K' => pad(self.hour % 12, count, out),
            'h' => pad(
                if self.hour % 12 == 0 {
                    12
                } else {
                    self.hour % 12
                },
                count,
                out,
            ),
            'm' => pad(self.minute, count, out),
            's' => pad(self.second, count, out),
            'S' => pad(self.millis, count, out),
            'd' => pad(self.day, count, out),
            'D' => pad(self.day_of_year, count, out),
            'F' => pad((self.day - 1) / 7 + 1, count, out),
            'w' => pad(self.week_of_year, count, out),
            'W' => pad(self.week_of_month, count, out),
            'z' => out.push_str(if count >= 4 {
                "Coordinated Universal Time"
            } else {
                "UTC"
            }),
            'Z' => out.push_str("+0000"),
            'X' => out.push('Z'),
            // `JavaDateFormat::new` only keeps the letters above.
            _ => {}
        }
    }
}

/// The year within its era, as `Calendar.YEAR` has it (1 BC is year 1 of era BC).
fn era_year(astronomical: i64) -> i64 {
    if astronomical > 0 {
        astronomical
    } else {
        1 - astronomical
    }
}

/// `y`: two letters keep the last two digits, any other count pads to that many.
fn write_year(year: i64, count: usize, out: &mut String) {
    if count == 2 {
        pad(year % 100, 2, out);
    } else {
        pad(year, count, out);
    }
}

fn pad(value: i64, width: usize, out: &mut String) {
    let _ = write!(out, "{value:0width$}");
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month 1-12, day 1-31) → days since 1970-01-01, proleptic Gregorian.
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(pattern: &str, millis: i64) -> String {
        JavaDateFormat::new(pattern).unwrap().format(millis)
    }

    /// 2017-01-03T06:30:01.864Z, a Tuesday (TimestampRouter's test instant).
    const T: i64 = 1_483_425_001_864;

    #[test]
    fn common_patterns_print_as_java_does() {
        assert_eq!(fmt("yyyyMMdd", T), "20170103");
        assert_eq!(
            fmt("yyyy-MM-dd'T'HH:mm:ss.SSSZ", T),
            "2017-01-03T06:30:01.864+0000"
        );
        assert_eq!(
            fmt("yyyy-MM-dd HH:mm:ss.SSSXXX", T),
            "2017-01-03 06:30:01.864Z"
        );
        assert_eq!(fmt("yy/M/d H:m:s.S", T), "17/1/3 6:30:1.864");
        assert_eq!(fmt("yyyy_MM_dd_HH", 0), "1970_01_01_00");
        assert_eq!(fmt("y", T), "2017");
        assert_eq!(fmt("yyyyyy", T), "002017");
    }

    #[test]
    fn names_and_twelve_hour_clock() {
        assert_eq!(fmt("EEE, d MMM yyyy", T), "Tue, 3 Jan 2017");
        assert_eq!(fmt("EEEE MMMM", T), "Tuesday January");
        assert_eq!(fmt("hh:mm a", T), "06:30 AM");
        // 18:05 is 6 PM; midnight is 12 AM (h), 0 (K), 24 (k).
        let evening = T + 11 * 3_600_000 + 35 * 60_000;
        assert_eq!(fmt("h:mm a K k", evening), "6:05 PM 6 18");
        assert_eq!(fmt("h a K k H", 0), "12 AM 0 24 0");
        assert_eq!(fmt("G z zzzz", T), "AD UTC Coordinated Universal Time");
    }

    #[test]
    fn milliseconds_pad_to_the_letter_count() {
        let t = 7; // 1970-01-01T00:00:00.007Z
        assert_eq!(fmt("S", t), "7");
        assert_eq!(fmt("SSS", t), "007");
        assert_eq!(fmt("SSSS", t), "0007");
    }

    #[test]
    fn day_of_year_week_fields_and_day_numbers() {
        assert_eq!(fmt("D DDD u F", T), "3 003 2 1");
        // 2017-01-01 was a Sunday: the 3rd is in week 1, 2017-01-08 in week 2.
        assert_eq!(fmt("w W", T), "1 1");
        assert_eq!(fmt("w W", T + 5 * MILLIS_PER_DAY), "2 2");
        // Saturday 2016-12-31 is not in the week of 2017-01-01, which starts on that Sunday.
        let dec31_2016 = T - 3 * MILLIS_PER_DAY;
        assert_eq!(fmt("YYYY-ww", dec31_2016), "2016-53");
        // 2019-12-30 (Monday) is in the week of Wednesday 2020-01-01: week 1 of week-year 2020.
        let dec30_2019 = days_from_civil(2019, 12, 30) * MILLIS_PER_DAY;
        assert_eq!(fmt("YYYY-ww yyyy", dec30_2019), "2020-01 2019");
    }

    #[test]
    fn before_the_epoch() {
        assert_eq!(
            fmt("yyyy-MM-dd HH:mm:ss.SSS", -1),
            "1969-12-31 23:59:59.999"
        );
        assert_eq!(fmt("EEE", -MILLIS_PER_DAY), "Wed");
    }

    #[test]
    fn quotes_and_literals() {
        assert_eq!(fmt("'day' dd 'o''clock' ''", T), "day 03 o'clock '");
        assert_eq!(fmt("yyyy'T'", T), "2017T");
        assert_eq!(fmt("[dd]-#", T), "[03]-#");
        // Non-ASCII letters are literal text in Java too.
        assert_eq!(fmt("dd é", T), "03 é");
    }

    #[test]
    fn refuses_what_java_refuses() {
        assert_eq!(
            JavaDateFormat::new("yyyy-qq").unwrap_err().to_string(),
            "Illegal pattern character 'q'"
        );
        assert_eq!(
            JavaDateFormat::new("yyyy'T").unwrap_err().to_string(),
            "Unterminated quote"
        );
        assert_eq!(
            JavaDateFormat::new("XXXX").unwrap_err().to_string(),
            "invalid ISO 8601 format: length=4"
        );
    }

    #[test]
    fn civil_conversions_round_trip() {
        for days in [-719_468, -1, 0, 1, 17_167, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(17_169), (2017, 1, 3));
    }
}
