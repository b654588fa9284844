//! The validation rules the samples exercise (04-error-422-*, 07-daemonset-dryrun-invalid-422):
//! object names are RFC 1123 subdomains, container names RFC 1123 labels, container images
//! required, a Pod's restartPolicy one of three. Messages are the apiserver's, word for word.

use super::status::Cause;
use serde_json::Value;

const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_label)
}

fn invalid(field: &str, value: &str, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid".into(),
        message: format!("Invalid value: \"{value}\": {detail}"),
        field: field.into(),
    }
}

fn required(field: &str) -> Cause {
    Cause {
        reason: "FieldValueRequired".into(),
        message: "Required value".into(),
        field: field.into(),
    }
}

/// The field errors of `obj` (empty: valid).
pub(crate) fn validate(kind: &str, obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        causes.push(Cause {
            reason: "FieldValueRequired".into(),
            message: "Required value: name or generateName is required".into(),
            field: "metadata.name".into(),
        });
    } else if !is_subdomain(name) {
        causes.push(invalid("metadata.name", name, SUBDOMAIN));
    }
    let pod_spec = match kind {
        "Pod" => Some(("spec", &obj["spec"])),
        "Deployment" | "DaemonSet" | "StatefulSet" | "ReplicaSet" | "Job" => {
            Some(("spec.template.spec", &obj["spec"]["template"]["spec"]))
        }
        _ => None,
    };
    if let Some((prefix, spec)) = pod_spec {
        for (i, c) in spec["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let cname = c["name"].as_str().unwrap_or_default();
            let field = format!("{prefix}.containers[{i}]");
            if !is_label(cname) {
                causes.push(invalid(&format!("{field}.name"), cname, LABEL));
            }
            if c["image"].as_str().unwrap_or_default().is_empty() {
                causes.push(required(&format!("{field}.image")));
            }
        }
        if kind == "Pod" {
            if let Some(p) = spec["restartPolicy"].as_str() {
                if !matches!(p, "Always" | "OnFailure" | "Never") {
                    causes.push(Cause {
                        reason: "FieldValueNotSupported".into(),
                        message: format!("Unsupported value: \"{p}\": supported values: \"Always\", \"OnFailure\", \"Never\""),
                        field: format!("{prefix}.restartPolicy"),
                    });
                }
            }
        }
    }
    causes
}
