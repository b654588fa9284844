//! Command-line definition (clap derive). Handlers live in `commands/`, one file per group.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "foundry", version, about = "Install and operate a small self-hosted platform over SSH", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

/// The help heading of the flags every command takes: listed once, apart from the command's own.
const GLOBAL: &str = "Global options";

#[derive(Debug, Clone, Args)]
pub struct GlobalOpts {
    /// Stack file [default: ~/.foundry/stack.yaml]
    #[arg(long, global = true, env = "FOUNDRY_CONFIG", value_name = "PATH", help_heading = GLOBAL)]
    pub config: Option<PathBuf>,
    /// Secret context: OpenBao KV paths and ~/.foundryvars entries live under this name
    #[arg(
        long,
        global = true,
        env = "FOUNDRY_INSTANCE",
        default_value = "foundry-core",
        value_name = "NAME",
        help_heading = GLOBAL
    )]
    pub instance: String,
    /// Output format: table for people, json or yaml for programs
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Table, help_heading = GLOBAL)]
    pub output: OutputFormat,
    /// More detail (-v: each remote command; -vv: debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,
    /// Only errors and the final result
    #[arg(short, long, global = true, conflicts_with = "verbose", help_heading = GLOBAL)]
    pub quiet: bool,
    /// Never prompt; fail where a prompt would be needed
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub yes: bool,
    /// Record host keys of hosts seen for the first time (a changed key is always refused)
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub accept_new_host_keys: bool,
}

