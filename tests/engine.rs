//! The component engine on three real test-bed hosts (systemd + sshd + podman in nspawn):
//! host-prep plus a container service run by the real podman under a real systemd unit, pulled
//! from the bed's registry. Proves convergence, a zero-mutation re-run (counted from the run
//! log), a one-value change planned and applied alone, and a host lost mid-run.

mod support;

use std::time::{Duration, Instant};
use support::{bed, Sandbox, TestHost, REGISTRY};

fn stack_yaml(hosts: &[&TestHost], page: &str) -> String {
    let mut s = format!(
        "cluster: {{name: bedtest, domain: bed.test, vip: 10.214.0.250}}\n\
         network: {{cidr: 10.214.0.0/24}}\n\
         ssh: {{connect_timeout: 5}}\n\
         images: {{registry: \"{REGISTRY}\", insecure: true}}\n\
         hosts:\n"
    );
    for h in hosts {
        s.push_str(&format!(
            "  - {{hostname: {}, address: {}, roles: [cluster-control-plane]}}\n",
            h.name, h.ip
        ));
    }
    s.push_str(&format!(
        "components:\n\
         \x20 services:\n\
         \x20   - name: web\n\
         \x20     image: library/busybox:stable\n\
         \x20     args: [httpd, -f, -p, \"8088\", -h, /www]\n\
         \x20     volumes: [\"/srv/web:/www:ro\"]\n\
         \x20     files:\n\
         \x20       /srv/web/index.html: \"{page}\\n\"\n"
    ));
    s
}

/// `"kind":"exec"` lines with `"mutating":true` in a run log.
fn mutating_execs(log: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"kind\":\"exec\"") && l.contains("\"mutating\":true"))
        .map(String::from)
        .collect()
}

fn newest_log(sb: &Sandbox) -> std::path::PathBuf {
    sb.run_logs().last().cloned().expect("a run log")
}

