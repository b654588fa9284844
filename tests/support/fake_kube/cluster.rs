//! The fake's in-memory cluster: objects as generic JSON keyed by (group, plural, namespace,
//! name), one resourceVersion counter bumped on every real change, and the handlers for
//! create / get / list / patch / put / delete. Evictions, controllers and health live in
//! their own files; this one routes a [`Call`] to them.

use super::controllers;
use super::eviction;
use super::patch;
use super::resources::{self, ResourceType, Route};
use super::selectors;
use super::ssa;
use super::status::{self, Details, Reply};
use super::validate;
use super::{AuthMode, Options};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

/// (group, plural, namespace or "", name)
pub(crate) type Key = (String, String, String, String);

/// One HTTP request as the handlers see it.
pub(crate) struct Call {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub content_type: String,
    pub user_agent: String,
    pub bearer: Option<String>,
    pub impersonate: Option<String>,
    /// The connection presented a client certificate signed by the fake's CA.
    pub client_cert: bool,
    pub body: Vec<u8>,
}

/// One request as recorded for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    /// Path without the query.
    pub path: String,
    pub query: String,
    pub status: u16,
}

pub(crate) struct Cluster {
    pub objects: BTreeMap<Key, Value>,
    pub rv: u64,
    pub opts: Options,
    pub token: String,
    pub auth: AuthMode,
    pub held_unavailable: HashSet<(String, String)>,
    /// Workloads whose name starts with one of these never become available either.
    pub held_unavailable_prefixes: Vec<String>,
    pub failing_jobs: HashSet<(String, String)>,
    /// What the pod of a failing Job `(ns, name)` logs (default: a failed helm install).
    pub job_logs: HashMap<(String, String), String>,
    /// The log of each pod that has one (`GET pods/NAME/log`).
    pub pod_logs: HashMap<Key, String>,
    /// API group -> (webhook name, remaining refusals).
    pub webhook_down: HashMap<String, (String, u32)>,
    pub readyz_failing: Vec<String>,
    pub requests: Vec<Recorded>,
    /// When each pod got its deletionTimestamp (for the kubelet stand-in).
    pub terminating_since: HashMap<Key, Instant>,
    /// When each CRD was created (it becomes Established `crd_establish_after` later).
    pub crd_created: HashMap<String, Instant>,
}

pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

pub(crate) fn rfc3339_in(secs: u64) -> String {
    humantime::format_rfc3339_seconds(SystemTime::now() + Duration::from_secs(secs)).to_string()
}

pub(crate) fn new_uid() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

pub(crate) fn key(rt: &ResourceType, ns: Option<&str>, name: &str) -> Key {
    (
        rt.group.clone(),
        rt.plural.clone(),
        if rt.namespaced {
            ns.unwrap_or_default().to_string()
        } else {
            String::new()
        },
        name.to_string(),
    )
}

impl Cluster {
    pub fn new(opts: Options, token: String) -> Cluster {
        Cluster {
            objects: BTreeMap::new(),
            rv: 1000,
            opts,
            token,
            auth: AuthMode::Token,
            held_unavailable: HashSet::new(),
            held_unavailable_prefixes: Vec::new(),
            failing_jobs: HashSet::new(),
            job_logs: HashMap::new(),
            pod_logs: HashMap::new(),
            webhook_down: HashMap::new(),
            readyz_failing: Vec::new(),
            requests: Vec::new(),
            terminating_since: HashMap::new(),
            crd_created: HashMap::new(),
        }
    }

    /// Stores `obj` under `k` with a new resourceVersion.
    pub fn store(&mut self, k: Key, mut obj: Value) -> Value {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.objects.insert(k, obj.clone());
        obj
    }

    pub fn resolve(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        if let Some(rt) = resources::builtin(group, version, plural) {
            return Some(rt);
        }
        self.served_custom()
            .into_iter()
            .find(|rt| rt.group == group && rt.version == version && rt.plural == plural)
    }

