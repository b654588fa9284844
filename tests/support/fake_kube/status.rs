//! `Status` bodies exactly as kube-apiserver serializes them (field order kind, apiVersion,
//! metadata, status, message, reason, details, code; omitempty fields left out), and the
//! plain-text 404 a path no handler serves gets (api-behaviour.md A.0, A.1).

use serde::Serialize;
use serde_json::{json, Value};

/// What a handler answers: a status code and a body.
pub(crate) struct Reply {
    pub code: u16,
    pub body: Body,
}

pub(crate) enum Body {
    Json(Value),
    /// Serialized already (Status bodies keep the server's field order).
    Raw(String),
    Text(String),
}

#[derive(Serialize, Default)]
pub(crate) struct Details {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<Cause>,
    #[serde(rename = "retryAfterSeconds", skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
}

#[derive(Serialize, Default, Clone)]
pub(crate) struct Cause {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub field: String,
}

#[derive(Serialize)]
struct StatusBody<'a> {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    metadata: Value,
    status: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Details>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<u16>,
}

/// A Failure Status with HTTP code = `code`.
pub(crate) fn failure(code: u16, reason: &str, message: &str, details: Option<Details>) -> Reply {
    let body = StatusBody {
        kind: "Status",
        api_version: "v1",
        metadata: json!({}),
        status: "Failure",
        message,
        reason,
        details,
        code: Some(code),
    };
    Reply {
        code,
        body: Body::Raw(serde_json::to_string(&body).expect("status")),
    }
}

/// A Success Status (eviction, binding: code 201 in the body; DELETE: no code, details).
pub(crate) fn success(http: u16, code_in_body: Option<u16>, details: Option<Details>) -> Reply {
    let body = StatusBody {
        kind: "Status",
        api_version: "v1",
        metadata: json!({}),
        status: "Success",
        message: "",
        reason: "",
        details,
        code: code_in_body,
    };
    Reply {
        code: http,
        body: Body::Raw(serde_json::to_string(&body).expect("status")),
    }
}

/// `404 page not found` as text/plain: no handler serves the path.
pub(crate) fn page_not_found() -> Reply {
    Reply {
        code: 404,
        body: Body::Text("404 page not found\n".into()),
    }
}

/// `GR` as in messages: `pods`, `deployments.apps`, `helmcharts.helm.cattle.io`.
pub(crate) fn group_resource(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

fn some_group(group: &str) -> Option<String> {
    (!group.is_empty()).then(|| group.to_string())
}

/// 404 NotFound: `pods "x" not found`, details {name, group, kind: <plural>}.
pub(crate) fn not_found(group: &str, plural: &str, name: &str) -> Reply {
    failure(
        404,
        "NotFound",
        &format!("{} \"{name}\" not found", group_resource(group, plural)),
        Some(Details {
            name: Some(name.into()),
            group: some_group(group),
            kind: Some(plural.into()),
            ..Default::default()
        }),
    )
}

/// 409 AlreadyExists.
pub(crate) fn already_exists(group: &str, plural: &str, name: &str) -> Reply {
    failure(
        409,
        "AlreadyExists",
        &format!(
            "{} \"{name}\" already exists",
            group_resource(group, plural)
        ),
        Some(Details {
            name: Some(name.into()),
            group: some_group(group),
            kind: Some(plural.into()),
            ..Default::default()
        }),
    )
}

/// 422 Invalid: `Kind[.group] "name" is invalid: ...`, details.kind is the Kind.
pub(crate) fn invalid(group: &str, kind: &str, name: &str, causes: Vec<Cause>) -> Reply {
    let gk = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let texts: Vec<String> = causes
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect();
    let joined = if texts.len() == 1 {
        texts[0].clone()
    } else {
        format!("[{}]", texts.join(", "))
    };
    failure(
        422,
        "Invalid",
        &format!("{gk} \"{name}\" is invalid: {joined}"),
        Some(Details {
            name: Some(name.into()),
            group: some_group(group),
            kind: Some(kind.into()),
            causes,
            ..Default::default()
        }),
    )
}

pub(crate) fn bad_request(message: &str) -> Reply {
    failure(400, "BadRequest", message, None)
}

pub(crate) fn json(code: u16, v: Value) -> Reply {
    Reply {
        code,
        body: Body::Json(v),
    }
}