fn http_get(ip: &str, port: u16) -> String {
    let out = std::process::Command::new("curl")
        .args(["-fsS", "--max-time", "5", &format!("http://{ip}:{port}/")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Make `podman image exists` (the service's state probe) take `secs` seconds on this host, so a
/// test can act while foundry is in the middle of that host's work.
fn slow_image_probe(h: &TestHost, secs: u32) {
    h.ssh_ok(&format!(
        "mv /usr/bin/podman /usr/bin/podman.real && printf '#!/bin/sh\\n[ \"$1 $2\" = \"image exists\" ] && sleep {secs}\\nexec /usr/bin/podman.real \"$@\"\\n' > /usr/bin/podman && chmod 755 /usr/bin/podman"
    ));
}

/// Wait until the newest run log records the first component (host-prep) done on every host.
fn wait_for_first_component(sb: &Sandbox) {
    let t0 = Instant::now();
    while !sb
        .run_logs()
        .last()
        .map(|l| {
            std::fs::read_to_string(l)
                .unwrap_or_default()
                .contains("\"event\":\"component_done\"")
        })
        .unwrap_or(false)
    {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "host-prep never finished"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn converges_then_reruns_with_zero_mutations_then_applies_one_change() {
    let b = bed();
    let _ = b.busybox_image();
    let hosts: Vec<TestHost> = (0..3).map(|_| b.host("eng")).collect();
    let refs: Vec<&TestHost> = hosts.iter().collect();
    let sb = Sandbox::new();
    for h in &hosts {
        sb.trust(h);
    }
    let cfg = sb.write("stack.yaml", &stack_yaml(&refs, "hello v1"));
    let cfg = cfg.to_str().unwrap();

    // 1. First install converges, and the container really serves on every host.
    let r = sb.foundry(&["--config", cfg, "stack", "install"]);
    r.ok();
    for h in &hosts {
        assert_eq!(http_get(&h.ip, 8088), "hello v1\n", "web on {}", h.name);
        assert_eq!(h.ssh_ok("systemctl is-active web.service").trim(), "active");
        assert_eq!(
            h.ssh_ok("systemctl is-enabled web.service").trim(),
            "enabled"
        );
    }
    assert!(!mutating_execs(&newest_log(&sb)).is_empty());

    // 2. Re-run: nothing to do, and not one mutating remote command.
    let t = Instant::now();
    let r = sb.foundry(&["--config", cfg, "stack", "install"]);
    r.ok();
    let rerun = t.elapsed();
    assert!(r.stdout.contains("No changes."), "{}", r.stdout);
    let muts = mutating_execs(&newest_log(&sb));
    assert!(muts.is_empty(), "re-run mutated: {muts:#?}");
    eprintln!("no-op re-run on 3 hosts: {rerun:?}");

    // 3. Change one value: plan lists exactly that change (+ the restart it implies) per host.
    std::fs::write(cfg, stack_yaml(&refs, "hello v2")).unwrap();
    let r = sb.foundry(&["--config", cfg, "stack", "plan"]);
    r.ok();
    let changes: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("  + ")).collect();
    assert_eq!(changes.len(), 6, "plan:\n{}", r.stdout);
    for h in &hosts {
        assert!(
            r.stdout.contains(&format!("service/web on {}:", h.name)),
            "{}",
            r.stdout
        );
    }
    assert_eq!(
        changes
            .iter()
            .filter(|l| l.contains("update /srv/web/index.html"))
            .count(),
        3,
        "{}",
        r.stdout
    );
    assert_eq!(
        changes
            .iter()
            .filter(|l| l.contains("restart web.service (config changed)"))
            .count(),
        3,
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("+hello v2") && r.stdout.contains("-hello v1"),
        "diff shown:\n{}",
        r.stdout
    );
    // host-prep may list what the nspawn hosts cannot do ("! cannot: ..."), but no change.
    let mut section = "";
    for l in r.stdout.lines() {
        if !l.starts_with(' ') && l.ends_with(':') {
            section = l;
        } else if l.starts_with("  + ") {
            assert!(
                section.starts_with("service/web on "),
                "unexpected change in `{section}`: {l}\n{}",
                r.stdout
            );
        }
    }
    assert!(
        mutating_execs(&newest_log(&sb)).is_empty(),
        "plan must not mutate"
    );
    for h in &hosts {
        assert_eq!(
            http_get(&h.ip, 8088),
            "hello v1\n",
            "plan changed {}",
            h.name
        );
    }

    // ... and install applies only it: one upload + one restart per host.
    let r = sb.foundry(&["--config", cfg, "stack", "install"]);
    r.ok();
    let muts = mutating_execs(&newest_log(&sb));
    assert_eq!(muts.len(), 6, "{muts:#?}");
    for h in &hosts {
        assert_eq!(http_get(&h.ip, 8088), "hello v2\n");
    }
    let r = sb.foundry(&["--config", cfg, "stack", "install"]);
    r.ok();
    assert!(mutating_execs(&newest_log(&sb)).is_empty());
}

#[test]
fn a_host_lost_mid_run_fails_alone_and_the_next_run_converges() {
    let b = bed();
    let _ = b.busybox_image();
    let hosts: Vec<TestHost> = (0..3).map(|_| b.host("cut")).collect();
    let refs: Vec<&TestHost> = hosts.iter().collect();
    let sb = Sandbox::new();
    for h in &hosts {
        sb.trust(h);
    }
    let cfg = sb.write("stack.yaml", &stack_yaml(&refs, "lost"));
    let cfg = cfg.to_str().unwrap().to_string();
    let victim = &hosts[1];
    // Slow down the web service's state probe on the victim only, so the test can cut its
    // network while foundry is in the middle of that host's work.
    slow_image_probe(victim, 8);

    let child = sb.spawn_foundry(&["--config", &cfg, "stack", "install"]);
    // Wait until host-prep is done everywhere, then cut the victim.
    wait_for_first_component(&sb);
    std::thread::sleep(Duration::from_millis(500));
    victim.cut_network();
    let r = sb.wait_foundry(child);
    assert_eq!(
        r.code, 6,
        "partial failure exit code; stdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    assert!(
        r.stderr
            .contains(&format!("service/web on {}", victim.name)),
        "names host:\n{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("plan") || r.stderr.contains("step"),
        "names the step:\n{}",
        r.stderr
    );
    for h in [&hosts[0], &hosts[2]] {
        assert_eq!(http_get(&h.ip, 8088), "lost\n", "{} finished", h.name);
    }

    victim.restore_network();
    let r = sb.foundry(&["--config", &cfg, "stack", "install"]);
    r.ok();
    assert_eq!(http_get(&victim.ip, 8088), "lost\n");
    let r = sb.foundry(&["--config", &cfg, "stack", "install"]);
    r.ok();
    assert!(mutating_execs(&newest_log(&sb)).is_empty());
}

/// Two runs on one stack cannot interleave (the second exits 8 naming the lock), and Ctrl-C
/// lets the running work finish, starts no new step, and exits 130; a re-run then converges.
#[test]
fn a_second_run_is_locked_out_and_ctrl_c_starts_no_new_step() {
    let b = bed();
    let _ = b.busybox_image();
    let h = b.host("int");
    let sb = Sandbox::new();
    sb.trust(&h);
    let cfg = sb.write("stack.yaml", &stack_yaml(&[&h], "interrupted"));
    let cfg = cfg.to_str().unwrap().to_string();
    // Slow the web service's state probe, so the run is busy there when the signal comes.
    slow_image_probe(&h, 6);
    let child = sb.spawn_foundry(&["--config", &cfg, "stack", "install"]);
    wait_for_first_component(&sb);

    let second = sb.foundry(&["--config", &cfg, "stack", "install"]);
    assert_eq!(second.code, 8, "{second}");
    assert!(
        second.stderr.contains("another foundry run holds the lock"),
        "{second}"
    );

    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.pid() as i32, libc::SIGINT) }, 0);
    let r = sb.wait_foundry(child);
    assert_eq!(r.code, 130, "{r}");
    assert!(r.stderr.contains("interrupted"), "{r}");
    // The probe that was running finished; the steps after it were never started.
    assert!(
        !h.ssh("systemctl cat web.service").status.success(),
        "web.service was installed after Ctrl-C"
    );
    assert!(!h.ssh("test -e /srv/web/index.html").status.success());

    sb.foundry(&["--config", &cfg, "stack", "install"]).ok();
    assert_eq!(http_get(&h.ip, 8088), "interrupted\n");
}

/// `component install NAME --host HOST` runs the component's phases on that host only: the
/// other host is not even connected to (no line of the run log names it), and it has no unit
/// afterwards. An unknown `--host` is refused before anything runs.
#[test]
fn a_host_filter_touches_only_that_host() {
    let b = bed();
    let _ = b.busybox_image();
    let hosts: Vec<TestHost> = (0..2).map(|_| b.host("flt")).collect();
    let refs: Vec<&TestHost> = hosts.iter().collect();
    let sb = Sandbox::new();
    for h in &hosts {
        sb.trust(h);
    }
    let cfg = sb.write("stack.yaml", &stack_yaml(&refs, "only here"));
    let cfg = cfg.to_str().unwrap();
    let (other, target) = (&hosts[0], &hosts[1]);

    let r = sb.foundry(&[
        "--config",
        cfg,
        "component",
        "install",
        "service/web",
        "--host",
        &target.name,
    ]);
    r.ok();
    assert_eq!(http_get(&target.ip, 8088), "only here\n");
    assert!(!other
        .ssh("test -e /etc/systemd/system/web.service")
        .status
        .success());
    let log = std::fs::read_to_string(newest_log(&sb)).unwrap();
    let execs: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("\"kind\":\"exec\""))
        .collect();
    assert!(!execs.is_empty());
    let on = |h: &TestHost| format!("\"host\":\"{}\"", h.name);
    assert!(execs.iter().all(|l| l.contains(&on(target))), "{log}");
    assert!(
        !log.contains(&on(other)),
        "the other host was contacted:\n{log}"
    );
    assert!(!mutating_execs(&newest_log(&sb)).is_empty());

    // Again: nothing to do there.
    let r = sb.foundry(&[
        "--config",
        cfg,
        "component",
        "install",
        "service/web",
        "--host",
        &target.name,
    ]);
    r.ok();
    assert!(r.stdout.contains("No changes."), "{r}");
    assert!(mutating_execs(&newest_log(&sb)).is_empty());

    let r = sb.foundry(&[
        "--config",
        cfg,
        "component",
        "install",
        "service/web",
        "--host",
        "nosuch",
    ]);
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("--host nosuch: no such host"), "{r}");
}

