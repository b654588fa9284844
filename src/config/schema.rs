//! The stack.yaml schema. Every struct denies unknown keys so a typo is an error with a
//! "did you mean" (see `config::load`), never a silently ignored setting.
//!
//! Any string may hold a secret reference `${secret:PATH:KEY}`; such values are resolved by
//! `secrets::resolve_config` before use and masked by `config show`.

pub use super::service_file::ServiceFile;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StackConfig {
    pub cluster: ClusterConfig,
    #[serde(default)]
    pub network: NetworkConfig,
    #[serde(default)]
    pub ssh: SshDefaults,
    pub hosts: Vec<HostConfig>,
    #[serde(default)]
    pub images: ImagesConfig,
    #[serde(default)]
    pub components: ComponentsConfig,
    #[serde(default, skip_serializing_if = "StorageConfig::is_empty")]
    pub storage: StorageConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// RFC 1123 label: used in file names, kubeconfig contexts and OpenBao paths.
    pub name: String,
    /// Base DNS domain of the platform (e.g. `home.example.com`).
    pub domain: String,
    /// The kube-vip virtual IP for the Kubernetes API; must be in the hosts' network.
    pub vip: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// The hosts' network, e.g. `192.168.10.0/24`. Either this or gateway + netmask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netmask: Option<String>,
    /// LoadBalancer address range for services, `FIRST-LAST` (kube-vip-cloud-provider `range-global`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lb_range: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SshDefaults {
    /// Default login user for hosts that don't set one.
    #[serde(default = "default_user")]
    pub user: String,
    /// Default private key for hosts that don't set one (else every ssh-agent key, then
    /// ~/.ssh/id_ed25519, id_ecdsa, id_rsa in that order, unencrypted ones only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Seconds to wait for a TCP connection and the SSH handshake.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: u64,
    /// How many hosts foundry works on at once.
    #[serde(default = "default_parallel")]
    pub parallel: usize,
}

impl Default for SshDefaults {
    fn default() -> Self {
        SshDefaults {
            user: default_user(),
            key: None,
            connect_timeout: default_connect_timeout(),
            parallel: default_parallel(),
        }
    }
}

