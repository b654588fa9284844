//! Bad stack.yaml input, one class per test (issue 13), each with the smallest file that shows
//! it: the real `foundry stack validate` must exit 3 (configuration), point at the exact
//! `file:line:col` and field, and never show a Rust type name. No hosts are contacted.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The smallest valid stack: every test breaks one thing in it.
const BASE: &str = "\
cluster:
  name: lab
  domain: lab.example.com
  vip: 10.0.0.50
network:
  cidr: 10.0.0.0/24
hosts:
  - hostname: node-1
    address: 10.0.0.11
    roles: [openbao, cluster-control-plane]
components:
  openbao: {}
  k3s: {version: v1.33.5+k3s1}
";

/// What a Rust type or serde internals would look like in a message.
const RUST_NAMES: &[&str] = &[
    "struct ",
    "enum ",
    "u8",
    "u16",
    "u64",
    "u128",
    "usize",
    "i64",
    "field identifier",
    "variant identifier",
    "Option<",
    "Vec<",
    "String",
    "serde",
    "repetition limit",
];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    file: String,
    took: Duration,
}

impl Run {
    /// The finding line at `line:col` (panics with the whole output when there is none).
    fn at(&self, line: usize, col: usize) -> &str {
        let prefix = format!("{}:{line}:{col}: ", self.file);
        self.stdout
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| {
                panic!(
                    "no finding at {line}:{col}:\n{}{}",
                    self.stdout, self.stderr
                )
            })
    }

    /// Exit 3, one finding at `line:col` for `path` containing `want`, no Rust names anywhere.
    fn error_at(&self, line: usize, col: usize, path: &str, want: &str) -> &str {
        assert_eq!(self.code, 3, "exit code\n{}{}", self.stdout, self.stderr);
        let f = self.at(line, col);
        let head = if path.is_empty() {
            "error: ".to_string()
        } else {
            format!("error: {path}: ")
        };
        assert!(f.contains(&head), "want {head:?} in {f:?}");
        assert!(f.contains(want), "want {want:?} in {f:?}");
        self.no_rust_names();
        f
    }

    fn no_rust_names(&self) {
        // The temporary file's name is random: look at what follows it.
        let text = format!("{}{}", self.stdout, self.stderr).replace(&self.file, "FILE");
        for n in RUST_NAMES {
            assert!(!has_word(&text, n), "Rust name {n:?} in:\n{text}");
        }
    }
}

/// `word` in `text`, not as part of a longer word (`u8` is not in `ubuntu8`).
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let edge = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric() && c != '_');
        edge(before) && (edge(after) || word.ends_with(' ') || word.ends_with('<'))
    })
}