/// Secrets on the host: a service env value and a file content that come from `${secret:…}`
/// references reach the container, but not the unit file, not `ps`, not the container's
/// config (`podman inspect`); the secret files are root-only 0600. A re-run changes nothing.
#[test]
fn secret_env_and_files_stay_off_the_unit_ps_and_container_config() {
    let b = bed();
    let _ = b.busybox_image();
    let h = b.host("sec");
    let sb = Sandbox::new();
    sb.trust(&h);
    let yaml = format!(
        "cluster: {{name: bedtest, domain: bed.test, vip: 10.214.0.250}}\n\
         network: {{cidr: 10.214.0.0/24}}\n\
         images: {{registry: \"{REGISTRY}\", insecure: true}}\n\
         hosts:\n  - {{hostname: {}, address: {}}}\n\
         components:\n\
         \x20 host_prep: {{enabled: false}}\n\
         \x20 services:\n\
         \x20   - name: web\n\
         \x20     image: library/busybox:stable\n\
         \x20     args: [httpd, -f, -p, \"8088\", -h, /www]\n\
         \x20     volumes: [\"/srv/web:/www:ro\"]\n\
         \x20     env: {{DB_PASSWORD: \"${{secret:app/db:password}}\", PLAIN: visible}}\n\
         \x20     files:\n\
         \x20       /srv/web/index.html: \"public\\n\"\n\
         \x20       /etc/app/db.conf: \"password=${{secret:app/db:password}}\\n\"\n",
        h.name, h.ip
    );
    let cfg = sb.write("stack.yaml", &yaml);
    let cfg = cfg.to_str().unwrap();
    let secret = "s3cr3t-on-host-9f2";
    let env = [("FOUNDRY_SECRET_FOUNDRY_CORE__APP__DB__PASSWORD", secret)];
    sb.foundry_env(&["--config", cfg, "stack", "install"], &env)
        .ok();

    assert_eq!(http_get(&h.ip, 8088), "public\n");
    let seen = h.ssh_ok("podman exec web sh -c 'echo \"$DB_PASSWORD/$PLAIN\"'");
    assert_eq!(
        seen.trim(),
        format!("{secret}/visible"),
        "the container gets it"
    );
    let unit = h.ssh_ok("cat /etc/systemd/system/web.service");
    assert!(!unit.contains(secret), "{unit}");
    assert!(unit.contains("PLAIN=visible"), "{unit}");
    let ps = h.ssh_ok("ps -eo args");
    assert!(!ps.contains(secret), "{ps}");
    // Not asserted: podman 4.3 (the bed's) lists `type=env` secrets in `podman inspect`'s
    // Config.Env, as any runtime must put an env value into the OCI config it hands to crun.
    // Both are root-only; the unit file (0644) and `ps` (everyone) are what must stay clean.
    let created = h.ssh_ok("podman inspect --format '{{json .Config.CreateCommand}}' web");
    assert!(
        !created.contains(secret),
        "the create command holds it: {created}"
    );
    assert_eq!(
        h.ssh_ok("stat -c '%a %U' /etc/app/db.conf /etc/foundry/secrets/web/DB_PASSWORD"),
        "600 root\n600 root\n"
    );
    assert_eq!(h.ssh_ok("stat -c '%a' /etc/foundry/secrets/web"), "700\n");

    let again = sb.foundry_env(&["--config", cfg, "stack", "install"], &env);
    again.ok();
    assert!(again.stdout.contains("No changes."), "{again}");
    assert!(mutating_execs(&newest_log(&sb)).is_empty());
    for l in sb.run_logs() {
        assert!(!std::fs::read_to_string(l).unwrap().contains(secret));
    }
}

