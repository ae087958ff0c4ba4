//! Strict JSON-schema normalisation.
//!
//! With `strict: true` the upstream accepts only schemas in which every object lists
//! all its properties in `required` and sets `additionalProperties: false`. Clients
//! write ordinary schemas with optional properties, so an optional property is made
//! required but nullable: the model answers `null` where it would have left the
//! property out, which keeps the meaning.

use serde_json::{Map, Value};

/// Rewrites `schema` in place into the strict form (see the module docs), recursing
/// through `properties`, `items`, `prefixItems`, `anyOf`/`oneOf`/`allOf` and
/// `$defs`/`definitions`. Recursion depth is bounded by the JSON parser's nesting
/// limit.
pub(crate) fn make_strict(schema: &mut Value) {
    let Value::Object(schema) = schema else {
        return;
    };

    for key in ["anyOf", "oneOf", "allOf", "prefixItems"] {
        if let Some(Value::Array(branches)) = schema.get_mut(key) {
            branches.iter_mut().for_each(make_strict);
        }
    }
    for key in ["$defs", "definitions"] {
        if let Some(Value::Object(defs)) = schema.get_mut(key) {
            defs.values_mut().for_each(make_strict);
        }
    }
    match schema.get_mut("items") {
        Some(Value::Array(items)) => items.iter_mut().for_each(make_strict),
        Some(items) => make_strict(items),
        None => {}
    }

    let has_properties = matches!(schema.get("properties"), Some(Value::Object(_)));
    if !has_properties && !declares_type(schema, "object") {
        return;
    }
    let required = schema_required(schema);
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        let mut all = Vec::with_capacity(properties.len());
        for (name, property) in properties.iter_mut() {
            make_strict(property);
            if !required.iter().any(|r| r == name) {
                make_nullable(property);
            }
            all.push(Value::String(name.clone()));
        }
        schema.insert("required".to_owned(), Value::Array(all));
    }
    schema.insert("additionalProperties".to_owned(), Value::Bool(false));
}

/// The names in the schema's `required` list.
fn schema_required(schema: &Map<String, Value>) -> Vec<String> {
    match schema.get("required") {
        Some(Value::Array(required)) => required
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether `type` is `name` or a list containing it.
fn declares_type(schema: &Map<String, Value>, name: &str) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == name,
        Some(Value::Array(types)) => types.iter().any(|t| t == name),
        _ => false,
    }
}

/// Lets `schema` also accept `null`.
fn make_nullable(schema: &mut Value) {
    let Value::Object(map) = schema else {
        // `true` already accepts null; `false` stays what the client wrote.
        return;
    };
    if declares_type(map, "null") {
        return;
    }
    let simple_type = !map.contains_key("const")
        && matches!(map.get("type"), Some(Value::String(_) | Value::Array(_)));
    if simple_type {
        match map.get_mut("type") {
            Some(Value::String(t)) => {
                let t = std::mem::take(t);
                map.insert(
                    "type".to_owned(),
                    Value::Array(vec![Value::String(t), Value::from("null")]),
                );
            }
            Some(Value::Array(types)) => types.push(Value::from("null")),
            _ => {}
        }
        if let Some(Value::Array(options)) = map.get_mut("enum")
            && !options.iter().any(Value::is_null)
        {
            options.push(Value::Null);
        }
        return;
    }
    if let Some(Value::Array(branches)) = map.get_mut("anyOf") {
        if !branches.iter().any(is_null_schema) {
            branches.push(null_schema());
        }
        return;
    }
    let inner = std::mem::take(map);
    let mut wrapper = Map::new();
    wrapper.insert(
        "anyOf".to_owned(),
        Value::Array(vec![Value::Object(inner), null_schema()]),
    );
    *map = wrapper;
}

fn null_schema() -> Value {
    let mut schema = Map::new();
    schema.insert("type".to_owned(), Value::from("null"));
    Value::Object(schema)
}

