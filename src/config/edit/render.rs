//! Turning a command-line VALUE into YAML text.

use serde_yaml::Value;

/// A string as a YAML scalar: plain when that reads back as the same string, else double-quoted.
pub fn yaml_string(s: &str) -> String {
    if reads_back_as(s, &Value::String(s.to_string()))
        && !s.is_empty()
        && s.trim() == s
        && !s.contains('\n')
    {
        s.to_string()
    } else {
        // A JSON string is a valid YAML double-quoted scalar.
        serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
    }
}

/// Does `k: TEXT` parse to `{k: want}`?
fn reads_back_as(text: &str, want: &Value) -> bool {
    match serde_yaml::from_str::<Value>(&format!("k: {text}")) {
        Ok(Value::Mapping(m)) => m.len() == 1 && m.get("k") == Some(want),
        _ => false,
    }
}

/// The YAML text and value for VALUE as typed on the command line. YAML scalars keep their type
/// (`true`, `3`, `null`); a flow list or mapping (`[a, b]`, `{k: v}`) is taken as such; anything
/// else is a string, quoted when it would not read back as itself.
pub fn render_input(input: &str) -> Result<(String, Value), String> {
    let t = input.trim();
    if input.contains('\n') {
        let s = input.to_string();
        return Ok((yaml_string(&s), Value::String(s)));
    }
    if t.is_empty() {
        return Ok(("''".into(), Value::String(String::new())));
    }
    if let Ok(v) = serde_yaml::from_str::<Value>(t) {
        // A comment would silently cut the value short: `x # y` is meant as that string.
        let commented = t.starts_with('#') || t.contains(" #") || t.contains("\t#");
        let quoted = t.starts_with('\'') || t.starts_with('"');
        let keep_as_typed = match &v {
            Value::Null => matches!(t, "null" | "Null" | "NULL" | "~"),
            Value::Bool(_) | Value::Number(_) => !commented,
            Value::String(s) => s == t || quoted,
            Value::Sequence(_) | Value::Mapping(_) => t.starts_with('[') || t.starts_with('{'),
            Value::Tagged(_) => false,
        };
        if keep_as_typed && reads_back_as(t, &v) && t == input {
            return Ok((t.to_string(), v));
        }
        if matches!(v, Value::Sequence(_) | Value::Mapping(_))
            && (t.starts_with('[') || t.starts_with('{'))
        {
            return Err(format!("`{input}` is not a one-line YAML flow value"));
        }
    }
    let s = input.to_string();
    Ok((yaml_string(&s), Value::String(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_types_and_quotes_when_needed() {
        assert_eq!(render_input("true").unwrap().0, "true");
        assert_eq!(render_input("3").unwrap(), ("3".into(), Value::from(3)));
        assert_eq!(render_input("v1.33.5+k3s1").unwrap().0, "v1.33.5+k3s1");
        assert_eq!(
            render_input("'3'").unwrap(),
            ("'3'".into(), Value::from("3"))
        );
        assert_eq!(
            render_input("a: b").unwrap(),
            ("\"a: b\"".into(), Value::from("a: b"))
        );
        assert_eq!(render_input("x # y").unwrap().0, "\"x # y\"");
        assert_eq!(render_input("${secret:a:b}").unwrap().0, "${secret:a:b}");
        assert_eq!(render_input(" lead").unwrap().0, "\" lead\"");
        assert_eq!(render_input("*alias").unwrap().0, "\"*alias\"");
        assert_eq!(render_input("[openbao, zot]").unwrap().0, "[openbao, zot]");
        assert_eq!(render_input("").unwrap().0, "''");
        assert_eq!(render_input("#x").unwrap().0, "\"#x\"");
        assert_eq!(render_input("3 # x").unwrap().0, "\"3 # x\"");
        assert_eq!(render_input("~").unwrap(), ("~".into(), Value::Null));
        assert!(render_input("[a").unwrap().1.is_string());
        assert_eq!(yaml_string("192.168.10.0/24"), "192.168.10.0/24");
        assert_eq!(yaml_string("true"), "\"true\"");
    }
}