/// After a failed component, the ones that do not depend on it run only after a yes: two user
/// services on a real host, the first one's image does not exist in the bed's registry.
/// Without a terminal `stack install` stops; on a terminal (a real pty, `script`) it asks once,
/// "n" stops, "y" goes on and installs the second.
#[test]
fn after_a_failure_the_independent_components_run_only_after_a_yes() {
    let h = bed().host("af");
    bed().busybox_image();
    let sb = Sandbox::new();
    sb.trust(&h);
    sb.write(
        ".foundry/stack.yaml",
        &format!(
            "cluster: {{name: aftest, domain: af.test, vip: 10.214.0.250}}\n\
             network: {{cidr: 10.214.0.0/24}}\n\
             images: {{registry: \"{REGISTRY}\", insecure: true}}\n\
             hosts:\n  - {{hostname: {}, address: {}, roles: [cluster-control-plane]}}\n\
             components:\n  services:\n\
             \x20   - {{name: broken, image: library/no-such-image:1, args: [sleep, \"1000\"]}}\n\
             \x20   - {{name: good, image: library/busybox:stable, args: [sleep, \"100000\"]}}\n",
            h.name, h.ip
        ),
    );
    let good_installed = || {
        h.ssh("test -e /etc/systemd/system/good.service")
            .status
            .success()
    };
    let question = "service/broken failed (and what needs it is not started). Go on with service/good, which do not depend on it? [y/N]";

    let no_tty = sb.foundry(&["stack", "install"]);
    assert_ne!(no_tty.code, 0, "{no_tty}");
    assert!(!no_tty.to_string().contains("Go on with"), "{no_tty}");
    assert!(
        !good_installed(),
        "without a terminal nothing after the failure runs"
    );

    let no = sb.foundry_on_terminal(&["stack", "install"], &[], "n\n");
    assert_ne!(no.code, 0, "{no}");
    assert_eq!(no.stdout.matches(question).count(), 1, "{no}");
    assert!(!good_installed(), "\"n\" stops: {no}");
    // the summary table fits a terminal that reports no size (script's pty): not one
    // character per column
    assert!(no.stdout.contains("COMPONENT"), "{no}");

    let yes = sb.foundry_on_terminal(&["stack", "install"], &[], "y\n");
    assert_ne!(yes.code, 0, "broken still failed: {yes}");
    assert_eq!(yes.stdout.matches(question).count(), 1, "{yes}");
    assert!(good_installed(), "\"y\" goes on: {yes}");
    assert_eq!(
        h.ssh_ok("systemctl is-active good.service").trim(),
        "active"
    );
}