fn is_null_schema(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strict(mut schema: Value) -> Value {
        make_strict(&mut schema);
        schema
    }

    #[test]
    fn optional_properties_become_required_and_nullable() {
        let schema = json!({
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "age": {"type": "integer"},
                "tags": {"type": ["array"], "items": {"type": "string"}}
            },
            "required": ["name"]
        });
        assert_eq!(
            strict(schema),
            json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "age": {"type": ["integer", "null"]},
                    "tags": {"type": ["array", "null"], "items": {"type": "string"}}
                },
                "required": ["name", "age", "tags"],
                "additionalProperties": false
            })
        );
    }

    #[test]
    fn nested_objects_and_arrays_of_objects() {
        let schema = json!({
            "type": "object",
            "properties": {
                "address": {
                    "type": "object",
                    "properties": {"street": {"type": "string"}, "zip": {"type": "string"}},
                    "required": ["street"],
                    "additionalProperties": true
                },
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"sku": {"type": "string"}, "qty": {"type": "number"}},
                        "required": ["sku", "qty"]
                    }
                }
            },
            "required": ["address", "items"]
        });
        assert_eq!(
            strict(schema),
            json!({
                "type": "object",
                "properties": {
                    "address": {
                        "type": "object",
                        "properties": {"street": {"type": "string"}, "zip": {"type": ["string", "null"]}},
                        "required": ["street", "zip"],
                        "additionalProperties": false
                    },
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"sku": {"type": "string"}, "qty": {"type": "number"}},
                            "required": ["sku", "qty"],
                            "additionalProperties": false
                        }
                    }
                },
                "required": ["address", "items"],
                "additionalProperties": false
            })
        );
    }

    #[test]
    fn optional_nested_object_becomes_nullable_after_being_made_strict() {
        let schema = json!({
            "type": "object",
            "properties": {"meta": {"type": "object", "properties": {"k": {"type": "string"}}}}
        });
        assert_eq!(
            strict(schema),
            json!({
                "type": "object",
                "properties": {"meta": {
                    "type": ["object", "null"],
                    "properties": {"k": {"type": ["string", "null"]}},
                    "required": ["k"],
                    "additionalProperties": false
                }},
                "required": ["meta"],
                "additionalProperties": false
            })
        );
    }

    #[test]
    fn optional_without_simple_type_is_wrapped_in_any_of() {
        let schema = json!({
            "type": "object",
            "properties": {
                "ref": {"$ref": "#/$defs/Point"},
                "choice": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                "fixed": {"type": "string", "const": "x"},
                "color": {"type": "string", "enum": ["red", "blue"]}
            },
            "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}}
        });
        assert_eq!(
            strict(schema),
            json!({
                "type": "object",
                "properties": {
                    "ref": {"anyOf": [{"$ref": "#/$defs/Point"}, {"type": "null"}]},
                    "choice": {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]},
                    "fixed": {"anyOf": [{"type": "string", "const": "x"}, {"type": "null"}]},
                    "color": {"type": ["string", "null"], "enum": ["red", "blue", null]}
                },
                "$defs": {"Point": {
                    "type": "object",
                    "properties": {"x": {"type": "number"}},
                    "required": ["x"],
                    "additionalProperties": false
                }},
                "required": ["ref", "choice", "fixed", "color"],
                "additionalProperties": false
            })
        );
    }

    #[test]
    fn recurses_through_combinators_and_definitions() {
        let schema = json!({
            "oneOf": [{"type": "object", "properties": {"a": {"type": "string"}}}],
            "allOf": [{"properties": {"b": {"type": "string"}}}],
            "definitions": {"D": {"type": "object"}}
        });
        assert_eq!(
            strict(schema),
            json!({
                "oneOf": [{"type": "object", "properties": {"a": {"type": ["string", "null"]}}, "required": ["a"], "additionalProperties": false}],
                "allOf": [{"properties": {"b": {"type": ["string", "null"]}}, "required": ["b"], "additionalProperties": false}],
                "definitions": {"D": {"type": "object", "additionalProperties": false}}
            })
        );
    }

    #[test]
    fn deepest_schema_the_parser_accepts_is_handled() {
        let mut text = String::new();
        for _ in 0..40 {
            text.push_str(r#"{"type":"object","properties":{"p":"#);
        }
        text.push_str(r#"{"type":"string"}"#);
        text.push_str(&"}}".repeat(40));
        let mut schema: Value = serde_json::from_str(&text).expect("within the nesting limit");
        make_strict(&mut schema);
        assert_eq!(schema["required"], json!(["p"]));
        assert_eq!(schema["properties"]["p"]["type"], json!(["object", "null"]));
    }

    #[test]
    fn already_nullable_and_non_object_schemas_are_left_alone() {
        let schema = json!({
            "type": "object",
            "properties": {"n": {"type": ["string", "null"]}, "b": true},
        });
        assert_eq!(
            strict(schema),
            json!({
                "type": "object",
                "properties": {"n": {"type": ["string", "null"]}, "b": true},
                "required": ["n", "b"],
                "additionalProperties": false
            })
        );
        assert_eq!(strict(json!({"type": "string"})), json!({"type": "string"}));
        assert_eq!(strict(json!(42)), json!(42));
    }
}
