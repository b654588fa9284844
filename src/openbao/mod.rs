//! TEMPORARY STUB of the OpenBao secret-store contract (replaced by the openbao branch).
#![allow(unused)]
use crate::config::StackConfig;
use crate::run::log::RunLogHandle;

pub struct SecretStore {}

impl SecretStore {
    pub async fn connect(
        stack: &StackConfig,
        instance: &str,
        log: RunLogHandle,
    ) -> anyhow::Result<SecretStore> {
        anyhow::bail!("OpenBao secret store not available in this build (stub)")
    }
    pub async fn get(&self, path: &str, key: &str) -> anyhow::Result<Option<String>> {
        unimplemented!()
    }
    pub async fn put(&self, path: &str, key: &str, value: &str) -> anyhow::Result<()> {
        unimplemented!()
    }
    pub async fn get_or_generate(
        &self,
        path: &str,
        key: &str,
        len: usize,
    ) -> anyhow::Result<(String, bool)> {
        unimplemented!()
    }
}
