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
/// thread that ends with the fake). A CA issuer (`spec.ca.secretName`) only once that Secret
/// in the cluster resource namespace (`cert-manager`) has `tls.crt` and `tls.key`; until
/// then Ready=False with cert-manager's reason, as the real controller reports it.
pub fn issuer_controller(fake: &Arc<FakeKube>, name: &str) {
    let weak: Weak<FakeKube> = Arc::downgrade(fake);
    let name = name.to_string();
    std::thread::spawn(move || {
        while let Some(fake) = weak.upgrade() {
            if let Some(i) = fake.object("cert-manager.io", "clusterissuers", "", &name) {
                let ready = match i["spec"]["ca"]["secretName"].as_str() {
                    None => {
                        json!({"type": "Ready", "status": "True", "reason": "IsReady", "message": ""})
                    }
                    Some(secret) => match fake.object("", "secrets", "cert-manager", secret) {
                        Some(s)
                            if s["data"]["tls.crt"].is_string()
                                && s["data"]["tls.key"].is_string() =>
                        {
                            json!({"type": "Ready", "status": "True", "reason": "KeyPairVerified", "message": "Signing CA verified"})
                        }
                        _ => json!({"type": "Ready", "status": "False", "reason": "ErrGetKeyPair",
                                    "message": format!("Error getting keypair for CA issuer: secrets \"{secret}\" not found")}),
                    },
                };
                if i["status"]["conditions"][0] != ready {
                    fake.update("cert-manager.io", "clusterissuers", "", &name, |i| {
                        i["status"] = json!({"conditions": [ready.clone()]});
                    });
                }
            }
            drop(fake);
            std::thread::sleep(Duration::from_millis(100));
        }
    });
}

/// cert-manager's Certificate controller, STAND-IN: for each Certificate whose issuer exists
/// and is Ready, it writes the `spec.secretName` Secret (`kubernetes.io/tls`: a self-signed
/// certificate for `spec.dnsNames`, made with rcgen, and its key) and sets `Ready=True`
/// (reason `Ready`, "Certificate is up to date and has not expired"), as cert-manager does; an
/// issuer that is missing or not Ready leaves the Certificate `Ready=False`, reason
/// `IssuerNotReady`. A thread that ends with the fake.
pub fn certificate_controller(fake: &Arc<FakeKube>) {
    let weak: Weak<FakeKube> = Arc::downgrade(fake);
    std::thread::spawn(move || {
        while let Some(fake) = weak.upgrade() {
            let certs: Vec<Value> = fake.with(|c| {
                c.objects
                    .iter()
                    .filter(|(k, _)| k.0 == "cert-manager.io" && k.1 == "certificates")
                    .map(|(_, v)| v.clone())
                    .collect()
            });
            for cert in certs {
                let ns = cert["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let name = cert["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if cert["status"]["conditions"][0]["status"] == "True" {
                    continue;
                }
                let issuer = cert["spec"]["issuerRef"]["name"]
                    .as_str()
                    .unwrap_or_default();
                let issuer_ready = fake
                    .object("cert-manager.io", "clusterissuers", "", issuer)
                    .is_some_and(|i| i["status"]["conditions"][0]["status"] == "True");
                let ready = if issuer_ready {
                    let dns: Vec<String> = cert["spec"]["dnsNames"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|d| d.as_str().map(String::from))
                        .collect();
                    let key = rcgen::KeyPair::generate().unwrap();
                    let leaf = rcgen::CertificateParams::new(dns)
                        .unwrap()
                        .self_signed(&key)
                        .unwrap();
                    use base64::Engine;
                    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
                    let secret = cert["spec"]["secretName"].as_str().unwrap_or_default();
                    fake.insert(json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                        "metadata": {"name": secret, "namespace": ns,
                                     "annotations": {"cert-manager.io/certificate-name": name, "cert-manager.io/issuer-name": issuer}},
                        "data": {"tls.crt": b64(&leaf.pem()), "tls.key": b64(&key.serialize_pem())}}));
                    json!({"type": "Ready", "status": "True", "reason": "Ready", "message": "Certificate is up to date and has not expired"})
                } else {
                    json!({"type": "Ready", "status": "False", "reason": "IssuerNotReady",
                           "message": format!("Issuer {issuer} not ready")})
                };
                if cert["status"]["conditions"][0] != ready {
                    // Not `update`: the test may have deleted it meanwhile.
                    fake.with(|c| {
                        let k = (
                            "cert-manager.io".to_string(),
                            "certificates".to_string(),
                            ns.clone(),
                            name.clone(),
                        );
                        if let Some(mut obj) = c.objects.get(&k).cloned() {
                            obj["status"] = json!({"conditions": [ready.clone()]});
                            c.store(k, obj);
                        }
                    });
                }
            }
            drop(fake);
            std::thread::sleep(Duration::from_millis(100));
        }
    });
}
