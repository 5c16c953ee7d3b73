//! The first reading of a spec: walk the parsed TOML against [`format::SECTIONS`] and
//! report every problem (unknown sections and fields, wrong types, missing fields, values
//! outside their set or bounds, names defined twice, names that refer to nothing), each
//! at its line and column, before serde reads the typed spec.

use super::format::{self, Absent, Field, Section, Type};
use dsys_diagnostic::Diagnostic;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

const REFERENCE: &str = "specs/README.md";

/// Every problem the format finds in `doc` (parsed from `text`), in the order found.
pub fn walk(text: &str, doc: &DeTable<'_>) -> Vec<Diagnostic> {
    let mut walker = Walker {
        text,
        names: BTreeMap::new(),
        out: Vec::new(),
    };
    walker.collect_names(doc);
    for (key, value) in doc.iter() {
        match format::section(key.get_ref()) {
            Some(section) => walker.section(section, value),
            None => walker.error(
                key.span(),
                format!("unknown section `{}`", shown(key.get_ref())),
                format!(
                    "sections: {}; {REFERENCE} lists them",
                    format::SECTIONS
                        .iter()
                        .map(|s| s.header())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        }
    }
    for section in format::SECTIONS.iter().filter(|s| s.min > 0) {
        let present = doc
            .iter()
            .find(|(k, _)| k.get_ref() == section.name)
            .map_or(0, |(_, v)| match v.get_ref() {
                DeValue::Array(items) => items.len(),
                _ => 1,
            });
        if present == 0 {
            walker.error(
                0..0,
                format!("the spec has no {}", section.header()),
                example(section),
            );
        }
    }
    walker.out
}

/// A section as the README's example starts it.
fn example(section: &Section) -> String {
    let required: Vec<String> = section
        .fields
        .iter()
        .filter(|f| f.absent == Absent::Required)
        .map(|f| format!("{} = ...", f.name))
        .collect();
    format!(
        "add it: {} with {}; {REFERENCE} shows a commented example",
        section.header(),
        required.join(", ")
    )
}

/// User text in a message: control characters escaped, long text cut.
fn shown(text: &str) -> String {
    dsys_diagnostic::shown(text, 60)
}

/// What a value is, for "not ..." in a message.
fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => format!("the string \"{}\"", shown(s)),
        DeValue::Integer(i) => format!("the integer {}", shown(i.as_str())),
        DeValue::Float(f) => format!("the number {}", shown(f.as_str())),
        DeValue::Boolean(b) => format!("{b}"),
        DeValue::Datetime(_) => "a date-time".into(),
        DeValue::Array(_) => "a list".into(),
        DeValue::Table(_) => "a table".into(),
    }
}

/// What the entries of a section are called in messages.
fn noun(section: &str) -> &str {
    match section {
        "data" => "data class",
        other => other,
    }
}

fn integer(value: &toml::de::DeInteger<'_>) -> Option<i64> {
    i64::from_str_radix(&value.as_str().replace('_', ""), value.radix()).ok()
}

fn float(text: &str) -> f64 {
    match text.trim_start_matches('+') {
        "inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        "nan" | "-nan" => f64::NAN,
        t => t.replace('_', "").parse().unwrap_or(f64::NAN),
    }
}

struct Walker<'t> {
    text: &'t str,
    /// Per section, the names its entries define.
    names: BTreeMap<&'static str, BTreeSet<String>>,
    out: Vec<Diagnostic>,
}

