//! China's working-day calendar (DOMAIN.md, "Working days"): weekends are off, public holidays
//! are off, and the adjusted working weekends (调休上班) are on. The calendar is data, one TOML
//! file a year in the format of `data/cn-workdays-2026.toml`; a year without a file counts
//! weekends only and says so through [`CalendarWarning::MissingYear`], so that the system admin
//! can be told to import it.
//!
//! All times are civil (wall-clock) times in Beijing time. China has used UTC+8 without daylight
//! saving since 1991, so callers convert an instant with a fixed +08:00 offset; this module never
//! reads a clock or a time-zone database.
//!
//! # When a step is due
//!
//! The guides say "审核1个工作日" and "16:40后支付的订单顺延1个工作日" (guide 003): the day a step
//! starts counts as its first working day, unless the step starts after the 16:40 cut-off or on
//! a day off, in which case counting starts on the next working day. A step of `N` working days
//! is due at the **end** of the `N`-th working day counted (23:59:59.999999999 that day).
//!
//! The cut-off itself belongs to the same day: "16:40后" is *after* 16:40, so a step starting at
//! 16:40:00 exactly still counts that day, and one starting at 16:40:00.000000001 or later does
//! not.
//!
//! Examples with the 2026 data (1 working day unless said otherwise):
//!
//! | step starts | counting starts | due (end of) |
//! |---|---|---|
//! | Mon 2026-03-02 10:00 | Mon 03-02 | Mon 03-02 |
//! | Mon 2026-03-02 16:40:00 | Mon 03-02 | Mon 03-02 |
//! | Mon 2026-03-02 16:40:01 | Tue 03-03 | Tue 03-03 |
//! | Fri 2026-03-06 17:00 | Mon 03-09 | Mon 03-09 |
//! | Wed 2026-09-30 17:00 (国庆节 follows) | Thu 10-08 | Thu 10-08 |
//! | Wed 2026-09-30 17:00, 3 working days | Thu 10-08 | Sat 10-10 (调休上班) |
//! | Sat 2026-10-03 10:00 (holiday) | Thu 10-08 | Thu 10-08 |

use jiff::civil::{Date, DateTime, Time, Weekday};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A step that starts later than this time of day starts counting on the next working day; one
/// that starts at 16:40:00 exactly still counts that day ("16:40后" is after 16:40).
pub const DAILY_CUT_OFF: Time = Time::constant(16, 40, 0, 0);

/// China's 2026 calendar as shipped with the crate (a copy of `shared/data/cn-workdays-2026.toml`).
const BUILTIN_CHINA_2026: &str = include_str!("../data/cn-workdays-2026.toml");

/// A named public holiday: the days off from `from` to `to`, both included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub name: String,
    pub from: Date,
    pub to: Date,
}

impl Holiday {
    pub fn contains(&self, date: Date) -> bool {
        self.from <= date && date <= self.to
    }
}

/// What kind of day a date is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind<'a> {
    /// Monday to Friday, not a holiday.
    Weekday,
    /// Saturday or Sunday, not a 调休 working day.
    Weekend,
    /// A day off of a public holiday (it may also be a weekend day).
    Holiday { name: &'a str },
    /// A weekend day that is a working day (调休上班).
    AdjustedWorkday,
}

impl DayKind<'_> {
    pub fn is_working_day(self) -> bool {
        matches!(self, DayKind::Weekday | DayKind::AdjustedWorkday)
    }
}

/// Something the system admin must be told about, although the calendar could still answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CalendarWarning {
    /// There is no data for this year: its working days were counted from weekends only, so
    /// its public holidays and 调休 days were ignored.
    MissingYear(i16),
}

impl fmt::Display for CalendarWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CalendarWarning::MissingYear(year) => write!(
                f,
                "缺少{year}年的节假日安排数据，该年只按周末计算工作日，请系统管理员导入{year}年的工作日历"
            ),
        }
    }
}

