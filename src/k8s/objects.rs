//! Reading and writing objects: get (404 → None), list with selectors, server-side apply with a
//! no-op check, dry-run apply, merge patch, delete. Typed objects (k8s-openapi) use the methods
//! on [`Kube`]; custom resources go through [`super::DynamicApi`] with the same code underneath.

use super::error::KubeError;
use super::transport::{describe, Answer, Kube};
use kube::core::params::{DeleteParams, GetParams, ListParams, Patch, PatchParams};
use kube::core::{ObjectList, Request, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// foundry's server-side-apply field manager.
pub const FIELD_MANAGER: &str = "foundry";

/// Label and field selectors for a list (`app=web`, `spec.nodeName=cp-1`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    pub labels: Option<String>,
    pub fields: Option<String>,
}

impl Selector {
    /// Everything.
    pub fn all() -> Selector {
        Selector::default()
    }
    /// Objects whose labels match, e.g. `app=web,tier!=db`.
    pub fn labels(s: &str) -> Selector {
        Selector {
            labels: Some(s.to_string()),
            fields: None,
        }
    }
    /// Objects whose fields match, e.g. `spec.nodeName=cp-1`.
    pub fn fields(s: &str) -> Selector {
        Selector {
            labels: None,
            fields: Some(s.to_string()),
        }
    }
}

/// What a server-side apply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// The object did not exist (201).
    Created,
    /// The stored object changed (new resourceVersion).
    Changed,
    /// Nothing would change: no write was sent, or the server kept the resourceVersion.
    Unchanged,
}

/// The object as stored after an apply, and what the apply did.
#[derive(Debug, Clone)]
pub struct Applied<K> {
    pub object: K,
    pub outcome: ApplyOutcome,
}

impl<K> Applied<K> {
    /// True unless the apply was a no-op.
    pub fn changed(&self) -> bool {
        self.outcome != ApplyOutcome::Unchanged
    }
}

/// What a delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// Removed at once.
    Deleted,
    /// Accepted, but the object stays until its finalizers or its kubelet let it go.
    Terminating,
    /// There was nothing to delete (404).
    AlreadyGone,
}

fn build_err(e: kube::core::request::Error) -> KubeError {
    KubeError::Api {
        request: "(building the request)".into(),
        status: 0,
        reason: String::new(),
        message: e.to_string(),
    }
}

fn decode<T: DeserializeOwned>(request: &str, answer: &Answer) -> Result<T, KubeError> {
    serde_json::from_slice(&answer.body).map_err(|e| KubeError::Decode {
        request: request.to_string(),
        status: answer.status,
        cause: e.to_string(),
    })
}

fn req_text(req: &http::Request<Vec<u8>>) -> String {
    describe(
        req.method().as_str(),
        &req.uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
    )
}