impl GlobalOpts {
    /// A warning for the person at the terminal: on stderr, hidden by `-q`.
    pub fn warn(&self, msg: &str) {
        if !self.quiet {
            eprintln!("warning: {msg}");
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(crate::paths::default_config)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate, plan, install and check the whole stack
    #[command(subcommand)]
    Stack(StackCmd),
    /// Work on one component
    #[command(subcommand)]
    Component(ComponentCmd),
    /// Create, show and edit stack.yaml
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Manage and test the hosts in stack.yaml
    #[command(subcommand)]
    Host(HostCmd),
    /// Read and write secrets (environment, ~/.foundryvars, OpenBao)
    #[command(subcommand)]
    Secret(SecretCmd),
    /// Unseal and inspect the stack's OpenBao
    #[command(subcommand)]
    Openbao(OpenbaoCmd),
    /// TrueNAS storage: configure the connection, list datasets and shares, test
    #[command(subcommand)]
    Storage(StorageCmd),
    /// Operate the K3s cluster: status, nodes
    #[command(subcommand)]
    Cluster(ClusterCmd),
    /// Print a shell completion script
    Completion {
        /// The shell to print the script for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum StackCmd {
    /// Check stack.yaml: syntax, schema, and consistency
    Validate {
        /// Also connect to every host (read-only): SSH, sudo, facts, and the K3s preflight on cluster hosts
        #[arg(long)]
        check_hosts: bool,
    },
    /// Show, per host, exactly what `stack install` would change
    Plan {
        /// Don't contact any host: show what each component would do per role
        #[arg(long)]
        offline: bool,
    },
    /// Install every enabled component in dependency order
    Install {
        /// Same as `stack plan`
        #[arg(long)]
        dry_run: bool,
    },
    /// Component × host: installed, version, healthy
    Status,
    /// Deploy a tiny workload with an Ingress and a certificate, check it answers through Envoy, remove it
    Test {
        /// The workload's image (pulled through Zot like every image)
        #[arg(long, default_value = crate::cluster::smoke::DEFAULT_IMAGE)]
        image: String,
        /// How long each wait (rollout, certificate, first answer) may take, in seconds
        #[arg(long, default_value_t = 180, value_name = "SECS")]
        timeout: u64,
        /// Leave the test namespace in place (for a look with kubectl)
        #[arg(long)]
        keep: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ComponentCmd {
    /// The components: what each is, its dependencies and hosts (no stack file: all foundry can install)
    List {
        /// Also ask every host whether it is installed there (connects; read-only)
        #[arg(long)]
        status: bool,
    },
    /// Status of one component on its hosts
    Status {
        /// Component name (see `foundry component list`)
        name: String,
        /// Only these hosts (repeatable)
        #[arg(long = "host", value_name = "HOST")]
        hosts: Vec<String>,
    },
    /// Install (or converge) one component
    Install {
        /// Component name (see `foundry component list`)
        name: String,
        /// Show what would change, change nothing
        #[arg(long)]
        dry_run: bool,
        /// Only these hosts (repeatable); the component's other hosts are not touched
        #[arg(long = "host", value_name = "HOST")]
        hosts: Vec<String>,
    },
    /// Remove one component from its hosts
    Uninstall {
        /// Component name (see `foundry component list`)
        name: String,
        /// Only these hosts (repeatable)
        #[arg(long = "host", value_name = "HOST")]
        hosts: Vec<String>,
        /// Show every removal step, change nothing
        #[arg(long)]
        dry_run: bool,
        /// Also delete what the component keeps in OpenBao (tokens, passwords, kubeconfig) and
        /// on this machine; without it a reinstall finds them again
        #[arg(long)]
        purge: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Write a new stack.yaml (prompts on a TTY; flags for CI)
    Init(ConfigInitArgs),
    /// Print the stack file with secrets masked
    Show,
    /// Print one value by dotted path, e.g. components.k3s.version
    Get {
        /// Field path, e.g. hosts[0].address or components.k3s.version
        path: String,
    },
    /// Set one value by dotted path, keeping the rest of the file
    Set {
        /// Field path, e.g. hosts[0].address or components.k3s.version
        path: String,
        /// New value, read as YAML (quote it to force text)
        value: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct ConfigInitArgs {
    /// Cluster name (RFC 1123 label), e.g. lab
    #[arg(long)]
    pub name: Option<String>,
    /// Base DNS domain, e.g. home.example.com
    #[arg(long)]
    pub domain: Option<String>,
    /// Free address in the hosts' network for the Kubernetes API (kube-vip)
    #[arg(long)]
    pub vip: Option<String>,
    /// Hosts' network, e.g. 192.168.10.0/24
    #[arg(long)]
    pub cidr: Option<String>,
    /// First host: NAME=ADDRESS
    #[arg(long, value_name = "NAME=ADDRESS")]
    pub host: Option<String>,
    /// SSH login user for the hosts [default: root]
    #[arg(long)]
    pub user: Option<String>,
    /// Overwrite an existing file
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum HostCmd {
    /// Add a host to stack.yaml
    Add(HostAddArgs),
    /// List hosts
    List,
    /// Remove a host from stack.yaml
    Remove {
        /// The host's hostname in stack.yaml
        name: String,
    },
    /// Connect to hosts in parallel: sudo, OS, arch, init, runtime, disk
    Test {
        /// Hostnames to test [default: every host]
        names: Vec<String>,
    },
}

#[derive(Debug, Clone, Args)]
pub struct HostAddArgs {
    /// Hostname (becomes the Kubernetes node name)
    pub name: String,
    /// IP address or DNS name foundry connects to
    #[arg(long)]
    pub address: String,
    /// SSH login user [default: ssh.user]
    #[arg(long)]
    pub user: Option<String>,
    /// SSH port [default: 22]
    #[arg(long)]
    pub port: Option<u16>,
    /// Comma-separated: openbao, zot, cluster-control-plane, cluster-worker, cluster (K3s server
    /// or agent, picked by the node count)
    #[arg(long, value_delimiter = ',')]
    pub roles: Vec<String>,
    /// Private key file
    #[arg(long)]
    pub key: Option<String>,
    /// Log in once with this password (or a ${secret:...} reference; prompted when empty)
    /// and install a foundry-generated ed25519 key
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    pub bootstrap_password: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SecretCmd {
    /// Print one secret value: PATH KEY
    Get {
        /// Secret path, e.g. hosts/node-1
        path: String,
        /// Key under the path, e.g. password
        key: String,
    },
    /// Store a secret: PATH KEY VALUE (VALUE "-" reads standard input)
    Set {
        /// Secret path, e.g. hosts/node-1
        path: String,
        /// Key under the path, e.g. password
        key: String,
        /// The value, or - to read it from standard input (keeps it out of `ps` and history)
        value: String,
        /// Where to write: openbao (default when reachable) or file (~/.foundryvars)
        #[arg(long)]
        backend: Option<String>,
    },
    /// List secret paths and keys (never values)
    List {
        /// Only paths starting with this
        prefix: Option<String>,
    },
    /// Generate a random secret and store it
    Generate {
        /// Secret path, e.g. app/db
        path: String,
        /// Key under the path, e.g. password
        key: String,
        /// Number of characters
        #[arg(long, default_value_t = 32)]
        length: usize,
        /// alnum, hex, or a literal set of characters
        #[arg(long, default_value = "alnum")]
        alphabet: String,
        /// Where to write: openbao (default when reachable) or file (~/.foundryvars)
        #[arg(long)]
        backend: Option<String>,
        /// Replace a value that already exists (whatever uses the old one stops working)
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum OpenbaoCmd {
    /// Unseal with stored keys (or prompted ones)
    Unseal,
    /// Initialized, sealed, version, health
    Status,
}

// ---- cluster day-two commands (issue 10; handlers in commands/cluster_day2.rs) ----------

#[derive(Debug, Subcommand)]
pub enum ClusterCmd {
    /// Install K3s behind the VIP and everything it needs first (host-prep, OpenBao, Zot, storage)
    Init {
        /// Show the plan, change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the cluster's kubeconfig (server = the VIP), or merge it into ~/.kube/config
    Kubeconfig {
        /// Merge into ~/.kube/config (or $KUBECONFIG's first file) as context <cluster name>, after a backup
        #[arg(long)]
        merge: bool,
        /// With --merge: replace a same-named context that points at another API server
        #[arg(long, requires = "merge")]
        force: bool,
    },
    /// Nodes, etcd members, the VIP, /readyz, kube-system Deployments (exit 7 if unhealthy)
    Status(KubeArgs),
    /// etcd snapshot on a server, copied to ~/.foundry/<cluster>/backups/ (0600, with its sha256 and the server token)
    Backup {
        /// Snapshot name [default: foundry-<UTC time>]
        #[arg(long)]
        name: Option<String>,
    },
    /// Restore an etcd snapshot written by `cluster backup` (stops every server; --dry-run first)
    Restore {
        /// The snapshot file (its .sha256 and .token files beside it)
        file: PathBuf,
        /// Show every step, change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Rolling K3s upgrade: servers one at a time, then agents (cordon, drain, binary, restart, wait)
    Upgrade(UpgradeArgs),
    /// List, add and remove cluster nodes
    #[command(subcommand)]
    Node(NodeCmd),
}

#[derive(Debug, Clone, Args)]
pub struct UpgradeArgs {
    /// Target release, e.g. v1.33.6+k3s1 [default: components.k3s.version]; written into
    /// stack.yaml (comments kept) once every node runs it
    #[arg(long, value_name = "VERSION")]
    pub version: Option<String>,
    /// Cordon and restart without evicting pods first
    #[arg(long)]
    pub no_drain: bool,
    /// Also evict pods with emptyDir volumes (their emptyDir data is lost)
    #[arg(long)]
    pub delete_emptydir_data: bool,
    /// Deadline in seconds for each drain wait (PDB-blocked evictions, pods gone)
    #[arg(long, default_value_t = 300, value_name = "S")]
    pub timeout: u64,
    /// Show every step, change nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// Where the day-two commands find the cluster's API.
#[derive(Debug, Clone, Args)]
pub struct KubeArgs {
    /// Kubeconfig file [default: this stack's kubeconfig in OpenBao, then ~/.foundry/<cluster>/kubeconfig]
    #[arg(long, env = "FOUNDRY_KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum NodeCmd {
    /// One row per Node joined with stack.yaml's cluster hosts
    List(KubeArgs),
    /// Join a host of stack.yaml to the running cluster (host-prep + K3s on that host only)
    Add {
        /// The host (hosts[].hostname, with a cluster role)
        host: String,
        /// Show the plan, change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Drain and delete a node (refuses to break etcd quorum); --yes to skip the prompt
    Remove(NodeRemoveArgs),
}

#[derive(Debug, Clone, Args)]
pub struct NodeRemoveArgs {
    /// The host (= Node name)
    pub host: String,
    /// List every step, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Deadline in seconds for each wait (PDB-blocked evictions, pods gone, etcd member gone)
    #[arg(long, default_value_t = 300, value_name = "S")]
    pub timeout: u64,
    /// Also evict pods with emptyDir volumes (their data is lost)
    #[arg(long)]
    pub delete_emptydir_data: bool,
    /// Remove the last server, or a server whose removal loses etcd quorum
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(Debug, Subcommand)]
pub enum StorageCmd {
    /// Connect to TrueNAS, check the API key, create the base dataset, write storage.truenas
    Configure(StorageConfigureArgs),
    /// Datasets of the pool: type, used/available, quota, NFS share and its networks
    List,
    /// Connect, log in, create and delete a temporary dataset; reports each step
    Test,
    /// Stop managing a dataset: delete its NFS share, drop it from stack.yaml; data kept unless --destroy-data
    Remove(StorageRemoveArgs),
}

#[derive(Debug, Clone, Args)]
pub struct StorageRemoveArgs {
    /// The dataset as in storage.truenas.datasets (`k8s/volumes`) or its full name (`tank/k8s/volumes`)
    pub dataset: String,
    /// Also destroy the dataset, its children and snapshots (asks for the full name to be typed)
    #[arg(long)]
    pub destroy_data: bool,
    /// Show what would be deleted (and lost), change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// The dataset's full name (`tank/k8s/volumes`): confirms without a terminal; needed for --destroy-data there
    #[arg(long, value_name = "NAME")]
    pub confirm: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct StorageConfigureArgs {
    /// https://HOST[:PORT] of the TrueNAS (prompted on a terminal)
    #[arg(long)]
    pub url: Option<String>,
    /// The API key's owner [default: truenas_admin]
    #[arg(long)]
    pub user: Option<String>,
    /// Read the API key from standard input (else prompted, hidden, on a terminal)
    #[arg(long)]
    pub api_key_stdin: bool,
    /// ZFS pool [default: the only pool, or prompted]
    #[arg(long)]
    pub pool: Option<String>,
    /// Base dataset under the pool, created when missing
    #[arg(long, default_value = "foundry")]
    pub dataset: String,
    /// Trust exactly this certificate: sha256 of TrueNAS' leaf certificate
    #[arg(long, value_name = "SHA256")]
    pub tls_fingerprint: Option<String>,
    /// Trust the CA in this PEM file
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every option and positional argument of every command says what it is, and the global
    /// flags sit under their own heading.
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for a in cmd.get_arguments() {
            let id = a.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            if a.get_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
            if a.is_global_set() && a.get_help_heading() != Some(GLOBAL) {
                missing.push(format!("{path} {id}: global flag outside \"{GLOBAL}\""));
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            if sub.get_about().is_none() {
                missing.push(format!("{path} {} (command)", sub.get_name()));
            }
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }

    #[test]
    fn every_argument_has_help() {
        let mut missing = Vec::new();
        walk(&Cli::command(), "foundry", &mut missing);
        assert!(missing.is_empty(), "without a description: {missing:#?}");
    }
}