/// Why calendar data was refused. Messages are shown to the system admin as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarDataError {
    #[error("工作日历数据格式错误：{0}")]
    Syntax(String),
    #[error("工作日历的年份 {0} 超出支持范围")]
    YearOutOfRange(i64),
    #[error("{field}“{value}”不是有效日期，应写作 YYYY-MM-DD")]
    InvalidDate { field: String, value: String },
    #[error("{field} {date} 不在本文件声明的 {year} 年内")]
    DateOutsideYear {
        field: String,
        date: Date,
        year: i16,
    },
    #[error("假期名称不能为空（{from} 至 {to}）")]
    EmptyHolidayName { from: Date, to: Date },
    #[error("假期“{name}”的结束日期 {to} 早于开始日期 {from}")]
    ReversedRange { name: String, from: Date, to: Date },
    #[error("假期“{first}”与“{second}”的日期重叠（{date} 同属两者）")]
    OverlappingHolidays {
        first: String,
        second: String,
        date: Date,
    },
    #[error("调休上班日 {date} 是{weekday}，不是周末")]
    AdjustedWorkdayNotWeekend { date: Date, weekday: &'static str },
    #[error("调休上班日 {date} 落在假期“{holiday}”之内")]
    AdjustedWorkdayInHoliday { date: Date, holiday: String },
    #[error("调休上班日 {0} 重复出现")]
    DuplicateAdjustedWorkday(Date),
    #[error("{0}年的工作日历已经存在，不能重复导入")]
    DuplicateYear(i16),
}

/// One year of checked calendar data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearCalendar {
    year: i16,
    /// Sorted by first day; no two overlap.
    holidays: Vec<Holiday>,
    adjusted_workdays: BTreeSet<Date>,
}

impl YearCalendar {
    /// Checks a year's data: every date inside `year`, holiday ranges not reversed and not
    /// overlapping, every 调休 working day a Saturday or Sunday outside all holidays.
    pub fn new(
        year: i16,
        holidays: Vec<Holiday>,
        adjusted_workdays: Vec<Date>,
    ) -> Result<Self, CalendarDataError> {
        let in_year = |field: String, date: Date| {
            if date.year() == year {
                Ok(())
            } else {
                Err(CalendarDataError::DateOutsideYear { field, date, year })
            }
        };

        let mut holidays = holidays;
        for h in &holidays {
            if h.name.trim().is_empty() {
                return Err(CalendarDataError::EmptyHolidayName {
                    from: h.from,
                    to: h.to,
                });
            }
            in_year(format!("假期“{}”的开始日期", h.name), h.from)?;
            in_year(format!("假期“{}”的结束日期", h.name), h.to)?;
            if h.to < h.from {
                return Err(CalendarDataError::ReversedRange {
                    name: h.name.clone(),
                    from: h.from,
                    to: h.to,
                });
            }
        }
        holidays.sort_by_key(|h| (h.from, h.to));
        // Once sorted by start, any overlap shows between neighbours.
        for pair in holidays.windows(2) {
            if pair[1].from <= pair[0].to {
                return Err(CalendarDataError::OverlappingHolidays {
                    first: pair[0].name.clone(),
                    second: pair[1].name.clone(),
                    date: pair[1].from,
                });
            }
        }

        let mut workdays = BTreeSet::new();
        for date in adjusted_workdays {
            in_year("调休上班日".to_string(), date)?;
            if !is_weekend(date) {
                return Err(CalendarDataError::AdjustedWorkdayNotWeekend {
                    date,
                    weekday: weekday_zh(date.weekday()),
                });
            }
            if let Some(h) = holidays.iter().find(|h| h.contains(date)) {
                return Err(CalendarDataError::AdjustedWorkdayInHoliday {
                    date,
                    holiday: h.name.clone(),
                });
            }
            if !workdays.insert(date) {
                return Err(CalendarDataError::DuplicateAdjustedWorkday(date));
            }
        }

        Ok(YearCalendar {
            year,
            holidays,
            adjusted_workdays: workdays,
        })
    }

    /// Parses and checks one year file (`year`, `holidays = [{ name, from, to }]`,
    /// `workdays = [dates]`). Dates may be written as strings or as TOML dates.
    pub fn from_toml(source: &str) -> Result<Self, CalendarDataError> {
        let raw: RawYear = toml::from_str(source)
            .map_err(|e| CalendarDataError::Syntax(e.message().to_string()))?;
        let year = i16::try_from(raw.year)
            .ok()
            .filter(|y| (1..=9999).contains(y))
            .ok_or(CalendarDataError::YearOutOfRange(raw.year))?;
        let holidays = raw
            .holidays
            .into_iter()
            .map(|h| {
                Ok(Holiday {
                    from: parse_date(&format!("假期“{}”的开始日期", h.name), &h.from)?,
                    to: parse_date(&format!("假期“{}”的结束日期", h.name), &h.to)?,
                    name: h.name,
                })
            })
            .collect::<Result<Vec<_>, CalendarDataError>>()?;
        let workdays = raw
            .workdays
            .iter()
            .map(|d| parse_date("调休上班日", d))
            .collect::<Result<Vec<_>, _>>()?;
        YearCalendar::new(year, holidays, workdays)
    }

    pub fn year(&self) -> i16 {
        self.year
    }

