//! Which resources the fake serves (built-ins, plus custom resources of Established CRDs) and
//! how a URL path maps to them.

use serde_json::Value;

/// One served resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceType {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub kind: String,
    pub namespaced: bool,
    /// Custom resources keep kind/apiVersion on list items; built-in typed lists drop them.
    pub custom: bool,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
    /// Kinds whose objects carry metadata.generation (bumped on spec changes).
    pub fn has_generation(&self) -> bool {
        self.custom
            || matches!(
                self.kind.as_str(),
                "Deployment"
                    | "DaemonSet"
                    | "ReplicaSet"
                    | "StatefulSet"
                    | "Job"
                    | "PodDisruptionBudget"
                    | "CustomResourceDefinition"
            )
    }
}

/// (group, version, plural, kind, namespaced)
const BUILTIN: &[(&str, &str, &str, &str, bool)] = &[
    ("", "v1", "nodes", "Node", false),
    ("", "v1", "namespaces", "Namespace", false),
    ("", "v1", "pods", "Pod", true),
    ("", "v1", "configmaps", "ConfigMap", true),
    ("", "v1", "secrets", "Secret", true),
    ("", "v1", "services", "Service", true),
    ("", "v1", "serviceaccounts", "ServiceAccount", true),
    ("", "v1", "endpoints", "Endpoints", true),
    ("", "v1", "events", "Event", true),
    ("apps", "v1", "deployments", "Deployment", true),
    ("apps", "v1", "daemonsets", "DaemonSet", true),
    ("apps", "v1", "replicasets", "ReplicaSet", true),
    ("apps", "v1", "statefulsets", "StatefulSet", true),
    ("batch", "v1", "jobs", "Job", true),
    (
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
    ),
    ("coordination.k8s.io", "v1", "leases", "Lease", true),
    ("networking.k8s.io", "v1", "ingresses", "Ingress", true),
    (
        "networking.k8s.io",
        "v1",
        "ingressclasses",
        "IngressClass",
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
    ),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", true),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        true,
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
    ),
];

pub(crate) fn builtin(group: &str, version: &str, plural: &str) -> Option<ResourceType> {
    BUILTIN
        .iter()
        .find(|(g, v, p, _, _)| *g == group && *v == version && *p == plural)
        .map(|(g, v, p, k, n)| ResourceType {
            group: g.to_string(),
            version: v.to_string(),
            plural: p.to_string(),
            kind: k.to_string(),
            namespaced: *n,
            custom: false,
        })
}

pub(crate) fn builtin_in(group: &str, version: &str) -> Vec<ResourceType> {
    BUILTIN
        .iter()
        .filter(|(g, v, _, _, _)| *g == group && *v == version)
        .filter_map(|(g, v, p, _, _)| builtin(g, v, p))
        .collect()
}

/// The resource types a CRD object defines (one per served version).
pub(crate) fn from_crd(crd: &Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let plural = spec["names"]["plural"].as_str().unwrap_or_default();
    let kind = spec["names"]["kind"].as_str().unwrap_or_default();
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    spec["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["served"].as_bool().unwrap_or(true))
        .filter_map(|v| v["name"].as_str())
        .map(|version| ResourceType {
            group: group.into(),
            version: version.into(),
            plural: plural.into(),
            kind: kind.into(),
            namespaced,
            custom: true,
        })
        .collect()
}

/// A request path taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Version,
    Readyz,
    Livez,
    /// `/api/v1` or `/apis/<group>/<version>`.
    Discovery {
        group: String,
        version: String,
    },
    /// A resource URL: collection (`name` None), object, or subresource.
    Resource {
        group: String,
        version: String,
        plural: String,
        namespace: Option<String>,
        name: Option<String>,
        subresource: Option<String>,
    },
    Unknown,
}

pub(crate) fn route(path: &str) -> Route {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["version"] => return Route::Version,
        ["readyz"] => return Route::Readyz,
        ["livez"] => return Route::Livez,
        _ => {}
    }
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Route::Unknown,
    };
    let res =
        |plural: &str, ns: Option<&str>, name: Option<&str>, sub: Option<&str>| Route::Resource {
            group: group.into(),
            version: version.into(),
            plural: plural.into(),
            namespace: ns.map(String::from),
            name: name.map(String::from),
            subresource: sub.map(String::from),
        };
    match rest {
        [] => Route::Discovery {
            group: group.into(),
            version: version.into(),
        },
        ["namespaces", ns, plural] => res(plural, Some(ns), None, None),
        ["namespaces", ns, plural, name] => res(plural, Some(ns), Some(name), None),
        ["namespaces", ns, plural, name, sub] => res(plural, Some(ns), Some(name), Some(sub)),
        [plural] => res(plural, None, None, None),
        [plural, name] => res(plural, None, Some(name), None),
        [plural, name, sub] => res(plural, None, Some(name), Some(sub)),
        _ => Route::Unknown,
    }
}
