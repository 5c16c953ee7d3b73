//! The spec format as a JSON Schema (draft-07, which TOML editors such as Taplo and
//! Even Better TOML read): completion, hover text and validation in the editor. It comes
//! from [`format::SECTIONS`], the description the validator walks, so the two agree.
//! A schema cannot say that a name refers to a defined entry, nor that depends_on has no
//! cycle: `dsys design` checks those.

use super::format::{self, Absent, Section, Type};
use serde_json::{Map, Value, json};

/// Where the published schema lives in the repository.
pub const PUBLISHED_AT: &str = "specs/spec.schema.json";

/// The JSON Schema of the spec format.
pub fn schema() -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for section in format::SECTIONS {
        properties.insert(section.name.into(), section_schema(section));
        if section.min > 0 {
            required.push(section.name);
        }
    }
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "dsys requirement spec",
        "description": "What a system must do, for `dsys design`. Fields and defaults: specs/README.md.",
        "type": "object",
        "additionalProperties": false,
        "required": required,
        "properties": properties,
    })
}

fn section_schema(section: &Section) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for field in section.fields {
        let mut value = type_schema(&field.ty);
        if let Value::Object(object) = &mut value {
            let absent = match field.absent {
                Absent::Required => String::new(),
                Absent::Value(v) => format!(" (default {v})"),
                Absent::Decided(how) => format!(" (if absent: {how})"),
            };
            object.insert(
                "description".into(),
                Value::String(format!("{}{absent}", field.doc)),
            );
            if let Absent::Value(v) = field.absent
                && let Some(default) = toml_literal(v)
            {
                object.insert("default".into(), default);
            }
        }
        properties.insert(field.name.into(), value);
        if field.absent == Absent::Required {
            required.push(field.name);
        }
    }
    let table = json!({
        "type": "object",
        "description": section.doc,
        "additionalProperties": false,
        "required": required,
        "properties": properties,
    });
    if section.many {
        let mut list = json!({
            "type": "array",
            "description": section.doc,
            "items": table,
        });
        if section.min > 0
            && let Value::Object(object) = &mut list
        {
            object.insert("minItems".into(), json!(section.min));
        }
        list
    } else {
        table
    }
}

fn type_schema(ty: &Type) -> Value {
    match ty {
        Type::Text | Type::Name | Type::Ref(_) => json!({"type": "string"}),
        Type::Bool => json!({"type": "boolean"}),
        Type::Number { min, max } => {
            let mut object = Map::new();
            object.insert("type".into(), json!("number"));
            let low = if min.1 { "exclusiveMinimum" } else { "minimum" };
            object.insert(low.into(), json!(min.0));
            if let Some((m, open)) = max {
                let high = if *open { "exclusiveMaximum" } else { "maximum" };
                object.insert(high.into(), json!(m));
            }
            Value::Object(object)
        }
        Type::Integer { min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
        Type::OneOf(choices) => json!({"type": "string", "enum": choices}),
        Type::Freshness => json!({
            "type": "string",
            "pattern": format::FRESHNESS_PATTERN,
            "examples": ["linearizable", "causal", "session", "eventual", "bounded:500"],
        }),
        Type::List { item, min } => {
            json!({"type": "array", "items": type_schema(item), "minItems": min})
        }
        Type::Pair(item) => {
            json!({"type": "array", "items": type_schema(item), "minItems": 2, "maxItems": 2})
        }
    }
}

/// A default written as a TOML value, as JSON.
fn toml_literal(literal: &str) -> Option<Value> {
    let table: toml::Table = toml::from_str(&format!("v = {literal}")).ok()?;
    serde_json::to_value(table.get("v")?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_described_and_defaults_are_typed() {
        let schema = schema();
        assert_eq!(schema["required"], json!(["system", "region"]));
        let region = &schema["properties"]["region"];
        assert_eq!(region["type"], "array");
        assert_eq!(region["minItems"], 1);
        let service = &schema["properties"]["service"]["items"]["properties"];
        assert_eq!(service["instances"]["default"], json!(2));
        assert_eq!(
            service["instance_availability"]["exclusiveMaximum"],
            json!(100.0)
        );
        let data = &schema["properties"]["data"]["items"]["properties"];
        assert_eq!(data["access"]["default"], json!(["point"]));
        assert!(
            data["kind"]["enum"]
                .as_array()
                .is_some_and(|k| k.contains(&json!("counter")))
        );
        for section in format::SECTIONS {
            for field in section.fields {
                let at = if section.many {
                    &schema["properties"][section.name]["items"]["properties"][field.name]
                } else {
                    &schema["properties"][section.name]["properties"][field.name]
                };
                assert!(
                    at["description"].is_string(),
                    "{}.{}",
                    section.name,
                    field.name
                );
                if let Absent::Value(v) = field.absent {
                    assert!(
                        !at["default"].is_null(),
                        "{}.{} = {v}",
                        section.name,
                        field.name
                    );
                }
            }
        }
    }
}