    /// The holidays, in date order.
    pub fn holidays(&self) -> &[Holiday] {
        &self.holidays
    }

    /// The 调休 working weekend days, in date order.
    pub fn adjusted_workdays(&self) -> impl Iterator<Item = Date> + '_ {
        self.adjusted_workdays.iter().copied()
    }

    fn day_kind(&self, date: Date) -> DayKind<'_> {
        if let Some(h) = self.holidays.iter().find(|h| h.contains(date)) {
            DayKind::Holiday { name: &h.name }
        } else if self.adjusted_workdays.contains(&date) {
            DayKind::AdjustedWorkday
        } else {
            weekend_rule(date)
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYear {
    year: i64,
    #[serde(default)]
    holidays: Vec<RawHoliday>,
    #[serde(default)]
    workdays: Vec<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHoliday {
    name: String,
    from: toml::Value,
    to: toml::Value,
}

/// Accepts `"2026-10-01"` or a bare TOML date `2026-10-01`; nothing looser, so that a typo such
/// as `"2026-1-01"` or a date with a time is refused rather than guessed.
fn parse_date(field: &str, value: &toml::Value) -> Result<Date, CalendarDataError> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        // A datetime prints with its time, which the shape check below refuses.
        toml::Value::Datetime(dt) => dt.to_string(),
        other => other.to_string(),
    };
    let invalid = || CalendarDataError::InvalidDate {
        field: field.to_string(),
        value: text.clone(),
    };
    let shape_ok = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(invalid());
    }
    text.parse::<Date>().map_err(|_| invalid())
}

fn is_weekend(date: Date) -> bool {
    matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

fn weekend_rule(date: Date) -> DayKind<'static> {
    if is_weekend(date) {
        DayKind::Weekend
    } else {
        DayKind::Weekday
    }
}

fn weekday_zh(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Monday => "星期一",
        Weekday::Tuesday => "星期二",
        Weekday::Wednesday => "星期三",
        Weekday::Thursday => "星期四",
        Weekday::Friday => "星期五",
        Weekday::Saturday => "星期六",
        Weekday::Sunday => "星期日",
    }
}

/// When a step is due, and how that was worked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    /// When the step started (Beijing time).
    pub start: DateTime,
    /// The step's length in working days.
    pub working_days: u32,
    /// The first working day counted: the start day, or the next working day when the step
    /// started after [`DAILY_CUT_OFF`] or on a day off.
    pub counting_from: Date,
    /// The last instant of the last working day counted (23:59:59.999999999). For a step of 0
    /// working days it is `start` itself.
    pub due: DateTime,
    /// Years consulted without calendar data (counted from weekends only), in order.
    pub warnings: Vec<CalendarWarning>,
}

impl Deadline {
    pub fn due_date(&self) -> Date {
        self.due.date()
    }

    /// Whether the step is late at `now` (Beijing time): strictly after `due`.
    pub fn is_overdue(&self, now: DateTime) -> bool {
        now > self.due
    }
}

/// China's working days over any number of years; years without data count weekends only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkCalendar {
    years: BTreeMap<i16, YearCalendar>,
}

impl WorkCalendar {
    /// A calendar without any year data: every year counts weekends only (and warns).
    pub fn weekends_only() -> Self {
        WorkCalendar::default()
    }

    /// The calendar shipped with the crate: China, 2026.
    pub fn china_builtin() -> Self {
        let year_2026 = YearCalendar::from_toml(BUILTIN_CHINA_2026)
            .expect("the built-in 2026 calendar is checked by the tests");
        WorkCalendar::from_years([year_2026]).expect("one year cannot be a duplicate")
    }

    /// A calendar of the given years; the same year twice is refused.
    pub fn from_years(
        years: impl IntoIterator<Item = YearCalendar>,
    ) -> Result<Self, CalendarDataError> {
        let mut calendar = WorkCalendar::default();
        for year in years {
            calendar.add_year(year)?;
        }
        Ok(calendar)
    }

    /// Parses one TOML file per year.
    pub fn from_toml_years<'a>(
        sources: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, CalendarDataError> {
        let years = sources
            .into_iter()
            .map(YearCalendar::from_toml)
            .collect::<Result<Vec<_>, _>>()?;
        WorkCalendar::from_years(years)
    }

    /// Adds a year; a year already present is refused rather than silently replaced.
    pub fn add_year(&mut self, year: YearCalendar) -> Result<(), CalendarDataError> {
        if self.years.contains_key(&year.year) {
            return Err(CalendarDataError::DuplicateYear(year.year));
        }
        self.years.insert(year.year, year);
        Ok(())
    }

