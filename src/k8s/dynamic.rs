//! Custom resources without CRD crates: [`DynamicApi`] reads and applies
//! `kube::core::DynamicObject`s of one [`ApiResource`] (HelmChart, ClusterIssuer, ...).

use super::error::KubeError;
use super::objects::{Applied, DeleteOutcome, Selector};
use super::transport::Kube;
use kube::core::{ApiResource, DynamicObject, GroupVersionKind, TypeMeta};

/// K3s's `helm.cattle.io/v1` HelmChart (namespaced).
pub fn helm_chart_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("helm.cattle.io", "v1", "HelmChart"),
        "helmcharts",
    )
}

/// cert-manager's `cert-manager.io/v1` ClusterIssuer (cluster-scoped).
pub fn cluster_issuer_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("cert-manager.io", "v1", "ClusterIssuer"),
        "clusterissuers",
    )
}

/// The objects of one custom resource type; made by [`Kube::dynamic`].
pub struct DynamicApi<'a> {
    kube: &'a Kube,
    resource: ApiResource,
}

impl Kube {
    /// Access to the objects of `resource` as [`DynamicObject`]s.
    pub fn dynamic(&self, resource: &ApiResource) -> DynamicApi<'_> {
        DynamicApi {
            kube: self,
            resource: resource.clone(),
        }
    }
}

impl DynamicApi<'_> {
    /// The object, or None when it does not exist. A type the API does not serve yet (CRD not
    /// Established: plain-text 404) is [`KubeError::NotFound`] with `served: false`.
    pub async fn get_opt(
        &self,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Option<DynamicObject>, KubeError> {
        self.kube
            .get_opt_in::<DynamicObject>(&self.resource, ns, name)
            .await
    }

    /// The matching objects in `ns` (None: all namespaces or cluster-scoped).
    pub async fn list(
        &self,
        ns: Option<&str>,
        sel: &Selector,
    ) -> Result<Vec<DynamicObject>, KubeError> {
        self.kube
            .list_in::<DynamicObject>(&self.resource, ns, sel)
            .await
    }

    /// Server-side apply (see [`Kube::apply`]); apiVersion and kind are filled in when unset.
    pub async fn apply(
        &self,
        obj: &DynamicObject,
        force: bool,
    ) -> Result<Applied<DynamicObject>, KubeError> {
        let obj = self.typed(obj);
        self.kube.apply_in(&self.resource, &obj, force).await
    }

    /// The object the server would store (dryRun=All).
    pub async fn apply_dry_run(&self, obj: &DynamicObject) -> Result<DynamicObject, KubeError> {
        let obj = self.typed(obj);
        self.kube.apply_dry_run_in(&self.resource, &obj).await
    }

    /// Deletes the object; a missing one is [`DeleteOutcome::AlreadyGone`].
    pub async fn delete(&self, ns: Option<&str>, name: &str) -> Result<DeleteOutcome, KubeError> {
        self.kube
            .delete_in::<DynamicObject>(&self.resource, ns, name)
            .await
    }

    fn typed(&self, obj: &DynamicObject) -> DynamicObject {
        let mut obj = obj.clone();
        if obj.types.is_none() {
            obj.types = Some(TypeMeta {
                api_version: self.resource.api_version.clone(),
                kind: self.resource.kind.clone(),
            });
        }
        obj
    }
}