impl Walker<'_> {
    fn error(&mut self, span: Range<usize>, message: String, hint: String) {
        self.out
            .push(Diagnostic::at(self.text, span, &message, &hint));
    }

    /// The names each section defines, reporting any defined twice.
    fn collect_names(&mut self, doc: &DeTable<'_>) {
        for section in format::SECTIONS {
            let Some(name_field) = section.fields.iter().find(|f| f.ty == Type::Name) else {
                continue;
            };
            let Some((_, value)) = doc.iter().find(|(k, _)| k.get_ref() == section.name) else {
                continue;
            };
            let DeValue::Array(entries) = value.get_ref() else {
                continue;
            };
            let mut seen = BTreeSet::new();
            for entry in entries.iter() {
                let DeValue::Table(table) = entry.get_ref() else {
                    continue;
                };
                let Some((_, name)) = table.iter().find(|(k, _)| k.get_ref() == name_field.name)
                else {
                    continue;
                };
                if let DeValue::String(name_text) = name.get_ref()
                    && !seen.insert(name_text.to_string())
                {
                    self.error(
                        name.span(),
                        format!(
                            "{} {} is defined twice",
                            noun(section.name),
                            shown(name_text)
                        ),
                        "names must be unique: rename or merge the two".into(),
                    );
                }
            }
            self.names.insert(section.name, seen);
        }
    }

    fn section(&mut self, section: &'static Section, value: &Spanned<DeValue<'_>>) {
        match (section.many, value.get_ref()) {
            (true, DeValue::Array(entries)) => {
                for entry in entries.iter() {
                    match entry.get_ref() {
                        DeValue::Table(table) => self.table(section, entry.span(), table),
                        other => self.error(
                            entry.span(),
                            format!(
                                "invalid type: each {} is a table, not {}",
                                section.name,
                                describe(other)
                            ),
                            format!("write each as {}", section.header()),
                        ),
                    }
                }
            }
            (false, DeValue::Table(table)) => self.table(section, value.span(), table),
            (many, other) => self.error(
                value.span(),
                format!(
                    "invalid type: {} is {}, not {}",
                    section.name,
                    if many {
                        "a list of tables"
                    } else {
                        "one table"
                    },
                    describe(other)
                ),
                format!("write it as {}", section.header()),
            ),
        }
    }

    fn table(&mut self, section: &'static Section, span: Range<usize>, table: &DeTable<'_>) {
        for (key, value) in table.iter() {
            match section.field(key.get_ref()) {
                Some(field) => self.value(section, field, value, &field.ty),
                None => self.error(
                    key.span(),
                    format!(
                        "unknown field `{}` in {}",
                        shown(key.get_ref()),
                        section.header()
                    ),
                    format!(
                        "known: {}; {REFERENCE} lists every field",
                        section
                            .fields
                            .iter()
                            .map(|f| f.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            }
        }
        for field in section.fields {
            if field.absent == Absent::Required
                && !table.iter().any(|(k, _)| k.get_ref() == field.name)
            {
                self.error(
                    span.clone(),
                    format!("missing field `{}` in {}", field.name, section.header()),
                    format!(
                        "add it ({}); {REFERENCE} shows a commented example",
                        field.doc
                    ),
                );
            }
        }
    }

    fn wrong_type(&mut self, field: &Field, value: &Spanned<DeValue<'_>>, expected: &str) {
        self.error(
            value.span(),
            format!(
                "invalid type: `{}` is {expected}, not {}",
                field.name,
                describe(value.get_ref())
            ),
            format!(
                "numbers go unquoted, names in quotes, lists in [ ]; {REFERENCE} gives each field's type"
            ),
        );
    }

    fn value(&mut self, section: &Section, field: &Field, value: &Spanned<DeValue<'_>>, ty: &Type) {
        let span = value.span();
        match (ty, value.get_ref()) {
            (Type::Text | Type::Name, DeValue::String(_)) => {}
            (Type::Text | Type::Name, _) => self.wrong_type(field, value, "a string"),
            (Type::Ref(target), DeValue::String(name)) => {
                let empty = BTreeSet::new();
                let known = self.names.get(target).unwrap_or(&empty);
                if !known.contains(name.as_ref()) {
                    let hint = if known.is_empty() {
                        format!("the spec defines no {}", noun(target))
                    } else {
                        format!(
                            "known: {}",
                            known
                                .iter()
                                .map(|n| shown(n))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    };
                    self.error(
                        span,
                        format!("unknown {} `{}`", noun(target), shown(name)),
                        hint,
                    );
                }
            }
            (Type::Ref(target), _) => {
                self.wrong_type(field, value, &format!("the name of a {}", noun(target)))
            }
            (Type::Bool, DeValue::Boolean(_)) => {}
            (Type::Bool, _) => self.wrong_type(field, value, "true or false"),
            (Type::Number { min, max }, DeValue::Integer(_) | DeValue::Float(_)) => {
                let number = match value.get_ref() {
                    DeValue::Integer(i) => integer(i).map_or(f64::NAN, |i| i as f64),
                    DeValue::Float(f) => float(f.as_str()),
                    _ => f64::NAN,
                };
                let above = if min.1 {
                    number > min.0
                } else {
                    number >= min.0
                };
                let below = max.is_none_or(|(m, open)| if open { number < m } else { number <= m });
                if !(number.is_finite() && above && below) {
                    self.error(
                        span,
                        format!(
                            "`{}` must be {}, not {}",
                            field.name,
                            bounds(*min, *max),
                            match value.get_ref() {
                                DeValue::Integer(i) => shown(i.as_str()),
                                DeValue::Float(f) => shown(f.as_str()),
                                other => describe(other),
                            }
                        ),
                        format!("{}; {REFERENCE}", field.doc),
                    );
                }
            }
            (Type::Number { .. }, _) => self.wrong_type(field, value, "a number"),
            (Type::Integer { min, max }, DeValue::Integer(i)) => {
                if !integer(i).is_some_and(|i| (*min..=*max).contains(&i)) {
                    self.error(
                        span,
                        format!(
                            "`{}` must be a whole number from {min}{}, not {}",
                            field.name,
                            if *max == i64::MAX || *max == i64::from(u32::MAX) {
                                " up".to_string()
                            } else {
                                format!(" to {max}")
                            },
                            shown(i.as_str())
                        ),
                        format!("{}; {REFERENCE}", field.doc),
                    );
                }
            }
            (Type::Integer { .. }, _) => self.wrong_type(field, value, "a whole number"),
            (Type::OneOf(choices), DeValue::String(s)) => {
                if !choices.contains(&s.as_ref()) {
                    self.error(
                        span,
                        format!("unknown value `{}` for `{}`", shown(s), field.name),
                        format!("use one of {}", choices.join(", ")),
                    );
                }
            }
            (Type::OneOf(choices), _) => {
                self.wrong_type(field, value, &format!("one of {}", choices.join(", ")))
            }
            (Type::Freshness, DeValue::String(s)) => {
                if !format::is_freshness(s) {
                    self.error(
                        span,
                        format!("unknown value `{}` for `{}`", shown(s), field.name),
                        format!(
                            "use one of {}, or bounded:<ms> such as bounded:500",
                            format::FRESHNESS_WORDS.join(", ")
                        ),
                    );
                }
            }
            (Type::Freshness, _) => self.wrong_type(field, value, "a string such as \"eventual\""),
            (Type::List { item, min }, DeValue::Array(items)) => {
                for element in items.iter() {
                    self.value(section, field, element, item);
                }
                if items.len() < *min {
                    self.error(
                        span,
                        format!(
                            "`{}` needs at least {min} item{} in {}",
                            field.name,
                            if *min == 1 { "" } else { "s" },
                            section.header()
                        ),
                        format!("{}; {REFERENCE}", field.doc),
                    );
                }
            }
            (Type::List { .. }, _) => self.wrong_type(field, value, "a list in [ ]"),
            (Type::Pair(item), DeValue::Array(items)) => {
                for element in items.iter() {
                    self.value(section, field, element, item);
                }
                if items.len() != 2 {
                    self.error(
                        span,
                        format!("`{}` names exactly two, not {}", field.name, items.len()),
                        format!("{}; {REFERENCE}", field.doc),
                    );
                }
            }
            (Type::Pair(_), _) => self.wrong_type(field, value, "a list of two"),
        }
    }
}

/// Bounds in words: "above 0 and below 100", "0 or more".
fn bounds(min: (f64, bool), max: Option<(f64, bool)>) -> String {
    let low = if min.1 {
        format!("above {}", min.0)
    } else {
        format!("{} or more", min.0)
    };
    match max {
        None => low,
        Some((m, true)) => format!("{low} and below {m}"),
        Some((m, false)) => format!("{low} and at most {m}"),
    }
}