    /// The resource serving `kind` in group/version (built-in or an Established CRD's).
    pub fn resolve_kind(&self, group: &str, version: &str, kind: &str) -> Option<ResourceType> {
        resources::builtin_in(group, version)
            .into_iter()
            .chain(self.served_custom())
            .find(|rt| rt.group == group && rt.version == version && rt.kind == kind)
    }

    /// Custom resource types of Established CRDs.
    pub fn served_custom(&self) -> Vec<ResourceType> {
        self.objects
            .iter()
            .filter(|((g, p, _, _), _)| {
                g == "apiextensions.k8s.io" && p == "customresourcedefinitions"
            })
            .filter(|(_, crd)| controllers::crd_established(crd))
            .flat_map(|(_, crd)| resources::from_crd(crd))
            .collect()
    }

    pub fn handle(&mut self, call: &Call) -> Reply {
        controllers::tick(self);
        if let Some(reply) = self.authenticate(call) {
            return reply;
        }
        let route = resources::route(&call.path);
        if let Some(reply) = self.authorize(call, &route) {
            return reply;
        }
        match route {
            Route::Version => status::json(200, controllers::version()),
            Route::Readyz => controllers::health(self, "readyz", call),
            Route::Livez => controllers::health(self, "livez", call),
            Route::Discovery { group, version } => self.discovery(&group, &version),
            Route::Resource {
                group,
                version,
                plural,
                namespace,
                name,
                subresource,
            } => {
                let Some(rt) = self.resolve(&group, &version, &plural) else {
                    return status::page_not_found();
                };
                if !rt.namespaced && namespace.is_some() {
                    return status::page_not_found();
                }
                if let Some(reply) = self.webhook_refusal(call, &rt) {
                    return reply;
                }
                let ns = namespace.as_deref();
                match (
                    call.method.as_str(),
                    name.as_deref(),
                    subresource.as_deref(),
                ) {
                    ("GET", None, None) => self.list(&rt, ns, call),
                    ("POST", None, None) => self.create(&rt, ns, call),
                    ("GET", Some(n), None) => self.get(&rt, ns, n),
                    ("PATCH", Some(n), None) => self.patch(&rt, ns, n, call, false),
                    ("PUT", Some(n), None) => self.put(&rt, ns, n, call),
                    ("DELETE", Some(n), None) => self.delete(&rt, ns, n, call),
                    ("GET", Some(n), Some("status")) => self.get(&rt, ns, n),
                    ("PATCH", Some(n), Some("status")) => self.patch(&rt, ns, n, call, true),
                    ("POST", Some(n), Some("eviction")) if rt.plural == "pods" => {
                        eviction::evict(self, ns.unwrap_or_default(), n, call)
                    }
                    ("GET", Some(n), Some("log")) if rt.plural == "pods" => {
                        self.pod_log(ns.unwrap_or_default(), n, call)
                    }
                    ("POST", Some(n), Some("binding")) if rt.plural == "pods" => {
                        self.bind(ns.unwrap_or_default(), n, call)
                    }
                    (_, _, None) => status::failure(
                        405,
                        "MethodNotAllowed",
                        &format!(
                            "{} is not supported on resources of kind \"{}\"",
                            call.method.to_lowercase(),
                            status::group_resource(&rt.group, &rt.plural)
                        ),
                        None,
                    ),
                    _ => status::page_not_found(),
                }
            }
            Route::Unknown => status::page_not_found(),
        }
    }

    fn authenticate(&self, call: &Call) -> Option<Reply> {
        let ok = matches!(self.auth, AuthMode::Token | AuthMode::Forbid { .. })
            && (call.bearer.as_deref() == Some(self.token.as_str()) || call.client_cert);
        (!ok).then(|| status::failure(401, "Unauthorized", "Unauthorized", None))
    }