fn default_user() -> String {
    "root".into()
}
fn default_connect_timeout() -> u64 {
    10
}
fn default_parallel() -> usize {
    8
}
fn default_port() -> u16 {
    22
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Openbao,
    Zot,
    ClusterControlPlane,
    ClusterWorker,
    /// In the K3s cluster without a pinned role: server or agent by the node count
    /// (`component::k3s::roles`).
    Cluster,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Openbao,
        Role::Zot,
        Role::ClusterControlPlane,
        Role::ClusterWorker,
        Role::Cluster,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Openbao => "openbao",
            Role::Zot => "zot",
            Role::ClusterControlPlane => "cluster-control-plane",
            Role::ClusterWorker => "cluster-worker",
            Role::Cluster => "cluster",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A role list as YAML flow text: `[openbao, zot]`.
pub fn roles_text(roles: &[Role]) -> String {
    let v: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    format!("[{}]", v.join(", "))
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    pub hostname: String,
    /// IP address or DNS name foundry connects to.
    pub address: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// `key=value:Effect` (NoSchedule, PreferNoSchedule, NoExecute).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<String>,
    /// Private key file; `~/` is expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key: Option<String>,
    /// Password authentication (a secret reference, never a literal in a shared file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Use sudo for privileged commands. Default: true unless the user is root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sudo: Option<bool>,
    /// sudo password (secret reference); without it sudo must be passwordless.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sudo_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bastion: Option<BastionConfig>,
}

impl HostConfig {
    pub fn has_role(&self, r: Role) -> bool {
        self.roles.contains(&r)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BastionConfig {
    pub address: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key: Option<String>,
}

/// Rewrites every image foundry deploys to a private or air-gapped registry.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImagesConfig {
    /// e.g. `registry.internal:5000`: `quay.io/openbao/openbao:2.7.2` becomes
    /// `registry.internal:5000/openbao/openbao:2.7.2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Registry is plain HTTP / self-signed (podman `--tls-verify=false`).
    #[serde(default)]
    pub insecure: bool,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeChoice {
    #[default]
    Auto,
    Podman,
    Docker,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ComponentsConfig {
    /// Container runtime on the hosts: auto (podman, else docker), podman or docker.
    #[serde(default)]
    pub runtime: RuntimeChoice,
    #[serde(default)]
    pub host_prep: HostPrepConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openbao: Option<OpenbaoConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zot: Option<ZotConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k3s: Option<K3sConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_vip: Option<KubeVipConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contour: Option<ContourConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_manager: Option<CertManagerConfig>,
    /// Extra containers run under systemd on hosts of a role (the same machinery as OpenBao/Zot).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HostPrepConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Packages that must be installed (Debian/Ubuntu names; RPM hosts map them).
    #[serde(default = "default_packages")]
    pub packages: Vec<String>,
    #[serde(default = "default_modules")]
    pub kernel_modules: Vec<String>,
    #[serde(default = "default_sysctls")]
    pub sysctls: BTreeMap<String, String>,
    #[serde(default = "yes")]
    pub disable_swap: bool,
    #[serde(default = "yes")]
    pub require_time_sync: bool,
    /// TCP ports that must be free (or already held by foundry's own services).
    #[serde(default = "default_ports")]
    pub required_ports: Vec<u16>,
}

impl Default for HostPrepConfig {
    fn default() -> Self {
        HostPrepConfig {
            enabled: true,
            packages: default_packages(),
            kernel_modules: default_modules(),
            sysctls: default_sysctls(),
            disable_swap: true,
            require_time_sync: true,
            required_ports: default_ports(),
        }
    }
}

fn default_packages() -> Vec<String> {
    ["curl", "ca-certificates", "iptables", "nfs-common"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}
fn default_modules() -> Vec<String> {
    vec!["overlay".into(), "br_netfilter".into()]
}
fn default_sysctls() -> BTreeMap<String, String> {
    [
        ("net.ipv4.ip_forward", "1"),
        ("net.bridge.bridge-nf-call-iptables", "1"),
        ("net.bridge.bridge-nf-call-ip6tables", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}
fn default_ports() -> Vec<u16> {
    vec![]
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OpenbaoConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "default_openbao_version")]
    pub version: String,
    /// Full image reference; overrides `quay.io/openbao/openbao:<version>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default = "default_openbao_port")]
    pub port: u16,
    #[serde(default = "default_openbao_cluster_port")]
    pub cluster_port: u16,
    #[serde(default = "default_openbao_data")]
    pub data_dir: String,
    #[serde(default = "default_openbao_conf")]
    pub config_dir: String,
    /// TLS certificate/key files on the host. Without them OpenBao listens on plain HTTP (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<String>,
    #[serde(default = "default_shares")]
    pub key_shares: u8,
    #[serde(default = "default_threshold")]
    pub key_threshold: u8,
    /// Address foundry uses to reach the API; default `http(s)://<host address>:<port>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

fn default_openbao_version() -> String {
    "2.7.2".into()
}
fn default_openbao_port() -> u16 {
    8200
}
fn default_openbao_cluster_port() -> u16 {
    8201
}
fn default_openbao_data() -> String {
    "/var/lib/openbao".into()
}
fn default_openbao_conf() -> String {
    "/etc/openbao".into()
}
fn default_shares() -> u8 {
    5
}
fn default_threshold() -> u8 {
    3
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ZotConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "default_zot_version")]
    pub version: String,
    /// Full image reference; overrides `ghcr.io/project-zot/zot-linux-<arch>:<version>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default = "default_zot_port")]
    pub port: u16,
    /// Registry storage on the host: a local directory, or the mount point of
    /// `storage_dataset`.
    #[serde(default = "default_zot_storage")]
    pub storage_path: String,
    /// A dataset of `storage.truenas.datasets` (with `nfs: true`) that holds the registry:
    /// its NFS share is mounted at `storage_path` by a systemd mount unit the Zot unit
    /// requires (`RequiresMountsFor=`), so Zot never writes to the local disk below it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_dataset: Option<String>,
    /// NFS mount options for `storage_dataset` (default `hard,noatime`: the NFS version is
    /// negotiated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_mount_options: Option<String>,
    #[serde(default = "default_zot_conf")]
    pub config_dir: String,
    #[serde(default = "yes")]
    pub dedupe: bool,
    #[serde(default = "yes")]
    pub gc: bool,
    /// Allow pulls without credentials.
    #[serde(default = "yes")]
    pub anonymous_read: bool,
    #[serde(default = "default_zot_admin")]
    pub admin_user: String,
    #[serde(default = "yes")]
    pub search: bool,
    #[serde(default = "yes")]
    pub ui: bool,
    /// Upstream registries cached on demand.
    #[serde(default = "default_zot_upstreams")]
    pub upstreams: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<String>,
}

fn default_zot_version() -> String {
    "v2.1.22".into()
}
fn default_zot_port() -> u16 {
    5000
}
fn default_zot_storage() -> String {
    "/var/lib/zot".into()
}
fn default_zot_conf() -> String {
    "/etc/zot".into()
}
fn default_zot_admin() -> String {
    "admin".into()
}
fn default_zot_upstreams() -> Vec<String> {
    ["docker.io", "ghcr.io", "quay.io", "registry.k8s.io"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct K3sConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Pinned K3s release, e.g. `v1.33.5+k3s1`.
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_cidr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_cidr: Option<String>,
    /// Servers also run workloads (default). `false` taints every server
    /// `node-role.kubernetes.io/control-plane:NoSchedule`; one server can be made dedicated
    /// instead by listing that taint in its host's `taints`.
    #[serde(default = "yes")]
    pub server_workloads: bool,
    /// Air-gapped install: a local directory (on the machine running foundry) holding the K3s
    /// binary, `sha256sum-<arch>.txt` and `k3s-airgap-images-<arch>.tar.zst`. Unset = online.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub airgap_bundle: Option<String>,
    /// More K3s flags, `--flag=value` or `--flag`; they land in config.yaml.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_args: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KubeVipConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Interface for ARP on every server; omitted = the interface on the VIP's subnet,
    /// detected per host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// kube-vip-cloud-provider release (LoadBalancer addresses from `network.lb_range`).
    #[serde(default = "default_kube_vip_cloud_provider")]
    pub cloud_provider_version: String,
    /// Full image reference; overrides `ghcr.io/kube-vip/kube-vip-cloud-provider:<version>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_provider_image: Option<String>,
}

fn default_kube_vip_cloud_provider() -> String {
    "v0.0.12".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ContourConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    pub version: String,
    /// Fixed LoadBalancer IP for Envoy (inside network.lb_range).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_ip: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CertManagerConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    pub version: String,
    #[serde(default = "default_issuer")]
    pub cluster_issuer: String,
    /// ACME e-mail; needed by (and only allowed with) the `acme` issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme_email: Option<String>,
    /// The ClusterIssuer's kind; unset: `acme` with `acme_email`, else `selfsigned`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<IssuerKind>,
}

/// What signs the ClusterIssuer's certificates.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum IssuerKind {
    /// Each certificate signs itself (`spec.selfSigned`).
    Selfsigned,
    /// Let's Encrypt over HTTP-01 through Contour (`spec.acme`, needs `acme_email`).
    Acme,
    /// A CA foundry keeps in OpenBao at `<instance>/cert-manager/ca` (`spec.ca`).
    Ca,
}

impl IssuerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IssuerKind::Selfsigned => "selfsigned",
            IssuerKind::Acme => "acme",
            IssuerKind::Ca => "ca",
        }
    }
}

impl CertManagerConfig {
    /// `issuer`, or its default: `acme` when `acme_email` is set, else `selfsigned`.
    pub fn issuer_kind(&self) -> IssuerKind {
        self.issuer.unwrap_or(if self.acme_email.is_some() {
            IssuerKind::Acme
        } else {
            IssuerKind::Selfsigned
        })
    }
}

fn default_issuer() -> String {
    "selfsigned-cluster-issuer".into()
}

/// A container run under a systemd unit by foundry (the machinery OpenBao and Zot use).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// systemd unit and container name (RFC 1123 label).
    pub name: String,
    pub image: String,
    /// Hosts with this role run it; no role = every host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// `host-path:container-path[:ro]`
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    /// Files written on the host before start (path → content, or path → `{content, mode}`);
    /// a change restarts the service.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, ServiceFile>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truenas: Option<TruenasConfig>,
}

