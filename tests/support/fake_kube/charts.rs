//! STAND-INS for what K3s and the two charts put into a cluster, for tests that run the whole
//! stack against the mock: K3s's HelmChart CRD (K3s installs it at boot), cert-manager's CRDs,
//! the charts' workloads (which helm would create from the HelmChart), and cert-manager's
//! controller marking a ClusterIssuer Ready. The mock's own controllers then do the rest
//! (helm-install Jobs complete, workloads report available).

use super::FakeKube;
use serde_json::{json, Value};
use std::sync::{Arc, Weak};
use std::time::Duration;

pub fn crd(group: &str, plural: &str, kind: &str, scope: &str) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {"group": group, "scope": scope,
                 "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind, "listKind": format!("{kind}List")},
                 "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    })
}

pub fn deployment(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": name, "namespace": ns, "labels": {"app.kubernetes.io/instance": name}},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}})
}

impl FakeKube {
    /// The HelmChart CRD, cert-manager's CRDs and both charts' workloads, all Established.
    pub fn insert_chart_standins(&self) {
        for (g, p, k, s) in [
            ("helm.cattle.io", "helmcharts", "HelmChart", "Namespaced"),
            (
                "cert-manager.io",
                "clusterissuers",
                "ClusterIssuer",
                "Cluster",
            ),
            (
                "cert-manager.io",
                "certificates",
                "Certificate",
                "Namespaced",
            ),
        ] {
            self.insert(crd(g, p, k, s));
        }
        self.establish_crds();
        self.insert(deployment("projectcontour", "contour-contour"));
        self.insert(json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "contour-envoy", "namespace": "projectcontour"},
            "spec": {"selector": {"matchLabels": {"app": "envoy"}}, "updateStrategy": {"type": "RollingUpdate"},
                     "template": {"metadata": {"labels": {"app": "envoy"}}, "spec": {"containers": [{"name": "envoy", "image": "x"}]}}}}));
        for d in [
            "cert-manager",
            "cert-manager-cainjector",
            "cert-manager-webhook",
        ] {
            self.insert(deployment("cert-manager", d));
        }
    }
}

impl FakeKube {
    /// Contour's Envoy Service as the chart creates it (type LoadBalancer), with the address
    /// kube-vip's cloud provider would have written into `status.loadBalancer` (STAND-IN for
    /// kube-vip: it takes the first address of `lb_range`).
    pub fn insert_envoy_service(&self, ip: &str) {
        self.insert(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "contour-envoy", "namespace": "projectcontour"},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                     "selector": {"app": "envoy"},
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
                               {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}]},
            "status": {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}]}}}));
    }
}

/// cert-manager's controller, stand-in: marks ClusterIssuer `name` Ready once it exists (a
/// thread that ends with the fake).
pub fn issuer_controller(fake: &Arc<FakeKube>, name: &str) {
    let weak: Weak<FakeKube> = Arc::downgrade(fake);
    let name = name.to_string();
    std::thread::spawn(move || {
        while let Some(fake) = weak.upgrade() {
            if let Some(i) = fake.object("cert-manager.io", "clusterissuers", "", &name) {
                if i["status"]["conditions"][0]["status"] != "True" {
                    fake.update("cert-manager.io", "clusterissuers", "", &name, |i| {
                        i["status"] = json!({"conditions": [{"type": "Ready", "status": "True", "reason": "IsReady", "message": ""}]});
                    });
                }
            }
            drop(fake);
            std::thread::sleep(Duration::from_millis(100));
        }
    });
}