    fn authorize(&self, call: &Call, route: &Route) -> Option<Reply> {
        let user = match (&self.auth, &call.impersonate) {
            (_, Some(u)) => u.clone(),
            (AuthMode::Forbid { user }, None) => user.clone(),
            _ => return None,
        };
        let Route::Resource {
            group,
            plural,
            namespace,
            name,
            ..
        } = route
        else {
            return Some(status::failure(
                403,
                "Forbidden",
                &format!(
                    "forbidden: User \"{user}\" cannot get path \"{}\"",
                    call.path
                ),
                Some(Details::default()),
            ));
        };
        let verb = match (call.method.as_str(), name) {
            ("GET", None) => "list",
            ("GET", Some(_)) => "get",
            ("POST", _) => "create",
            ("PATCH", _) => "patch",
            ("PUT", _) => "update",
            ("DELETE", _) => "delete",
            _ => "get",
        };
        let scope = match namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_string(),
        };
        let gr = status::group_resource(group, plural);
        let subject = match name {
            Some(n) => format!("{gr} \"{n}\" is forbidden"),
            None => format!("{gr} is forbidden"),
        };
        Some(status::failure(
            403,
            "Forbidden",
            &format!("{subject}: User \"{user}\" cannot {verb} resource \"{plural}\" in API group \"{group}\" {scope}"),
            Some(Details {
                name: name.clone(),
                group: (!group.is_empty()).then(|| group.clone()),
                kind: Some(plural.clone()),
                ..Default::default()
            }),
        ))
    }

    /// A validating webhook that does not answer (test hook): writes to its group fail the way
    /// the apiserver reports an unreachable webhook.
    fn webhook_refusal(&mut self, call: &Call, rt: &ResourceType) -> Option<Reply> {
        if !matches!(call.method.as_str(), "POST" | "PUT" | "PATCH") {
            return None;
        }
        let (hook, left) = self.webhook_down.get_mut(&rt.group)?;
        if *left == 0 {
            return None;
        }
        *left -= 1;
        let msg = format!(
            "failed calling webhook \"{hook}\": failed to call webhook: Post \"https://{hook}.svc:443/validate?timeout=30s\": dial tcp 10.43.0.10:443: connect: connection refused"
        );
        Some(status::failure(
            500,
            "InternalError",
            &format!("Internal error occurred: {msg}"),
            Some(Details {
                causes: vec![status::Cause {
                    message: msg,
                    ..Default::default()
                }],
                ..Default::default()
            }),
        ))
    }

    fn discovery(&self, group: &str, version: &str) -> Reply {
        let mut types = resources::builtin_in(group, version);
        types.extend(
            self.served_custom()
                .into_iter()
                .filter(|rt| rt.group == group && rt.version == version),
        );
        if types.is_empty() {
            return status::page_not_found();
        }
        let verbs = json!([
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch"
        ]);
        let mut list = Vec::new();
        for rt in &types {
            list.push(json!({
                "name": rt.plural, "singularName": rt.kind.to_lowercase(), "namespaced": rt.namespaced,
                "kind": rt.kind, "verbs": verbs,
            }));
            list.push(json!({
                "name": format!("{}/status", rt.plural), "singularName": "", "namespaced": rt.namespaced,
                "kind": rt.kind, "verbs": ["get", "patch", "update"],
            }));
            if rt.plural == "pods" {
                list.push(json!({
                    "name": "pods/eviction", "singularName": "", "namespaced": true,
                    "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"],
                }));
                list.push(json!({
                    "name": "pods/log", "singularName": "", "namespaced": true,
                    "kind": "Pod", "verbs": ["get"],
                }));
            }
        }
        let gv = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        status::json(
            200,
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list}),
        )
    }

    fn manager(call: &Call) -> String {
        call.query.get("fieldManager").cloned().unwrap_or_else(|| {
            call.user_agent
                .split('/')
                .next()
                .unwrap_or("unknown")
                .to_string()
        })
    }

    fn dry_run(call: &Call) -> bool {
        call.query
            .get("dryRun")
            .map(|v| v == "All")
            .unwrap_or(false)
    }

    fn get(&self, rt: &ResourceType, ns: Option<&str>, name: &str) -> Reply {
        match self.objects.get(&key(rt, ns, name)) {
            Some(obj) => status::json(200, controllers::present(self, rt, obj)),
            None => status::not_found(&rt.group, &rt.plural, name),
        }
    }

    fn list(&self, rt: &ResourceType, ns: Option<&str>, call: &Call) -> Reply {
        let labels = call.query.get("labelSelector");
        let fields = call.query.get("fieldSelector");
        let items: Vec<Value> = self
            .objects
            .iter()
            .filter(|((g, p, n, _), _)| {
                g == &rt.group && p == &rt.plural && ns.map(|ns| ns == n).unwrap_or(true)
            })
            .map(|(_, o)| o)
            .filter(|o| {
                labels
                    .map(|s| selectors::labels_match(o, s))
                    .unwrap_or(true)
            })
            .filter(|o| {
                fields
                    .map(|s| selectors::fields_match(o, s))
                    .unwrap_or(true)
            })
            .map(|o| {
                let mut o = controllers::present(self, rt, o);
                if !rt.custom {
                    if let Some(m) = o.as_object_mut() {
                        m.remove("kind");
                        m.remove("apiVersion");
                    }
                }
                o
            })
            .collect();
        status::json(
            200,
            json!({
                "kind": format!("{}List", rt.kind),
                "apiVersion": rt.api_version(),
                "metadata": {"resourceVersion": self.rv.to_string()},
                "items": items,
            }),
        )
    }

    /// Fills in what the server sets on every new object.
    fn new_object(&self, rt: &ResourceType, ns: Option<&str>, mut obj: Value) -> Value {
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        if rt.namespaced {
            obj["metadata"]["namespace"] = json!(ns.unwrap_or("default"));
        }
        obj["metadata"]["uid"] = json!(new_uid());
        obj["metadata"]["creationTimestamp"] = json!(now_rfc3339());
        if rt.has_generation() {
            obj["metadata"]["generation"] = json!(1);
        }
        controllers::defaults(rt, &mut obj);
        obj
    }

    fn create(&mut self, rt: &ResourceType, ns: Option<&str>, call: &Call) -> Reply {
        let mut obj: Value = match serde_json::from_slice(&call.body) {
            Ok(v) => v,
            Err(e) => return decode_error(rt, &call.body, &e),
        };
        if obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
        {
            if let Some(g) = obj["metadata"]["generateName"].as_str() {
                let suffix: String = (0..5)
                    .map(|_| (b'a' + rand::random::<u8>() % 26) as char)
                    .collect();
                obj["metadata"]["name"] = json!(format!("{g}{suffix}"));
            }
        }
        let causes = validate::validate(&rt.kind, &obj);
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !causes.is_empty() {
            return status::invalid(&rt.group, &rt.kind, &name, causes);
        }
        let k = key(rt, ns, &name);
        if self.objects.contains_key(&k) {
            return status::already_exists(&rt.group, &rt.plural, &name);
        }
        let mut obj = self.new_object(rt, ns, obj);
        ssa::record_update(
            None,
            &mut obj,
            &Self::manager(call),
            &rt.api_version(),
            &now_rfc3339(),
        );
        if Self::dry_run(call) {
            return status::json(201, obj);
        }
        let stored = self.store(k.clone(), obj);
        controllers::after_write(self, rt, &k);
        status::json(201, stored)
    }

    fn patch(
        &mut self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        call: &Call,
        status_only: bool,
    ) -> Reply {
        let ct = call
            .content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim();
        match ct {
            "application/apply-patch+yaml" if !status_only => {
                return self.apply(rt, ns, name, call)
            }
            "application/merge-patch+json" => {}
            "application/strategic-merge-patch+json" if !rt.custom => {}
            _ => {
                return status::failure(
                    415,
                    "UnsupportedMediaType",
                    "415: Unsupported Media Type",
                    Some(Details::default()),
                )
            }
        }
        let k = key(rt, ns, name);
        let Some(current) = self.objects.get(&k).cloned() else {
            return status::not_found(&rt.group, &rt.plural, name);
        };
        let p: Value = match serde_json::from_slice(&call.body) {
            Ok(v) => v,
            Err(e) => return status::bad_request(&format!("error decoding patch: {e}")),
        };
        let mut next = current.clone();
        if status_only {
            let mut st = next.get("status").cloned().unwrap_or(json!({}));
            patch::merge(
                &mut st,
                &p["status"],
                ct.starts_with("application/strategic"),
            );
            next["status"] = st;
        } else {
            patch::merge(&mut next, &p, ct.starts_with("application/strategic"));
            ssa::record_update(
                Some(&current),
                &mut next,
                &Self::manager(call),
                &rt.api_version(),
                &now_rfc3339(),
            );
        }
        self.write_changed(rt, &k, &current, next, Self::dry_run(call), status_only)
    }

    fn put(&mut self, rt: &ResourceType, ns: Option<&str>, name: &str, call: &Call) -> Reply {
        let k = key(rt, ns, name);
        let Some(current) = self.objects.get(&k).cloned() else {
            return status::not_found(&rt.group, &rt.plural, name);
        };
        let mut next: Value = match serde_json::from_slice(&call.body) {
            Ok(v) => v,
            Err(e) => return decode_error(rt, &call.body, &e),
        };
        if let Some(rv) = next["metadata"]["resourceVersion"].as_str() {
            if Some(rv) != current["metadata"]["resourceVersion"].as_str() {
                return status::failure(
                    409,
                    "Conflict",
                    &format!("Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again", status::group_resource(&rt.group, &rt.plural)),
                    Some(Details { name: Some(name.into()), group: (!rt.group.is_empty()).then(|| rt.group.clone()), kind: Some(rt.plural.clone()), ..Default::default() }),
                );
            }
        }
        for f in ["uid", "creationTimestamp", "generation", "managedFields"] {
            next["metadata"][f] = current["metadata"][f].clone();
        }
        next["status"] = current["status"].clone();
        ssa::record_update(
            Some(&current),
            &mut next,
            &Self::manager(call),
            &rt.api_version(),
            &now_rfc3339(),
        );
        self.write_changed(rt, &k, &current, next, Self::dry_run(call), false)
    }

    /// Stores `next` if it differs from `current` (an identical write keeps the
    /// resourceVersion, as etcd3's GuaranteedUpdate does), bumping generation on spec changes.
    fn write_changed(
        &mut self,
        rt: &ResourceType,
        k: &Key,
        current: &Value,
        mut next: Value,
        dry_run: bool,
        status_only: bool,
    ) -> Reply {
        if next == *current {
            return status::json(200, current.clone());
        }
        if rt.has_generation() && !status_only && next.get("spec") != current.get("spec") {
            let g = current["metadata"]["generation"].as_i64().unwrap_or(1);
            next["metadata"]["generation"] = json!(g + 1);
        }
        if dry_run {
            return status::json(200, next);
        }
        let stored = self.store(k.clone(), next);
        controllers::after_write(self, rt, k);
        status::json(200, stored)
    }

    fn apply(&mut self, rt: &ResourceType, ns: Option<&str>, name: &str, call: &Call) -> Reply {
        let Some(manager) = call.query.get("fieldManager").filter(|m| !m.is_empty()) else {
            return status::failure(
                422,
                "Invalid",
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                Some(Details {
                    group: Some("meta.k8s.io".into()),
                    kind: Some("PatchOptions".into()),
                    causes: vec![status::Cause {
                        reason: "FieldValueRequired".into(),
                        message: "Required value: is required for apply patch".into(),
                        field: "fieldManager".into(),
                    }],
                    ..Default::default()
                }),
            );
        };
        let applied: Value = match serde_yaml::from_slice(&call.body) {
            Ok(v) => v,
            Err(e) => return status::bad_request(&format!("error decoding YAML: {e}")),
        };
        let mut applied = applied;
        if applied["metadata"]["name"].is_null() {
            applied["metadata"]["name"] = json!(name);
        }
        let causes = validate::validate(&rt.kind, &applied);
        if !causes.is_empty() {
            return status::invalid(&rt.group, &rt.kind, name, causes);
        }
        let force = call
            .query
            .get("force")
            .map(|f| f == "true")
            .unwrap_or(false);
        let dry = Self::dry_run(call);
        let k = key(rt, ns, name);
        let now = now_rfc3339();
        let existing = self.objects.get(&k).cloned();
        let base = match &existing {
            Some(e) => e.clone(),
            None => {
                let skeleton = json!({"metadata": {"name": name}});
                self.new_object(rt, ns, skeleton)
            }
        };
        let mut next = match ssa::apply(&base, &applied, manager, force, &rt.api_version(), &now) {
            Ok(v) => v,
            Err(conflicts) => {
                return status::failure(
                    409,
                    "Conflict",
                    &ssa::conflict_message(&conflicts),
                    Some(Details {
                        causes: conflicts
                            .iter()
                            .map(|(p, m)| status::Cause {
                                reason: "FieldManagerConflict".into(),
                                message: format!("conflict with {m}"),
                                field: ssa::dotted(p),
                            })
                            .collect(),
                        ..Default::default()
                    }),
                )
            }
        };
        match existing {
            None => {
                controllers::defaults(rt, &mut next);
                if dry {
                    return status::json(201, next);
                }
                let stored = self.store(k.clone(), next);
                controllers::after_write(self, rt, &k);
                status::json(201, stored)
            }
            Some(current) => self.write_changed(rt, &k, &current, next, dry, false),
        }
    }

    fn delete(&mut self, rt: &ResourceType, ns: Option<&str>, name: &str, call: &Call) -> Reply {
        let k = key(rt, ns, name);
        let Some(current) = self.objects.get(&k).cloned() else {
            return status::not_found(&rt.group, &rt.plural, name);
        };
        let grace = serde_json::from_slice::<Value>(&call.body)
            .ok()
            .and_then(|b| b["gracePeriodSeconds"].as_u64());
        if Self::dry_run(call) {
            return status::json(200, current);
        }
        if rt.plural == "pods" {
            return status::json(200, self.delete_pod(&k, grace));
        }
        let has_finalizers = current["metadata"]["finalizers"]
            .as_array()
            .map(|f| !f.is_empty())
            .unwrap_or(false);
        if has_finalizers {
            let mut next = current.clone();
            if next["metadata"]["deletionTimestamp"].is_null() {
                next["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
                next["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                next = self.store(k.clone(), next);
            }
            controllers::after_write(self, rt, &k);
            return status::json(200, next);
        }
        self.objects.remove(&k);
        controllers::after_delete(self, rt, &current);
        status::success(
            200,
            None,
            Some(Details {
                name: Some(name.into()),
                group: (!rt.group.is_empty()).then(|| rt.group.clone()),
                kind: Some(rt.plural.clone()),
                uid: current["metadata"]["uid"].as_str().map(String::from),
                ..Default::default()
            }),
        )
    }

    /// A graceful pod delete (strategy.go CheckGracefulDelete): a bound, running pod stays with
    /// deletionTimestamp = now + grace until its kubelet removes it; an unbound or finished pod
    /// (or grace 0) goes at once. Returns the pod as the DELETE answers it.
    /// A pod is gone from the store: the object, its termination clock and its log (every
    /// path that ends a pod: deletion, the kubelet, the garbage collector, a test's orphans).
    pub fn forget_pod(&mut self, k: &Key) {
        self.objects.remove(k);
        self.terminating_since.remove(k);
        self.pod_logs.remove(k);
    }

    pub fn delete_pod(&mut self, k: &Key, grace: Option<u64>) -> Value {
        let Some(pod) = self.objects.get(k).cloned() else {
            return json!({});
        };
        let phase = pod["status"]["phase"].as_str().unwrap_or("Pending");
        let bound = pod["spec"]["nodeName"]
            .as_str()
            .map(|n| !n.is_empty())
            .unwrap_or(false);
        let grace = grace
            .or_else(|| pod["spec"]["terminationGracePeriodSeconds"].as_u64())
            .unwrap_or(30);
        if !bound || matches!(phase, "Succeeded" | "Failed") || grace == 0 {
            self.forget_pod(k);
            return pod;
        }
        if !pod["metadata"]["deletionTimestamp"].is_null() {
            return pod;
        }
        let mut next = pod;
        next["metadata"]["deletionTimestamp"] = json!(rfc3339_in(grace));
        next["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
        self.terminating_since.insert(k.clone(), Instant::now());
        self.store(k.clone(), next)
    }

    /// `GET pods/NAME/log` (pkg/registry/core/pod/rest/log.go, kubelet): text/plain; the
    /// container is the pod's only one unless `container` names one; `tailLines` and
    /// `limitBytes` cut it; a container that never started is a 400 naming its wait reason.
    fn pod_log(&self, ns: &str, name: &str, call: &Call) -> Reply {
        let rt = resources::builtin("", "v1", "pods").expect("pods");
        let k = key(&rt, Some(ns), name);
        let Some(pod) = self.objects.get(&k) else {
            return status::not_found("", "pods", name);
        };
        let names: Vec<&str> = pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str())
            .collect();
        let container = match call.query.get("container") {
            Some(c) if names.contains(&c.as_str()) => c.clone(),
            Some(c) => {
                return status::bad_request(&format!("container {c} is not valid for pod {name}"))
            }
            None if names.len() == 1 => names[0].to_string(),
            None => {
                return status::bad_request(&format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    names.join(" ")
                ))
            }
        };
        let started = pod["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["name"] == container.as_str())
            .filter(|s| s["state"]["waiting"].is_null());
        if started.is_none() {
            return status::bad_request(&format!(
                "container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating"
            ));
        }
        let log = self.pod_logs.get(&k).cloned().unwrap_or_default();
        let mut lines: Vec<&str> = log.split_inclusive('\n').collect();
        if let Some(n) = call
            .query
            .get("tailLines")
            .and_then(|n| n.parse::<usize>().ok())
        {
            lines.drain(..lines.len().saturating_sub(n));
        }
        let mut text = lines.concat();
        if let Some(b) = call
            .query
            .get("limitBytes")
            .and_then(|n| n.parse::<usize>().ok())
        {
            let mut cut = b.min(text.len());
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        Reply {
            code: 200,
            body: status::Body::Text(text),
        }
    }

    fn bind(&mut self, ns: &str, name: &str, call: &Call) -> Reply {
        let rt = resources::builtin("", "v1", "pods").expect("pods");
        let k = key(&rt, Some(ns), name);
        let Some(mut pod) = self.objects.get(&k).cloned() else {
            return status::not_found("", "pods", name);
        };
        let b: Value = serde_json::from_slice(&call.body).unwrap_or_default();
        pod["spec"]["nodeName"] = b["target"]["name"].clone();
        self.store(k, pod);
        status::success(201, Some(201), None)
    }
}

/// The 400 for a body that is not JSON, worded like the apiserver's decoder.
fn decode_error(rt: &ResourceType, body: &[u8], e: &serde_json::Error) -> Reply {
    let text = String::from_utf8_lossy(body);
    let head: String = text.chars().take(30).collect();
    let what = if e.is_eof() {
        "unexpected end of JSON input".to_string()
    } else {
        e.to_string()
    };
    status::bad_request(&format!(
        "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse error: {what} ({head} ...)",
        rt.kind
    ))
}