/// The apply body: the object without the fields a client must not send (managedFields,
/// resourceVersion and the other server-set metadata).
fn apply_body<K: Serialize>(obj: &K) -> Result<Value, KubeError> {
    let mut v = serde_json::to_value(obj).map_err(|e| KubeError::Decode {
        request: "(encoding the object to apply)".into(),
        status: 0,
        cause: e.to_string(),
    })?;
    if let Some(meta) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        for k in [
            "managedFields",
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
        ] {
            meta.remove(k);
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    Ok(v)
}

/// The object as compared for "would anything change": managedFields timestamps dropped (the
/// server reverts timestamp-only changes itself, api-behaviour.md A.3).
fn comparable(mut v: Value) -> Value {
    if let Some(mf) = v
        .pointer_mut("/metadata/managedFields")
        .and_then(|m| m.as_array_mut())
    {
        for entry in mf {
            if let Some(e) = entry.as_object_mut() {
                e.remove("time");
            }
        }
    }
    v
}

fn resource_version(v: &Value) -> Option<&str> {
    v.pointer("/metadata/resourceVersion")
        .and_then(|r| r.as_str())
}

impl Kube {
    /// The raw JSON of `name` under `url_path`, or None on a JSON NotFound.
    async fn get_value(&self, url_path: String, name: &str) -> Result<Option<Value>, KubeError> {
        let req = Request::new(url_path)
            .get(name, &GetParams::default())
            .map_err(build_err)?;
        let text = req_text(&req);
        let answer = self.send(req).await?;
        match answer.status {
            200..=299 => decode(&text, &answer).map(Some),
            // A JSON NotFound only: the plain-text 404 means the type is not served, an error.
            404 => match self.api_error(&text, &answer) {
                KubeError::NotFound { served: true, .. } => Ok(None),
                e => Err(e),
            },
            _ => Err(self.api_error(&text, &answer)),
        }
    }

    pub(crate) async fn get_opt_in<K>(
        &self,
        dt: &K::DynamicType,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Option<K>, KubeError>
    where
        K: Resource + DeserializeOwned,
    {
        let url_path = K::url_path(dt, ns);
        let request = describe("GET", &format!("{url_path}/{name}"));
        match self.get_value(url_path, name).await? {
            None => Ok(None),
            Some(v) => from_value(&request, 200, v).map(Some),
        }
    }

    pub(crate) async fn list_in<K>(
        &self,
        dt: &K::DynamicType,
        ns: Option<&str>,
        sel: &Selector,
    ) -> Result<Vec<K>, KubeError>
    where
        K: Resource + DeserializeOwned + Clone,
    {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut lp = ListParams::default().limit(500);
            lp.label_selector = sel.labels.clone();
            lp.field_selector = sel.fields.clone();
            lp.continue_token = token.take();
            let req = Request::new(K::url_path(dt, ns))
                .list(&lp)
                .map_err(build_err)?;
            let text = req_text(&req);
            let answer = self.send_ok(req).await?;
            let page: ObjectList<K> = decode(&text, &answer)?;
            items.extend(page.items);
            match page.metadata.continue_ {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(items),
            }
        }
    }

    async fn patch_apply<K>(
        &self,
        dt: &K::DynamicType,
        obj: &K,
        force: bool,
        dry_run: bool,
    ) -> Result<(Answer, Value), KubeError>
    where
        K: Resource + Serialize,
    {
        let meta = obj.meta();
        let name = meta.name.clone().unwrap_or_default();
        let body = apply_body(obj)?;
        let mut pp = PatchParams::apply(FIELD_MANAGER);
        pp.force = force;
        pp.dry_run = dry_run;
        let req = Request::new(K::url_path(dt, meta.namespace.as_deref()))
            .patch(&name, &pp, &Patch::Apply(&body))
            .map_err(build_err)?;
        let text = req_text(&req);
        let answer = self.send_ok(req).await?;
        let v: Value = decode(&text, &answer)?;
        Ok((answer, v))
    }

    pub(crate) async fn apply_in<K>(
        &self,
        dt: &K::DynamicType,
        obj: &K,
        force: bool,
    ) -> Result<Applied<K>, KubeError>
    where
        K: Resource + Serialize + DeserializeOwned,
    {
        let meta = obj.meta();
        let name = meta.name.clone().unwrap_or_default();
        let current = self
            .get_value(K::url_path(dt, meta.namespace.as_deref()), &name)
            .await?;
        if let Some(cur) = &current {
            // A dry run first: a no-op re-run must not send a single mutating request.
            let (_, would) = self.patch_apply(dt, obj, force, true).await?;
            if comparable(would) == comparable(cur.clone()) {
                let object = from_value(&format!("GET {name}"), 200, cur.clone())?;
                return Ok(Applied {
                    object,
                    outcome: ApplyOutcome::Unchanged,
                });
            }
        }
        let (answer, stored) = self.patch_apply(dt, obj, force, false).await?;
        let outcome = if answer.status == 201 {
            ApplyOutcome::Created
        } else if current.as_ref().and_then(resource_version) == resource_version(&stored) {
            ApplyOutcome::Unchanged
        } else {
            ApplyOutcome::Changed
        };
        let object = from_value(&format!("PATCH {name}"), answer.status, stored)?;
        Ok(Applied { object, outcome })
    }

    pub(crate) async fn apply_dry_run_in<K>(
        &self,
        dt: &K::DynamicType,
        obj: &K,
    ) -> Result<K, KubeError>
    where
        K: Resource + Serialize + DeserializeOwned,
    {
        let (answer, v) = self.patch_apply(dt, obj, false, true).await?;
        from_value("PATCH (dry run)", answer.status, v)
    }

    pub(crate) async fn merge_patch_in<K>(
        &self,
        dt: &K::DynamicType,
        ns: Option<&str>,
        name: &str,
        patch: &Value,
    ) -> Result<K, KubeError>
    where
        K: Resource + DeserializeOwned,
    {
        let req = Request::new(K::url_path(dt, ns))
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .map_err(build_err)?;
        let text = req_text(&req);
        let answer = self.send_ok(req).await?;
        decode(&text, &answer)
    }

    pub(crate) async fn delete_in<K>(
        &self,
        dt: &K::DynamicType,
        ns: Option<&str>,
        name: &str,
    ) -> Result<DeleteOutcome, KubeError>
    where
        K: Resource,
    {
        let req = Request::new(K::url_path(dt, ns))
            .delete(name, &DeleteParams::default())
            .map_err(build_err)?;
        let text = req_text(&req);
        let answer = self.send(req).await?;
        match answer.status {
            200..=299 => {
                let v: Value = decode(&text, &answer)?;
                let terminating = v.get("kind").and_then(|k| k.as_str()) != Some("Status")
                    && v.pointer("/metadata/deletionTimestamp").is_some();
                Ok(if terminating {
                    DeleteOutcome::Terminating
                } else {
                    DeleteOutcome::Deleted
                })
            }
            404 => match self.api_error(&text, &answer) {
                KubeError::NotFound { served: true, .. } => Ok(DeleteOutcome::AlreadyGone),
                e => Err(e),
            },
            _ => Err(self.api_error(&text, &answer)),
        }
    }

    /// The object `ns/name` (`ns` None for cluster-scoped kinds), or None when it does not exist.
    /// A path the API does not serve (CRD not Established) is an error, not None.
    pub async fn get_opt<K>(&self, ns: Option<&str>, name: &str) -> Result<Option<K>, KubeError>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        self.get_opt_in::<K>(&(), ns, name).await
    }

    /// Every object in `ns` (None: all namespaces, or a cluster-scoped kind) that matches.
    pub async fn list<K>(&self, ns: Option<&str>, sel: &Selector) -> Result<Vec<K>, KubeError>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Clone,
    {
        self.list_in::<K>(&(), ns, sel).await
    }

    /// Server-side apply with field manager `foundry` (`force` takes fields other managers
    /// own). Reads first and dry-runs, so an unchanged object costs no mutating request.
    pub async fn apply<K>(&self, obj: &K, force: bool) -> Result<Applied<K>, KubeError>
    where
        K: Resource<DynamicType = ()> + Serialize + DeserializeOwned,
    {
        self.apply_in(&(), obj, force).await
    }

    /// The object the server would store for this apply (dryRun=All; nothing is written).
    pub async fn apply_dry_run<K>(&self, obj: &K) -> Result<K, KubeError>
    where
        K: Resource<DynamicType = ()> + Serialize + DeserializeOwned,
    {
        self.apply_dry_run_in(&(), obj).await
    }

    /// A JSON merge patch (e.g. cordon: `{"spec":{"unschedulable":true}}`).
    pub async fn merge_patch<K>(
        &self,
        ns: Option<&str>,
        name: &str,
        patch: &Value,
    ) -> Result<K, KubeError>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        self.merge_patch_in::<K>(&(), ns, name, patch).await
    }

    /// Deletes `ns/name`; a missing object is [`DeleteOutcome::AlreadyGone`], not an error.
    pub async fn delete<K>(&self, ns: Option<&str>, name: &str) -> Result<DeleteOutcome, KubeError>
    where
        K: Resource<DynamicType = ()>,
    {
        self.delete_in::<K>(&(), ns, name).await
    }
}

fn from_value<T: DeserializeOwned>(request: &str, status: u16, v: Value) -> Result<T, KubeError> {
    serde_json::from_value(v).map_err(|e| KubeError::Decode {
        request: request.to_string(),
        status,
        cause: e.to_string(),
    })
}
