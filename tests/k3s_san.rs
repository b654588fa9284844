//! The API-certificate SAN check of the K3s VIP phase (`component::k3s::phases::san`) against
//! the MOCK Kubernetes API (tests/support/fake_kube): real TLS, a CA generated per fake, a
//! server certificate with exactly the SANs the test asks for.

#[path = "support/fake_kube/mod.rs"]
mod fake_kube;

use fake_kube::{FakeKube, Options};
use foundry::component::k3s::phases::san;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn every_tls_san_must_be_on_the_served_certificate() {
    let fake = FakeKube::start_with(Options {
        sans: vec!["kt.kt.test".into()],
        ..Options::default()
    });
    let ca = san::kubeconfig_ca(&fake.kubeconfig_yaml()).unwrap();
    assert_eq!(ca, fake.ca_pem().as_bytes());
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    rt().block_on(async {
        san::check(
            "127.0.0.1",
            fake.port(),
            &ca,
            &names(&["127.0.0.1", "kt.kt.test"]),
        )
        .await
        .unwrap();
        let e = san::check(
            "127.0.0.1",
            fake.port(),
            &ca,
            &names(&["kt.kt.test", "other.test", "10.9.9.9"]),
        )
        .await
        .unwrap_err();
        assert!(
            e.contains("other.test (") && e.contains("10.9.9.9 ("),
            "{e}"
        );
        assert!(!e.contains("kt.kt.test ("), "{e}");
        assert!(e.contains("dynamic-cert.json"), "names the fix: {e}");
        // Another cluster's CA: not even the right names help.
        let other = FakeKube::start();
        let e = san::check(
            "127.0.0.1",
            fake.port(),
            other.ca_pem().as_bytes(),
            &names(&["127.0.0.1"]),
        )
        .await
        .unwrap_err();
        assert!(e.contains("127.0.0.1 ("), "{e}");
    });
}
