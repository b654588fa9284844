//! Contour's chart values (the project's own chart, component-facts §5): Envoy as a DaemonSet
//! behind a LoadBalancer Service whose address kube-vip hands out, the default IngressClass.

use serde::Serialize;
use std::collections::BTreeMap;

/// The IngressClass the chart creates; cert-manager's HTTP-01 solver uses it too.
pub const INGRESS_CLASS: &str = "contour";

#[derive(Debug, Serialize)]
pub struct Values {
    pub contour: ContourValues,
    pub envoy: EnvoyValues,
    /// The chart's registry override (Bitnami-style `global.imageRegistry`), only with
    /// `images.registry`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global: Option<Global>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Global {
    pub image_registry: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContourValues {
    #[serde(rename = "manageCRDs")]
    pub manage_crds: bool,
    pub ingress_class: IngressClass,
}

#[derive(Debug, Serialize)]
pub struct IngressClass {
    pub name: &'static str,
    pub create: bool,
    pub default: bool,
}

#[derive(Debug, Serialize)]
pub struct EnvoyValues {
    pub kind: &'static str,
    pub service: EnvoyService,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvoyService {
    #[serde(rename = "type")]
    pub type_: &'static str,
    /// `Local`: clients' source addresses reach Envoy unchanged.
    pub external_traffic_policy: &'static str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Values {
    pub fn new(load_balancer_ip: Option<&str>, registry: Option<&str>) -> Values {
        let mut annotations = BTreeMap::new();
        if let Some(ip) = load_balancer_ip {
            // kube-vip-cloud-provider's way to pin a Service's address.
            annotations.insert("kube-vip.io/loadbalancerIPs".into(), ip.to_string());
        }
        Values {
            contour: ContourValues {
                manage_crds: true,
                ingress_class: IngressClass {
                    name: INGRESS_CLASS,
                    create: true,
                    default: true,
                },
            },
            envoy: EnvoyValues {
                kind: "daemonset",
                service: EnvoyService {
                    type_: "LoadBalancer",
                    external_traffic_policy: "Local",
                    annotations,
                },
            },
            global: registry.map(|r| Global {
                image_registry: r.to_string(),
            }),
        }
    }
}
