//! What a text field holds, in words, for "expected a host name, found null".

use crate::config::path::{FieldPath, Seg};

/// The noun for the string at `path` (by its last key, or the list it is an item of).
pub(crate) fn text_noun(path: &FieldPath) -> &'static str {
    let key = path.0.iter().rev().find_map(|s| match s {
        Seg::Key(k) => Some(k.as_str()),
        Seg::Index(_) => None,
    });
    let in_list = matches!(path.0.last(), Some(Seg::Index(_)));
    match (key.unwrap_or(""), in_list) {
        ("hostname", _) => "a host name",
        ("address", _) => "an address (IP or DNS name)",
        ("vip", _) | ("gateway", _) | ("load_balancer_ip", _) => "an IPv4 address",
        ("cidr", _) | ("cluster_cidr", _) | ("service_cidr", _) | ("nfs_networks", true) => {
            "a network like 10.0.0.0/24"
        }
        ("netmask", _) => "a netmask like 255.255.255.0",
        ("lb_range", _) => "an address range FIRST-LAST",
        ("name", _) => "a name",
        ("domain", _) => "a DNS domain",
        ("version", _) => "a version",
        ("image", _) | ("registry", _) => "an image reference",
        ("user", _) | ("admin_user", _) => "a user name",
        ("ssh_key", _) | ("key", _) | ("tls_cert", _) | ("tls_key", _) => "a file path",
        ("data_dir", _) | ("config_dir", _) | ("storage_path", _) => "a directory path",
        ("password", _) | ("sudo_password", _) | ("api_key", _) => {
            "a secret reference like ${secret:PATH:KEY}"
        }
        ("upstreams", true) => "a registry host name",
        ("packages", true) => "a package name",
        ("kernel_modules", true) => "a kernel module name",
        ("taints", true) => "a taint key=value:Effect",
        ("args", true) | ("extra_args", true) => "an argument",
        ("volumes", true) => "a volume /host/path:/container/path",
        ("url", _) => "a URL",
        ("pool", _) => "a pool name",
        ("storage_dataset", _) => "a dataset name",
        ("storage_mount_options", _) => "mount options like hard,noatime",
        ("nfs_server", _) => "a host name or address",
        _ => "text",
    }
}