fn validate(src: impl AsRef<[u8]>) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("stack.yaml");
    std::fs::write(&path, src).unwrap();
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_foundry"))
        .env_clear()
        .env("HOME", dir.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(["stack", "validate", "--config"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        file: path.display().to_string(),
        took: start.elapsed(),
    }
}

/// BASE with `from` replaced by `to`.
fn broken(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    BASE.replacen(from, to, 1)
}

#[test]
fn base_is_valid() {
    let r = validate(BASE);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

// 1. Null is not a string.
#[test]
fn null_is_not_a_string() {
    let r = validate(broken("hostname: node-1", "hostname: null"));
    r.error_at(
        8,
        15,
        "hosts[0].hostname",
        "expected a host name, found null",
    );
    let r = validate(broken("  name: lab", "  name: ~"));
    r.error_at(2, 9, "cluster.name", "found null");
}

// 2. Every field has a format.
#[test]
fn versions_have_their_upstream_syntax() {
    let r = validate(broken(
        "  openbao: {}",
        "  openbao: {version: \"2$(touch x)\"}",
    ));
    r.error_at(
        12,
        22,
        "components.openbao.version",
        "not an OpenBao version",
    );
    let r = validate(broken("  openbao: {}", "  openbao: {version: \"\"}"));
    // An empty value is reported at its key.
    r.error_at(
        12,
        13,
        "components.openbao.version",
        "not an OpenBao version",
    );
    let r = validate(broken(
        "  openbao: {}",
        "  openbao: {version: \"2.7.2\\n\"}",
    ));
    r.error_at(12, 22, "components.openbao.version", "2.7.2\\n");
    let r = validate(format!("{BASE}  zot: {{version: 2.1.22}}\n"));
    r.error_at(14, 18, "components.zot.version", "did you mean `v2.1.22`?");
}

#[test]
fn images_users_and_names_have_formats() {
    let svc = |s: &str| format!("{BASE}  services:\n    - {s}\n");
    validate(svc("{name: web, image: --privileged}")).error_at(
        15,
        26,
        "components.services[0].image",
        "not an image reference",
    );
    validate(svc("{name: web, image: 'nginx --privileged'}")).error_at(
        15,
        26,
        "components.services[0].image",
        "not an image reference",
    );
    validate(broken(
        "    address: 10.0.0.11\n",
        "    address: 10.0.0.11\n    user: -oProxyCommand=x\n",
    ))
    .error_at(10, 11, "hosts[0].user", "not a user name");
    validate(format!("{BASE}  zot: {{upstreams: ['ghcr.io/x']}}\n")).error_at(
        14,
        21,
        "components.zot.upstreams[0]",
        "not a registry host name",
    );
    validate(format!("{BASE}  host_prep: {{packages: [-y]}}\n")).error_at(
        14,
        26,
        "components.host_prep.packages[0]",
        "not a package name",
    );
}

#[test]
fn ports_are_integers_only() {
    let r = validate(broken(
        "    address: 10.0.0.11\n",
        "    address: 10.0.0.11\n    port: \"22\"\n",
    ));
    r.error_at(10, 11, "hosts[0].port", "write it without quotes");
    let r = validate(broken(
        "    address: 10.0.0.11\n",
        "    address: 10.0.0.11\n    port: !!str 22\n",
    ));
    r.error_at(10, 17, "hosts[0].port", "tagged `!!str`");
}

#[test]
fn network_and_storage_values() {
    let r = validate(broken(
        "  cidr: 10.0.0.0/24",
        "  gateway: 10.0.0.0\n  netmask: 255.255.255.0",
    ));
    r.error_at(6, 12, "network.gateway", "network or broadcast address");
    let long = format!("{}.com", "a.".repeat(130));
    let r = validate(broken(
        "domain: lab.example.com",
        &format!("domain: {long}"),
    ));
    r.error_at(3, 11, "cluster.domain", "not a DNS domain name");
    let st = "storage:\n  truenas:\n    url: https://nas\n    api_key: ''\n    pool: tank\n    datasets: [{name: ../etc}]\n";
    let r = validate(format!("{BASE}{st}"));
    r.error_at(17, 5, "storage.truenas.api_key", "api_key is empty");
    r.error_at(19, 23, "storage.truenas.datasets[0].name", "no `..`");
}

// 3. All errors at once.
#[test]
fn all_errors_in_one_run_sorted() {
    let src = broken("  name: lab", "  name: lab\n  nmae: x")
        .replace(
            "    roles: [openbao, cluster-control-plane]",
            "    port: x\n    roles: [openbao, cluster-control-plane]",
        )
        .replace("  openbao: {}", "  openbao: {version: v2.7.2}");
    let r = validate(src);
    r.error_at(3, 3, "cluster.nmae", "did you mean `name`?");
    r.error_at(11, 11, "hosts[0].port", "whole number from 0 to 65535");
    r.error_at(
        14,
        22,
        "components.openbao.version",
        "did you mean `2.7.2`?",
    );
    let lines: Vec<_> = r
        .stdout
        .lines()
        .filter(|l| l.contains(": error: "))
        .collect();
    assert_eq!(lines.len(), 3, "{}", r.stdout);
    assert!(r.stdout.contains("3 errors"), "{}", r.stdout);
}

// 4. Locations and messages.
#[test]
fn bad_bytes_are_located() {
    let r = validate(b"cluster:\n  name: l\xffb\n");
    r.error_at(2, 10, "", "not UTF-8");
    let r = validate(format!("{BASE}# a comment \0 with a NUL\n"));
    r.error_at(14, 13, "", "U+0000");
    assert!(!r.stdout.contains("empty"), "{}", r.stdout);
}

#[test]
fn duplicate_key_is_reported_at_the_duplicate() {
    let r = validate(broken(
        "  vip: 10.0.0.50\n",
        "  vip: 10.0.0.50\n  name: lab2\n",
    ));
    r.error_at(
        5,
        3,
        "cluster.name",
        "duplicate key `name` (first at line 2)",
    );
}

#[test]
fn quoted_values_are_escaped_and_cut() {
    let long = "x".repeat(200);
    let r = validate(broken(
        "hostname: node-1",
        &format!("hostname: \"{long}\\nerror: forged\""),
    ));
    let f = r.error_at(8, 15, "hosts[0].hostname", "not a valid hostname");
    // 200 + `\\n` (escaped: 2) + 13: counted as shown.
    assert!(f.contains("… (215 characters)"), "{f}");
    assert!(
        !r.stdout.lines().any(|l| l.starts_with("error: forged")),
        "{}",
        r.stdout
    );
    assert!(f.contains(&format!("`{}…", "x".repeat(80))), "{f}");
}

// 5. Alias bombs.
#[test]
fn alias_bomb_is_refused_before_memory_grows() {
    // 2,000 labels, anchored once, aliased by 100 hosts: 200,000 values from a 30 KB file.
    let labels: Vec<String> = (0..2000).map(|i| format!("k{i}: v")).collect();
    let host = format!(
        "  - &h {{hostname: node-1, address: 10.0.0.11, roles: [openbao, cluster-control-plane], labels: {{{}}}}}\n",
        labels.join(", ")
    );
    let aliases = "  - *h\n".repeat(100);
    let src = broken(
        "  - hostname: node-1\n    address: 10.0.0.11\n    roles: [openbao, cluster-control-plane]\n",
        &format!("{host}{aliases}"),
    );
    let r = validate(&src);
    assert!(r.took < Duration::from_secs(10), "took {:?}", r.took);
    // Refused at the alias being expanded when the budget ran out, not inside the anchor.
    let f = r
        .stdout
        .lines()
        .find(|l| l.contains("expand to more than"))
        .unwrap_or_else(|| panic!("{}{}", r.stdout, r.stderr));
    assert!(f.contains(": error: hosts["), "{f}");
    let line: usize = f.split(':').nth(1).unwrap().parse().unwrap();
    assert!(line > 8, "{f}");
    assert!(src.lines().nth(line - 1).unwrap().contains("*h"), "{f}");
    assert_eq!(r.code, 3);
    r.no_rust_names();
}

// 7 (validation half). What reaches a host is one line.
#[test]
fn line_breaks_never_reach_unit_or_config_files() {
    let hp = |s: &str| format!("{BASE}  host_prep: {s}\n");
    validate(hp("{kernel_modules: [\"overlay\\nevil\"]}")).error_at(
        14,
        32,
        "components.host_prep.kernel_modules[0]",
        "not a kernel module name",
    );
    validate(hp("{sysctls: {net.ipv4.ip_forward: \"1\\nkernel.x = 1\"}}")).error_at(
        14,
        46,
        "components.host_prep.sysctls[\"net.ipv4.ip_forward\"]",
        "must be one line",
    );
    validate(format!(
        "{BASE}  services:\n    - {{name: web, image: nginx, args: [\"a\\rb\"]}}\n"
    ))
    .error_at(15, 40, "components.services[0].args[0]", "U+000D");
}

// 8 (validation half). A wide mode on a service file is warned about; plain content still valid.
#[test]
fn wide_file_mode_is_warned() {
    let src = format!("{BASE}  services:\n    - name: web\n      image: nginx\n      files:\n        /etc/web/a.conf: plain\n        /etc/web/b.conf: {{content: x, mode: \"0644\"}}\n");
    let r = validate(src);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let f = r.at(19, 9);
    assert!(
        f.contains("warning: ") && f.contains("wider than 0640"),
        "{f}"
    );
    r.no_rust_names();
}

// 12. Coming from the Go foundry.
#[test]
fn go_foundry_fields_point_to_the_new_ones() {
    let r = validate(format!("version: 2\n{BASE}"));
    r.error_at(1, 1, "version", "coming-from-foundry-go");
    let r = validate(broken(
        "  vip: 10.0.0.50\n",
        "  vip: 10.0.0.50\n  nodes: [a, b]\n",
    ));
    r.error_at(5, 3, "cluster.nodes", "under `hosts:`");
    let r = validate(broken("  openbao: {}", "  openbao: {hosts: [node-1]}"));
    let f = r.error_at(
        12,
        13,
        "components.openbao.hosts",
        "add `openbao` to those hosts' `roles:`",
    );
    assert_eq!(f.matches("coming-from-foundry-go").count(), 1, "{f}");
}

// Zot on a TrueNAS share (issue 12 §3): what goes into the mount unit is checked for what it
// is, and the dataset must be one Zot can mount and write.
#[test]
fn zot_on_a_truenas_share_needs_a_writable_share_it_may_mount() {
    let with = |zot: &str, datasets: &str| {
        format!(
            "{}  zot:\n{zot}storage:\n  truenas:\n    url: https://nas.lab.example.com\n    api_key: ${{secret:truenas:api_key}}\n    pool: tank\n    datasets:\n{datasets}",
            BASE.replace("roles: [openbao,", "roles: [openbao, zot,")
        )
    };
    let r = validate(with(
        "    storage_dataset: registry\n    storage_mount_options: hard, noatime\n    storage_path: /var/lib/../zot\n",
        "      - name: registry\n        nfs: true\n        nfs_read_only: true\n        nfs_networks: [192.168.0.0/24]\n",
    ));
    r.error_at(
        16,
        28,
        "components.zot.storage_mount_options",
        "not a list of mount options",
    );
    r.error_at(17, 19, "components.zot.storage_path", "not a mount point");
    r.error_at(
        26,
        24,
        "storage.truenas.datasets[0].nfs_read_only",
        "must not be read-only",
    );
    r.error_at(
        27,
        9,
        "storage.truenas.datasets[0].nfs_networks",
        "Zot host node-1 (10.0.0.11) may not mount dataset `registry`",
    );
    assert!(r.stdout.contains("nfs_maproot_user: root"), "{}", r.stdout);

    let r = validate(with(
        "    storage_dataset: registy\n",
        "      - {name: registry, nfs: true}\n",
    ));
    r.error_at(
        15,
        22,
        "components.zot.storage_dataset",
        "`registy` is not in storage.truenas.datasets (known: registry)",
    );
    let r = validate(with(
        "    storage_dataset: registry\n",
        "      - {name: registry}\n",
    ));
    r.error_at(15, 22, "components.zot.storage_dataset", "set `nfs: true`");

    // one share, one Zot: two instances on one storage directory would fight over it
    let two = with(
        "    storage_dataset: registry\n",
        "      - {name: registry, nfs: true, nfs_maproot_user: root}\n",
    )
    .replace(
        "hosts:\n",
        "hosts:\n  - {hostname: node-2, address: 10.0.0.12, roles: [zot]}\n",
    );
    validate(two).error_at(
        16,
        22,
        "components.zot.storage_dataset",
        "shared by 2 zot hosts (node-2, node-1)",
    );
}
