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

#[derive(Debug, Clone, Args)]
pub struct GlobalOpts {
    /// Stack file [default: ~/.foundry/stack.yaml]
    #[arg(long, global = true, env = "FOUNDRY_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Secret context: OpenBao KV paths and ~/.foundryvars entries live under this name
    #[arg(
        long,
        global = true,
        env = "FOUNDRY_INSTANCE",
        default_value = "foundry-core",
        value_name = "NAME"
    )]
    pub instance: String,
    /// Output format
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// More detail (-v: each remote command; -vv: debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors and the final result
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Never prompt; fail where a prompt would be needed
    #[arg(long, global = true)]
    pub yes: bool,
    /// Record host keys of hosts seen for the first time (a changed key is always refused)
    #[arg(long, global = true)]
    pub accept_new_host_keys: bool,
}

impl GlobalOpts {
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
    /// Operate the K3s cluster: status, nodes
    #[command(subcommand)]
    Cluster(ClusterCmd),
    /// Print a shell completion script
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum StackCmd {
    /// Check stack.yaml: syntax, schema, and consistency
    Validate {
        /// Also connect to every host
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
}

#[derive(Debug, Subcommand)]
pub enum ComponentCmd {
    /// All components: dependencies, target roles, where installed
    List,
    /// Status of one component on its hosts
    Status {
        /// Component name (see `component list`)
        name: String,
        /// Only these hosts (repeatable)
        #[arg(long = "host", value_name = "HOST")]
        hosts: Vec<String>,
    },
    /// Install (or converge) one component
    Install {
        /// Component name (see `component list`)
        name: String,
        /// Show the plan, change nothing
        #[arg(long)]
        dry_run: bool,
        /// Only these hosts (repeatable); the component's other hosts are not touched
        #[arg(long = "host", value_name = "HOST")]
        hosts: Vec<String>,
    },
    /// Remove one component from its hosts
    Uninstall {
        /// Component name (see `component list`)
        name: String,
        /// Only these hosts (repeatable)
        #[arg(long = "host", value_name = "HOST")]
        hosts: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Write a new stack.yaml (prompts on a TTY; flags for CI)
    Init(ConfigInitArgs),
    /// Print the stack file with secrets masked
    Show,
    /// Print one value by dotted path, e.g. components.k3s.version
    Get { path: String },
    /// Set one value by dotted path, keeping the rest of the file
    Set { path: String, value: String },
}

#[derive(Debug, Clone, Args)]
pub struct ConfigInitArgs {
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub domain: Option<String>,
    #[arg(long)]
    pub vip: Option<String>,
    /// Hosts' network, e.g. 192.168.10.0/24
    #[arg(long)]
    pub cidr: Option<String>,
    /// First host: NAME=ADDRESS
    #[arg(long, value_name = "NAME=ADDRESS")]
    pub host: Option<String>,
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
    Remove { name: String },
    /// Connect to hosts in parallel: sudo, OS, arch, init, runtime, disk
    Test { names: Vec<String> },
}

#[derive(Debug, Clone, Args)]
pub struct HostAddArgs {
    pub name: String,
    #[arg(long)]
    pub address: String,
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long)]
    pub port: Option<u16>,
    /// Comma-separated: openbao, zot, cluster-control-plane, cluster-worker
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
    Get { path: String, key: String },
    /// Store a secret: PATH KEY VALUE (VALUE "-" reads standard input)
    Set {
        path: String,
        key: String,
        value: String,
        /// Where to write: openbao (default when reachable) or file (~/.foundryvars)
        #[arg(long)]
        backend: Option<String>,
    },
    /// List secret paths and keys (never values)
    List { prefix: Option<String> },
    /// Generate a random secret and store it
    Generate {
        path: String,
        key: String,
        #[arg(long, default_value_t = 32)]
        length: usize,
        /// alnum, hex, or a literal set of characters
        #[arg(long, default_value = "alnum")]
        alphabet: String,
        #[arg(long)]
        backend: Option<String>,
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
    /// Nodes, etcd members, the VIP, /readyz, kube-system Deployments (exit 7 if unhealthy)
    Status(KubeArgs),
    /// List and remove cluster nodes
    #[command(subcommand)]
    Node(NodeCmd),
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