impl StorageConfig {
    pub fn is_empty(&self) -> bool {
        self.truenas.is_none()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TruenasConfig {
    /// `https://truenas.example.com` (or `wss://…`); plain `http://`/`ws://` is refused because
    /// TrueNAS revokes an API key that arrives over an insecure transport.
    pub url: String,
    /// The API key's owner: since TrueNAS 25.04 a key belongs to a user and `auth.login_ex`
    /// needs both.
    #[serde(default = "default_truenas_user")]
    pub user: String,
    /// API key (a secret reference).
    pub api_key: String,
    pub pool: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<DatasetConfig>,
    /// `false` skips the public-CA check; allowed only with `tls_fingerprint` or `ca_file`.
    #[serde(default)]
    pub verify_tls: Option<bool>,
    /// sha256 of the server's leaf certificate (DER), hex, colons optional (`sha256:` prefix
    /// optional). When set, exactly that certificate is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_fingerprint: Option<String>,
    /// PEM file with the CA that signed TrueNAS' certificate (instead of the public roots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Host name or address the hosts mount NFS shares from (default: the host of `url`;
    /// set it when NFS is served on another network than the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nfs_server: Option<String>,
}

impl TruenasConfig {
    /// The dataset listed as `name` (slashes around either ignored), with its index.
    pub fn dataset(&self, name: &str) -> Option<(usize, &DatasetConfig)> {
        let want = name.trim_matches('/');
        self.datasets
            .iter()
            .enumerate()
            .find(|(_, d)| d.name.trim_matches('/') == want)
    }
}

fn default_truenas_user() -> String {
    "truenas_admin".into()
}

/// What a dataset is for, when a CSI driver will use it (see docs/storage.md).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CsiRole {
    /// The parent under which the driver creates one dataset per volume.
    Volumes,
    /// The parent for detached snapshots; must not be inside (or contain) the volumes parent.
    Snapshots,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// Relative to the pool, e.g. `k8s/volumes`.
    pub name: String,
    /// `volumes` or `snapshots` when a CSI driver uses this dataset as a parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csi: Option<CsiRole>,
    /// ZFS quota: bytes or a size like `500GiB`, `2T`; `0` or absent: none (TrueNAS needs ≥ 1 GiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<String>,
    /// ZFS compression (`lz4`, `zstd`, `off`, …); absent: inherited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// The dataset's comment in TrueNAS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    #[serde(default)]
    pub nfs: bool,
    /// Networks allowed to mount the NFS share (default: network.cidr).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nfs_networks: Vec<String>,
    /// Host names or addresses allowed to mount the share (default: none beyond the networks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nfs_hosts: Vec<String>,
    /// Requests from root are mapped to this user (e.g. `root` for a CSI driver).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nfs_maproot_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nfs_maproot_group: Option<String>,
    /// Export read-only.
    #[serde(default)]
    pub nfs_read_only: bool,
}

impl StackConfig {
    /// Hosts that have a role, in file order.
    pub fn hosts_with(&self, role: Role) -> impl Iterator<Item = &HostConfig> {
        self.hosts.iter().filter(move |h| h.has_role(role))
    }

    pub fn host(&self, name: &str) -> Option<&HostConfig> {
        self.hosts.iter().find(|h| h.hostname == name)
    }
}