    /// The years that have data, in order.
    pub fn years(&self) -> impl Iterator<Item = i16> + '_ {
        self.years.keys().copied()
    }

    pub fn has_year(&self, year: i16) -> bool {
        self.years.contains_key(&year)
    }

    pub fn year(&self, year: i16) -> Option<&YearCalendar> {
        self.years.get(&year)
    }

    /// The years from `from` to `to` (inclusive) that have no data, one warning each; empty when
    /// every year is covered. The system admin's "calendar missing" notice comes from here.
    pub fn missing_years(&self, from: Date, to: Date) -> Vec<CalendarWarning> {
        (from.year()..=to.year())
            .filter(|y| !self.has_year(*y))
            .map(CalendarWarning::MissingYear)
            .collect()
    }

    /// What kind of day `date` is. In a year without data only weekdays and weekends occur.
    pub fn day_kind(&self, date: Date) -> DayKind<'_> {
        match self.years.get(&date.year()) {
            Some(year) => year.day_kind(date),
            None => weekend_rule(date),
        }
    }

    pub fn is_working_day(&self, date: Date) -> bool {
        self.day_kind(date).is_working_day()
    }

    /// The first working day strictly after `date`; `None` past the last supported date.
    pub fn next_working_day(&self, date: Date) -> Option<Date> {
        let mut day = date.tomorrow().ok()?;
        while !self.is_working_day(day) {
            day = day.tomorrow().ok()?;
        }
        Some(day)
    }

    /// When a step of `working_days` working days that starts at `start` (Beijing time) is due.
    /// See the module documentation for the rule and examples. A deadline beyond the last
    /// supported date (year 9999) saturates at `DateTime::MAX`.
    pub fn working_day_deadline(&self, start: DateTime, working_days: u32) -> Deadline {
        let start_day = start.date();
        let counts_today = self.is_working_day(start_day) && start.time() <= DAILY_CUT_OFF;
        let counting_from = if counts_today {
            Some(start_day)
        } else {
            self.next_working_day(start_day)
        };

        let due = if working_days == 0 {
            start
        } else {
            let mut last = counting_from;
            for _ in 1..working_days {
                last = last.and_then(|d| self.next_working_day(d));
            }
            last.map_or(DateTime::MAX, |d| d.to_datetime(Time::MAX))
        };

        Deadline {
            start,
            working_days,
            counting_from: counting_from.unwrap_or(Date::MAX),
            warnings: self.missing_years(start_day, due.date()),
            due,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn cal() -> WorkCalendar {
        WorkCalendar::china_builtin()
    }

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn dt(s: &str) -> DateTime {
        s.parse().unwrap()
    }

    #[test]
    fn builtin_data_is_the_2026_notice() {
        let cal = cal();
        assert_eq!(cal.years().collect::<Vec<_>>(), vec![2026]);
        let year = cal.year(2026).unwrap();
        let names: Vec<&str> = year.holidays().iter().map(|h| h.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "元旦",
                "春节",
                "清明节",
                "劳动节",
                "端午节",
                "中秋节",
                "国庆节"
            ]
        );
        let workdays: Vec<String> = year.adjusted_workdays().map(|d| d.to_string()).collect();
        assert_eq!(
            workdays,
            [
                "2026-01-04",
                "2026-02-14",
                "2026-02-28",
                "2026-05-09",
                "2026-09-20",
                "2026-10-10"
            ]
        );
        // 2026 has 365 days: 104 weekend days; 33 holiday days, 14 of them on weekends; 6
        // weekend days worked. 365 - 104 - (33 - 14) + 6 = 248 working days.
        let days_of_2026 = std::iter::successors(Some(date(2026, 1, 1)), |day| day.tomorrow().ok())
            .take_while(|day| day.year() == 2026);
        let working = days_of_2026.filter(|day| cal.is_working_day(*day)).count();
        assert_eq!(working, 248);
    }

    #[test]
    fn kinds_of_days_in_2026() {
        let cal = cal();
        let cases: &[(&str, DayKind)] = &[
            // 元旦
            ("2026-01-01", DayKind::Holiday { name: "元旦" }),
            ("2026-01-03", DayKind::Holiday { name: "元旦" }),
            ("2026-01-04", DayKind::AdjustedWorkday), // Sunday
            ("2026-01-05", DayKind::Weekday),
            // 春节
            ("2026-02-13", DayKind::Weekday),
            ("2026-02-14", DayKind::AdjustedWorkday), // Saturday
            ("2026-02-15", DayKind::Holiday { name: "春节" }), // Sunday
            ("2026-02-23", DayKind::Holiday { name: "春节" }), // Monday
            ("2026-02-24", DayKind::Weekday),
            ("2026-02-28", DayKind::AdjustedWorkday), // Saturday
            ("2026-03-01", DayKind::Weekend),
            // 劳动节
            ("2026-04-30", DayKind::Weekday),
            ("2026-05-01", DayKind::Holiday { name: "劳动节" }),
            ("2026-05-05", DayKind::Holiday { name: "劳动节" }),
            ("2026-05-06", DayKind::Weekday),
            ("2026-05-09", DayKind::AdjustedWorkday), // Saturday
            ("2026-05-10", DayKind::Weekend),
            // 国庆节
            ("2026-09-19", DayKind::Weekend),
            ("2026-09-20", DayKind::AdjustedWorkday), // Sunday
            ("2026-09-30", DayKind::Weekday),
            ("2026-10-01", DayKind::Holiday { name: "国庆节" }),
            ("2026-10-07", DayKind::Holiday { name: "国庆节" }),
            ("2026-10-08", DayKind::Weekday),
            ("2026-10-10", DayKind::AdjustedWorkday), // Saturday
            ("2026-10-11", DayKind::Weekend),
            // 2027 has no data: weekends only, 元旦 included.
            ("2027-01-01", DayKind::Weekday),
            ("2027-01-02", DayKind::Weekend),
        ];
        for (day, kind) in cases {
            assert_eq!(cal.day_kind(d(day)), *kind, "{day}");
            assert_eq!(cal.is_working_day(d(day)), kind.is_working_day(), "{day}");
        }
    }

    /// (start, working days, counting from, due date, years warned about)
    const DEADLINES: &[(&str, u32, &str, &str, &[i16])] = &[
        // An ordinary week, and the 16:40 cut-off (Mon 2026-03-02).
        ("2026-03-02T10:00:00", 1, "2026-03-02", "2026-03-02", &[]),
        ("2026-03-02T00:00:00", 1, "2026-03-02", "2026-03-02", &[]),
        ("2026-03-02T16:39:59", 1, "2026-03-02", "2026-03-02", &[]),
        ("2026-03-02T16:40:00", 1, "2026-03-02", "2026-03-02", &[]),
        (
            "2026-03-02T16:40:00.000000001",
            1,
            "2026-03-03",
            "2026-03-03",
            &[],
        ),
        ("2026-03-02T16:40:01", 1, "2026-03-03", "2026-03-03", &[]),
        ("2026-03-02T23:59:59", 1, "2026-03-03", "2026-03-03", &[]),
        ("2026-03-02T10:00:00", 3, "2026-03-02", "2026-03-04", &[]),
        ("2026-03-02T17:00:00", 3, "2026-03-03", "2026-03-05", &[]),
        ("2026-03-06T17:00:00", 1, "2026-03-09", "2026-03-09", &[]), // Fri evening → Mon
        ("2026-03-07T09:00:00", 1, "2026-03-09", "2026-03-09", &[]), // Saturday → Mon
        ("2026-03-06T10:00:00", 2, "2026-03-06", "2026-03-09", &[]), // over a weekend
        // 元旦: Jan 1–3 off, Sun Jan 4 worked.
        ("2026-01-02T10:00:00", 1, "2026-01-04", "2026-01-04", &[]), // on a holiday
        ("2026-01-04T10:00:00", 1, "2026-01-04", "2026-01-04", &[]), // on the 调休 Sunday
        ("2026-01-04T16:40:01", 1, "2026-01-05", "2026-01-05", &[]),
        // 春节: Feb 15–23 off, Sat Feb 14 and Sat Feb 28 worked.
        ("2026-02-13T10:00:00", 1, "2026-02-13", "2026-02-13", &[]),
        ("2026-02-13T17:00:00", 1, "2026-02-14", "2026-02-14", &[]), // Fri evening → 调休 Sat
        ("2026-02-13T10:00:00", 2, "2026-02-13", "2026-02-14", &[]),
        ("2026-02-14T10:00:00", 1, "2026-02-14", "2026-02-14", &[]), // on a 调休 Saturday
        ("2026-02-14T17:00:00", 1, "2026-02-24", "2026-02-24", &[]), // over the whole holiday
        ("2026-02-14T10:00:00", 2, "2026-02-14", "2026-02-24", &[]),
        ("2026-02-20T09:00:00", 1, "2026-02-24", "2026-02-24", &[]), // on a holiday Friday
        ("2026-02-14T10:00:00", 5, "2026-02-14", "2026-02-27", &[]),
        ("2026-02-14T10:00:00", 6, "2026-02-14", "2026-02-28", &[]), // ends on 调休 Sat
        ("2026-02-14T10:00:00", 7, "2026-02-14", "2026-03-02", &[]),
        ("2026-02-27T17:00:00", 1, "2026-02-28", "2026-02-28", &[]),
        // 劳动节: May 1–5 off, Sat May 9 worked.
        ("2026-04-30T10:00:00", 1, "2026-04-30", "2026-04-30", &[]),
        ("2026-04-30T17:00:00", 1, "2026-05-06", "2026-05-06", &[]),
        ("2026-04-30T10:00:00", 2, "2026-04-30", "2026-05-06", &[]),
        ("2026-05-03T10:00:00", 1, "2026-05-06", "2026-05-06", &[]),
        ("2026-05-08T17:00:00", 1, "2026-05-09", "2026-05-09", &[]),
        ("2026-05-06T10:00:00", 4, "2026-05-06", "2026-05-09", &[]),
        // 国庆节: Oct 1–7 off, Sun Sep 20 and Sat Oct 10 worked (中秋节 Sep 25–27 before it).
        ("2026-09-18T17:00:00", 1, "2026-09-20", "2026-09-20", &[]), // Fri evening → 调休 Sun
        ("2026-09-19T10:00:00", 1, "2026-09-20", "2026-09-20", &[]),
        ("2026-09-30T10:00:00", 1, "2026-09-30", "2026-09-30", &[]),
        ("2026-09-30T16:40:00", 1, "2026-09-30", "2026-09-30", &[]),
        ("2026-09-30T16:40:01", 1, "2026-10-08", "2026-10-08", &[]),
        ("2026-09-30T10:00:00", 3, "2026-09-30", "2026-10-09", &[]),
        ("2026-09-30T17:00:00", 3, "2026-10-08", "2026-10-10", &[]),
        ("2026-10-03T10:00:00", 1, "2026-10-08", "2026-10-08", &[]), // on a holiday
        ("2026-10-09T17:00:00", 1, "2026-10-10", "2026-10-10", &[]),
        ("2026-10-10T10:00:00", 1, "2026-10-10", "2026-10-10", &[]), // on a 调休 Saturday
        ("2026-10-10T17:00:00", 1, "2026-10-12", "2026-10-12", &[]),
        // A refund (15 working days) across 中秋节 and 国庆节.
        ("2026-09-24T10:00:00", 15, "2026-09-24", "2026-10-21", &[]),
        // 2027 has no data: weekends only, and a warning.
        (
            "2027-03-01T10:00:00",
            1,
            "2027-03-01",
            "2027-03-01",
            &[2027],
        ),
        (
            "2027-03-05T17:00:00",
            1,
            "2027-03-08",
            "2027-03-08",
            &[2027],
        ),
        (
            "2027-01-01T10:00:00",
            1,
            "2027-01-01",
            "2027-01-01",
            &[2027],
        ),
        // Year end: 2026 has data, 2027 not.
        ("2026-12-31T10:00:00", 1, "2026-12-31", "2026-12-31", &[]),
        (
            "2026-12-31T16:40:01",
            1,
            "2027-01-01",
            "2027-01-01",
            &[2027],
        ),
        (
            "2026-12-31T10:00:00",
            3,
            "2026-12-31",
            "2027-01-04",
            &[2027],
        ),
        ("2026-12-30T10:00:00", 2, "2026-12-30", "2026-12-31", &[]),
    ];

    #[test]
    fn deadlines() {
        let cal = cal();
        for &(start, days, from, due, missing) in DEADLINES {
            let deadline = cal.working_day_deadline(dt(start), days);
            let case = format!("{start} + {days}");
            assert_eq!(deadline.start, dt(start), "{case}");
            assert_eq!(deadline.working_days, days, "{case}");
            assert_eq!(deadline.counting_from, d(from), "{case}");
            assert_eq!(deadline.due, d(due).at(23, 59, 59, 999_999_999), "{case}");
            assert_eq!(deadline.due_date(), d(due), "{case}");
            let warned: Vec<CalendarWarning> = missing
                .iter()
                .map(|y| CalendarWarning::MissingYear(*y))
                .collect();
            assert_eq!(deadline.warnings, warned, "{case}");
        }
    }

    #[test]
    fn year_end_with_the_next_years_data() {
        let year_2027 = r#"
            year = 2027
            holidays = [{ name = "元旦", from = "2027-01-01", to = "2027-01-03" }]
        "#;
        let cal = WorkCalendar::from_toml_years([BUILTIN_CHINA_2026, year_2027]).unwrap();
        let deadline = cal.working_day_deadline(dt("2026-12-31T17:00:00"), 1);
        assert_eq!(deadline.counting_from, d("2027-01-04"));
        assert_eq!(deadline.due_date(), d("2027-01-04"));
        assert!(deadline.warnings.is_empty());
    }

    #[test]
    fn missing_years_are_reported_for_the_admin() {
        let cal = cal();
        assert_eq!(cal.missing_years(d("2026-01-01"), d("2026-12-31")), vec![]);
        assert_eq!(
            cal.missing_years(d("2025-06-01"), d("2028-01-01")),
            vec![
                CalendarWarning::MissingYear(2025),
                CalendarWarning::MissingYear(2027),
                CalendarWarning::MissingYear(2028),
            ]
        );
        assert_eq!(
            CalendarWarning::MissingYear(2027).to_string(),
            "缺少2027年的节假日安排数据，该年只按周末计算工作日，请系统管理员导入2027年的工作日历"
        );
        let none = WorkCalendar::weekends_only();
        let deadline = none.working_day_deadline(dt("2026-10-01T10:00:00"), 1);
        assert_eq!(deadline.due_date(), d("2026-10-01")); // 国庆节 unknown without data
        assert_eq!(deadline.warnings, vec![CalendarWarning::MissingYear(2026)]);
    }

    #[test]
    fn overdue_is_strictly_after_the_end_of_the_due_day() {
        let deadline = cal().working_day_deadline(dt("2026-09-30T17:00:00"), 1);
        assert!(!deadline.is_overdue(dt("2026-09-30T17:00:00")));
        assert!(!deadline.is_overdue(dt("2026-10-08T23:59:59.999999999")));
        assert!(deadline.is_overdue(dt("2026-10-09T00:00:00")));
    }

    #[test]
    fn zero_working_days_is_due_at_the_start() {
        let start = dt("2026-10-03T10:00:00");
        let deadline = cal().working_day_deadline(start, 0);
        assert_eq!(deadline.due, start);
        assert!(!deadline.is_overdue(start));
        assert!(deadline.is_overdue(dt("2026-10-03T10:00:00.000000001")));
    }

    #[test]
    fn deadlines_past_the_last_date_saturate() {
        let deadline =
            WorkCalendar::weekends_only().working_day_deadline(dt("9999-12-31T10:00:00"), 2);
        assert_eq!(deadline.due, DateTime::MAX);
        let deadline =
            WorkCalendar::weekends_only().working_day_deadline(dt("9999-12-31T18:00:00"), 1);
        assert_eq!(deadline.counting_from, Date::MAX);
        assert_eq!(deadline.due, DateTime::MAX);
    }

    #[test]
    fn next_working_day() {
        let cal = cal();
        assert_eq!(cal.next_working_day(d("2026-09-30")), Some(d("2026-10-08")));
        assert_eq!(cal.next_working_day(d("2026-10-09")), Some(d("2026-10-10")));
        assert_eq!(cal.next_working_day(Date::MAX), None);
    }

    fn year_with(holidays: &str, workdays: &str) -> Result<YearCalendar, CalendarDataError> {
        YearCalendar::from_toml(&format!(
            "year = 2026\nholidays = [{holidays}]\nworkdays = [{workdays}]\n"
        ))
    }

    #[test]
    fn bad_data_is_refused_with_a_reason() {
        let cases: &[(&str, &str, &str)] = &[
            (
                r#"{ name = "国庆节", from = "2026-10-07", to = "2026-10-01" }"#,
                "",
                "假期“国庆节”的结束日期 2026-10-01 早于开始日期 2026-10-07",
            ),
            (
                r#"{ name = "中秋节", from = "2026-09-25", to = "2026-10-01" },
                   { name = "国庆节", from = "2026-10-01", to = "2026-10-07" }"#,
                "",
                "假期“中秋节”与“国庆节”的日期重叠（2026-10-01 同属两者）",
            ),
            (
                // Listed out of order, still found.
                r#"{ name = "国庆节", from = "2026-10-01", to = "2026-10-07" },
                   { name = "中秋节", from = "2026-09-25", to = "2026-10-03" }"#,
                "",
                "假期“中秋节”与“国庆节”的日期重叠（2026-10-01 同属两者）",
            ),
            (
                r#"{ name = "元旦", from = "2025-12-31", to = "2026-01-01" }"#,
                "",
                "假期“元旦”的开始日期 2025-12-31 不在本文件声明的 2026 年内",
            ),
            (
                r#"{ name = "元旦", from = "2026-12-31", to = "2027-01-01" }"#,
                "",
                "假期“元旦”的结束日期 2027-01-01 不在本文件声明的 2026 年内",
            ),
            (
                "",
                r#""2027-01-02""#,
                "调休上班日 2027-01-02 不在本文件声明的 2026 年内",
            ),
            (
                "",
                r#""2026-10-09""#,
                "调休上班日 2026-10-09 是星期五，不是周末",
            ),
            (
                r#"{ name = "国庆节", from = "2026-10-01", to = "2026-10-07" }"#,
                r#""2026-10-03""#,
                "调休上班日 2026-10-03 落在假期“国庆节”之内",
            ),
            (
                "",
                r#""2026-10-10", "2026-10-10""#,
                "调休上班日 2026-10-10 重复出现",
            ),
            (
                r#"{ name = " ", from = "2026-10-01", to = "2026-10-07" }"#,
                "",
                "假期名称不能为空（2026-10-01 至 2026-10-07）",
            ),
            (
                r#"{ name = "春节", from = "2026-02-30", to = "2026-03-01" }"#,
                "",
                "假期“春节”的开始日期“2026-02-30”不是有效日期，应写作 YYYY-MM-DD",
            ),
            (
                "",
                r#""2026/10/10""#,
                "调休上班日“2026/10/10”不是有效日期，应写作 YYYY-MM-DD",
            ),
            (
                "",
                r#""2026-1-10""#,
                "调休上班日“2026-1-10”不是有效日期，应写作 YYYY-MM-DD",
            ),
            (
                "",
                "2026-10-10T09:00:00",
                "调休上班日“2026-10-10T09:00:00”不是有效日期，应写作 YYYY-MM-DD",
            ),
            (
                "",
                "20261010",
                "调休上班日“20261010”不是有效日期，应写作 YYYY-MM-DD",
            ),
        ];
        for (holidays, workdays, message) in cases {
            let err = year_with(holidays, workdays).unwrap_err();
            assert_eq!(err.to_string(), *message, "{holidays} / {workdays}");
        }
    }

    #[test]
    fn bad_files_are_refused() {
        let err = YearCalendar::from_toml("year = 2026\nholidays = [").unwrap_err();
        assert!(matches!(err, CalendarDataError::Syntax(_)), "{err:?}");
        // A misspelt key must not silently drop a holiday.
        let err = YearCalendar::from_toml(
            r#"year = 2026
               holidays = [{ name = "国庆节", form = "2026-10-01", to = "2026-10-07" }]"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("工作日历数据格式错误："),
            "{err}"
        );
        let err = YearCalendar::from_toml("year = 2026\nworkday = []").unwrap_err();
        assert!(matches!(err, CalendarDataError::Syntax(_)), "{err:?}");
        assert_eq!(
            YearCalendar::from_toml("year = 0").unwrap_err(),
            CalendarDataError::YearOutOfRange(0)
        );
        assert_eq!(
            YearCalendar::from_toml("year = 100000").unwrap_err(),
            CalendarDataError::YearOutOfRange(100000)
        );
        assert!(matches!(
            YearCalendar::from_toml("holidays = []").unwrap_err(),
            CalendarDataError::Syntax(_)
        ));
    }

    #[test]
    fn good_data_in_either_date_spelling() {
        let year = year_with(
            r#"{ name = "国庆节", from = 2026-10-01, to = "2026-10-07" }"#,
            r#"2026-10-10, "2026-09-20""#,
        )
        .unwrap();
        assert_eq!(year.year(), 2026);
        assert_eq!(
            year.holidays(),
            &[Holiday {
                name: "国庆节".into(),
                from: d("2026-10-01"),
                to: d("2026-10-07"),
            }]
        );
        assert_eq!(
            year.adjusted_workdays().collect::<Vec<_>>(),
            vec![d("2026-09-20"), d("2026-10-10")]
        );
        // An empty year is a valid year: weekends only, but without the warning.
        let empty = WorkCalendar::from_toml_years(["year = 2027"]).unwrap();
        assert!(empty.has_year(2027));
        assert!(empty
            .missing_years(d("2027-01-01"), d("2027-12-31"))
            .is_empty());
    }

    #[test]
    fn a_year_cannot_be_loaded_twice() {
        assert_eq!(
            WorkCalendar::from_toml_years([BUILTIN_CHINA_2026, BUILTIN_CHINA_2026]).unwrap_err(),
            CalendarDataError::DuplicateYear(2026)
        );
        let mut cal = cal();
        let again = YearCalendar::from_toml(BUILTIN_CHINA_2026).unwrap();
        assert_eq!(
            cal.add_year(again).unwrap_err().to_string(),
            "2026年的工作日历已经存在，不能重复导入"
        );
    }
}
